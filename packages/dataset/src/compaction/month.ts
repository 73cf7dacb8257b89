import { type AlignedBar, SCHEMA_VERSION, PerpflowError } from '@perpflow/contracts';
import { sha256Hex } from '../hash.js';
import { compactedManifestKey, compactedObjectKey, seriesIdString } from '../layout/keys.js';
import { isWindowStart, windowEndOf } from '../layout/windows.js';
import {
  COMPACTED_MANIFEST_VERSION,
  type CompactedManifest,
  CompactedManifestSchema,
  highestRawThrough,
  type SeriesIndex,
  type WindowManifest,
} from '../manifest/schemas.js';
import { decodeParquetToBars } from '../parquet/decode.js';
import { ALIGNED_BAR_SCHEMA_HASH, compareBarsForFile, encodeBarsToParquetStream } from '../parquet/encode.js';
import { verifyObject } from '../pull/select.js';
import { DATASET_WRITER_VERSION } from '../version.js';
import { monthSourcesOf } from './plan.js';

/**
 * A day's manifest does not describe the object the index lists (the windower
 * rewrote the day between the reads). Retriable: read the index again.
 */
export class CompactionSourceChanged extends PerpflowError {
  readonly code = 'COMPACTION_SOURCE_CHANGED';
  readonly retriable = true;
}

/** The month cannot be compacted as asked (not a day series, no windows, rows outside their day). Not retriable. */
export class CompactionInputError extends PerpflowError {
  readonly code = 'COMPACTION_INPUT';
  readonly retriable = false;
}

/** One day window as read from S3: its manifest and the bytes of its object. */
export interface DayObject {
  manifest: WindowManifest;
  bytes: Uint8Array;
}

export interface MonthCompactionInput {
  prefix: string;
  /** The series index the month's sources come from (every entry of the month is merged). */
  index: SeriesIndex;
  monthStartMs: number;
  /** One day object per index entry of the month, by window start. */
  days: ReadonlyMap<number, DayObject>;
  /** The writer's clock, passed in. */
  writtenAtMs: number;
  writerVersion?: string;
  /** Rows per Parquet row group. Default 131,072 (a month of 1m bars, ≤ 44,640 rows, is one group). */
  rowGroupRows?: number;
}

export interface MonthCompaction {
  objectKey: string;
  body: Uint8Array;
  manifestKey: string;
  manifestBody: Uint8Array;
  manifest: CompactedManifest;
}

/**
 * Builds a compacted month (pure but for the Parquet encoder's own memory): each
 * day's manifest must name the sha256 the index lists, each object must match its
 * manifest (verifyObject), rows must belong to their day. Rows are concatenated in
 * ts order and written with the streaming encoder, in the day files' column layout
 * and metadata. Same days and writer → same bytes.
 */
export async function prepareMonthCompaction(input: MonthCompactionInput): Promise<MonthCompaction> {
  const { index, monthStartMs } = input;
  if (index.unit !== 'day')
    throw new CompactionInputError(`${seriesIdString(index.series)}: windows are ${index.unit}s, not days`);
  if (!isWindowStart(monthStartMs, 'month'))
    throw new CompactionInputError(`${monthStartMs} is not a UTC month start`);
  const monthEndMs = windowEndOf(monthStartMs, 'month');
  const sources = monthSourcesOf(index, monthStartMs);
  if (sources.length === 0)
    throw new CompactionInputError(`${seriesIdString(index.series)}: no window in month ${monthStartMs}`);
  const rows: AlignedBar[] = [];
  for (const src of sources) {
    const day = input.days.get(src.startMs);
    if (!day) throw new CompactionInputError(`day ${src.startMs} of the index was not read`);
    const ref = day.manifest.object;
    if (ref.sha256 !== src.sha256 || day.manifest.window.startMs !== src.startMs)
      throw new CompactionSourceChanged(
        `${ref.key}: manifest names sha256 ${ref.sha256}, the index ${src.sha256}`,
      );
    verifyObject(day.bytes, ref);
    const dayEnd = windowEndOf(src.startMs, 'day');
    const bars = decodeParquetToBars(day.bytes);
    if (bars.length !== src.rowCount)
      throw new CompactionSourceChanged(`${ref.key}: ${bars.length} rows, the index says ${src.rowCount}`);
    for (const b of bars) {
      if (
        b.exchange !== index.series.exchange ||
        b.symbol !== index.series.symbol ||
        b.timeframe !== index.series.timeframe ||
        b.eventTimeMs < src.startMs ||
        b.eventTimeMs >= dayEnd
      )
        throw new CompactionInputError(`${ref.key}: row at ${b.eventTimeMs} outside its day or series`);
      rows.push(b);
    }
  }
  rows.sort(compareBarsForFile);
  for (let i = 1; i < rows.length; i++)
    if (rows[i]!.eventTimeMs === rows[i - 1]!.eventTimeMs)
      throw new CompactionInputError(`two rows for ${rows[i]!.eventTimeMs} in month ${monthStartMs}`);
  const writer = input.writerVersion ?? DATASET_WRITER_VERSION;
  const stream = await encodeBarsToParquetStream(rows, {
    writerVersion: writer,
    rowGroupRows: input.rowGroupRows ?? 131_072,
  });
  const body = await collect(stream);
  const objectKey = compactedObjectKey(input.prefix, index.series, monthStartMs);
  const rawThrough = highestRawThrough(
    sources.map((src) => input.days.get(src.startMs)?.manifest.rawThrough),
  );
  const manifest = CompactedManifestSchema.parse({
    compactedManifestVersion: COMPACTED_MANIFEST_VERSION,
    schemaVersion: SCHEMA_VERSION,
    month: { ...index.series, startMs: monthStartMs, endMs: monthEndMs, sourceUnit: 'day' },
    object: { key: objectKey, sha256: sha256Hex(body), bytes: body.byteLength, rowCount: rows.length },
    minTsMs: rows[0]?.eventTimeMs ?? null,
    maxTsMs: rows[rows.length - 1]?.eventTimeMs ?? null,
    schemaHash: ALIGNED_BAR_SCHEMA_HASH,
    sources,
    writerVersion: writer,
    ...(rawThrough ? { rawThrough } : {}),
    writtenAtMs: input.writtenAtMs,
  } satisfies CompactedManifest);
  return {
    objectKey,
    body,
    manifestKey: compactedManifestKey(input.prefix, index.series, monthStartMs),
    manifestBody: new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`),
    manifest,
  };
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(c);
    n += c.byteLength;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Parses a compacted manifest's bytes (throws a ZodError naming the field). */
export function parseCompactedManifest(bytes: Uint8Array | string): CompactedManifest {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  return CompactedManifestSchema.parse(JSON.parse(text));
}
