import {
  archiveManifestKey,
  archiveObjectKey,
  type DayPartition,
  dayIndexKey,
  ledgerKey,
  rowPartition,
  rowTimeMs,
} from './layout.js';
import { type ArchiveManifest, type LedgerEntry, serializeDocument, sha256Hex } from './manifest.js';
import { ARCHIVE_WRITER_VERSION, encodeArchiveParquet } from './parquet.js';
import type { ArchiveFeed, ArchiveRow } from './record.js';

export interface PlannedObject {
  key: string;
  body: Uint8Array;
  manifestKey: string;
  manifest: ArchiveManifest;
  indexKey: string;
  day: DayPartition;
}

/** Everything one flush puts, in order: ledger entry, then per object: object, manifest, index. */
export interface FlushPlan {
  ledgerKey: string;
  ledger: LedgerEntry;
  ledgerBody: Uint8Array;
  objects: PlannedObject[];
}

/**
 * One flush of a topic-partition: the rows (consecutive records of the partition, in
 * offset order) split by (exchange, day), one Parquet object each. Every key is a
 * function of the rows (feed, exchange, day, topic, partition, first offset of the
 * object), and the bytes are deterministic: the same rows plan the same puts.
 */
export function planFlush(prefix: string, feed: ArchiveFeed, rows: readonly ArchiveRow[]): FlushPlan {
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (!first || !last) throw new RangeError('a flush needs at least one row');
  const groups = new Map<string, { day: DayPartition; rows: ArchiveRow[] }>();
  let prev: bigint | null = null;
  for (const r of rows) {
    if (r.topic !== first.topic || r.partition !== first.partition)
      throw new RangeError(
        `a flush holds one topic-partition: ${r.topic}/${r.partition} ≠ ${first.topic}/${first.partition}`,
      );
    const o = BigInt(r.offset);
    if (prev !== null && o <= prev)
      throw new RangeError(`rows must be in increasing offset order (${r.offset} after ${prev})`);
    prev = o;
    const { exchange, date } = rowPartition(r);
    const id = `${exchange}/${date}`;
    const g = groups.get(id);
    if (g) g.rows.push(r);
    else groups.set(id, { day: { feed, exchange, date }, rows: [r] });
  }
  const lKey = ledgerKey(prefix, first.topic, first.partition, first.offset);
  const objects: PlannedObject[] = [];
  for (const { day, rows: groupRows } of groups.values()) {
    const head = groupRows[0]!;
    const tail = groupRows[groupRows.length - 1]!;
    const id = { ...day, topic: head.topic, partition: head.partition, firstOffset: head.offset };
    const key = archiveObjectKey(prefix, id);
    const body = encodeArchiveParquet(groupRows);
    let minTimeMs = Number.POSITIVE_INFINITY;
    let maxTimeMs = Number.NEGATIVE_INFINITY;
    for (const r of groupRows) {
      const t = rowTimeMs(r);
      if (t < minTimeMs) minTimeMs = t;
      if (t > maxTimeMs) maxTimeMs = t;
    }
    const manifest: ArchiveManifest = {
      manifestVersion: 1,
      kind: 'raw_archive_object',
      feed,
      exchange: day.exchange,
      date: day.date,
      topic: head.topic,
      partition: head.partition,
      object: { key, sha256: sha256Hex(body), bytes: body.byteLength, rowCount: groupRows.length },
      firstOffset: head.offset,
      lastOffset: tail.offset,
      ledgerKey: lKey,
      minTimeMs,
      maxTimeMs,
      writer: ARCHIVE_WRITER_VERSION,
    };
    objects.push({
      key,
      body,
      manifestKey: archiveManifestKey(prefix, id),
      manifest,
      indexKey: dayIndexKey(prefix, day),
      day,
    });
  }
  const ledger: LedgerEntry = {
    ledgerVersion: 1,
    topic: first.topic,
    partition: first.partition,
    feed,
    firstOffset: first.offset,
    lastOffset: last.offset,
    rowCount: rows.length,
    objects: objects.map((o) => ({
      key: o.key,
      manifestKey: o.manifestKey,
      sha256: o.manifest.object.sha256,
      rowCount: o.manifest.object.rowCount,
    })),
  };
  return { ledgerKey: lKey, ledger, ledgerBody: serializeDocument(ledger), objects };
}
