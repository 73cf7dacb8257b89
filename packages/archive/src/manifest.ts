import { PerpflowError } from '@perpflow/contracts';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ARCHIVE_FEEDS } from './record.js';

export const sha256Hex = (data: Uint8Array | string): string =>
  createHash('sha256').update(data).digest('hex');

const offset = z.string().regex(/^\d{1,20}$/, 'a Kafka offset (decimal)');
const feed = z.enum(ARCHIVE_FEEDS);

/** Beside each object: what it holds and how to check it. */
export const ArchiveManifestSchema = z.object({
  manifestVersion: z.literal(1),
  kind: z.literal('raw_archive_object'),
  feed,
  exchange: z.string(),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  topic: z.string(),
  partition: z.number().int().min(0),
  object: z.object({
    key: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().min(0),
    rowCount: z.number().int().min(1),
  }),
  /** First and last Kafka offset in the object (the object holds only this partition's rows of its exchange and day). */
  firstOffset: offset,
  lastOffset: offset,
  /** The flush (ledger entry) this object belongs to: its offset range covers every row. */
  ledgerKey: z.string(),
  /** rowTimeMs range of the rows (event time; else receive time; else Kafka time), integer ms UTC. */
  minTimeMs: z.number().int(),
  maxTimeMs: z.number().int(),
  writer: z.string(),
});
export type ArchiveManifest = z.infer<typeof ArchiveManifestSchema>;

/**
 * Written before the objects of a flush: the offset range [firstOffset, lastOffset]
 * of one topic-partition that the flush archives and the objects it produces. A
 * restarted archiver that starts consuming at `firstOffset` finds it and flushes the
 * same range again, so the objects come out with the same keys and bytes.
 */
export const LedgerEntrySchema = z.object({
  ledgerVersion: z.literal(1),
  topic: z.string(),
  partition: z.number().int().min(0),
  feed,
  firstOffset: offset,
  lastOffset: offset,
  rowCount: z.number().int().min(1),
  objects: z.array(
    z.object({ key: z.string(), manifestKey: z.string(), sha256: z.string(), rowCount: z.number() }),
  ),
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

/** One (feed, exchange, day): every object of it, so a reader needs no listing. */
export const DayIndexSchema = z.object({
  indexVersion: z.literal(1),
  feed,
  exchange: z.string(),
  date: z.string(),
  objects: z.array(
    z.object({
      key: z.string(),
      manifestKey: z.string(),
      topic: z.string(),
      partition: z.number().int().min(0),
      firstOffset: offset,
      lastOffset: offset,
      rowCount: z.number().int().min(1),
      sha256: z.string(),
      bytes: z.number().int().min(0),
    }),
  ),
});
export type DayIndex = z.infer<typeof DayIndexSchema>;

export class ArchiveDocumentInvalid extends PerpflowError {
  readonly code = 'ARCHIVE_DOCUMENT_INVALID';
  readonly retriable = false;
}

function parseWith<T>(schema: z.ZodType<T>, what: string, raw: Uint8Array | string): T {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
  } catch (err) {
    throw new ArchiveDocumentInvalid(`${what} is not JSON: ${(err as Error).message}`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ArchiveDocumentInvalid(
      `${what} invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return r.data;
}

export const parseArchiveManifest = (raw: Uint8Array | string) =>
  parseWith(ArchiveManifestSchema, 'archive manifest', raw);
export const parseLedgerEntry = (raw: Uint8Array | string) =>
  parseWith(LedgerEntrySchema, 'ledger entry', raw);
export const parseDayIndex = (raw: Uint8Array | string) => parseWith(DayIndexSchema, 'day index', raw);

/** Stable JSON (documents are built with a fixed key order) as bytes. */
export const serializeDocument = (doc: ArchiveManifest | LedgerEntry | DayIndex): Uint8Array =>
  new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`);

/**
 * The index with `manifest`'s object added or replaced (same key: a rewrite after a
 * crash), objects sorted by (topic, partition, first offset). Idempotent.
 */
export function upsertDayIndex(
  index: DayIndex | null,
  manifest: ArchiveManifest,
  manifestKey: string,
): DayIndex {
  const entry: DayIndex['objects'][number] = {
    key: manifest.object.key,
    manifestKey,
    topic: manifest.topic,
    partition: manifest.partition,
    firstOffset: manifest.firstOffset,
    lastOffset: manifest.lastOffset,
    rowCount: manifest.object.rowCount,
    sha256: manifest.object.sha256,
    bytes: manifest.object.bytes,
  };
  const others = (index?.objects ?? []).filter((o) => o.key !== entry.key);
  const objects = [...others, entry].sort(
    (a, b) =>
      a.topic.localeCompare(b.topic) ||
      a.partition - b.partition ||
      (BigInt(a.firstOffset) < BigInt(b.firstOffset)
        ? -1
        : BigInt(a.firstOffset) > BigInt(b.firstOffset)
          ? 1
          : 0),
  );
  return {
    indexVersion: 1,
    feed: manifest.feed,
    exchange: manifest.exchange,
    date: manifest.date,
    objects,
  };
}
