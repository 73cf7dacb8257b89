import { type AlignedBar, PerpflowError, type RawPosition, SCHEMA_VERSION } from '@perpflow/contracts';
import { sha256Hex } from '../hash.js';
import { manifestKey, objectKey, revisionsKey, type WindowId, windowEndMs } from '../layout/keys.js';
import { ALIGNED_BAR_SCHEMA_HASH, compareBarsForFile, encodeBarsToParquet } from '../parquet/encode.js';
import { DATASET_WRITER_VERSION } from '../version.js';
import {
  MANIFEST_VERSION,
  type ObjectRef,
  type OffsetRange,
  qualityCountsOf,
  type WindowManifest,
  WindowManifestSchema,
} from './schemas.js';

export interface WindowWriteInput {
  prefix: string;
  window: WindowId;
  /** One row per bar time: its last revision. */
  latest: readonly AlignedBar[];
  /** Older revisions of the window's bars (as-of reads); may be empty. */
  superseded: readonly AlignedBar[];
  kafkaOffsets: readonly OffsetRange[];
  watermarkMs: number | null;
  closed: boolean;
  /** The writer's clock, passed in. */
  writtenAtMs: number;
  writerVersion?: string;
  /** The rows' dataset version (null: unversioned bars). */
  datasetVersion?: string | null;
  /** Raw archive objects the rows were rebuilt from (reprocessing only; sorted by key here). */
  rawInputs?: readonly { key: string; sha256: string }[];
  /** Raw positions the rows were decided below (live windows; null or absent: unknown). */
  rawThrough?: readonly RawPosition[] | null;
}

export interface ObjectPut {
  key: string;
  body: Uint8Array;
  contentType: 'application/vnd.apache.parquet' | 'application/json';
  /** Hex sha256 of body (for a Content-MD5-like integrity check or x-amz-checksum-sha256). */
  sha256: string;
}

export interface WindowWrite {
  /** Put in this order; the manifest last. Each key is a pure function of the window. */
  puts: ObjectPut[];
  manifest: WindowManifest;
  manifestKey: string;
}

/** Rows that do not belong to the window they are written in. Not retriable: a bug upstream. */
export class WindowContentError extends PerpflowError {
  readonly code = 'WINDOW_CONTENT';
  readonly retriable = false;
}

/**
 * Rows must be sorted by compareBarsForFile: duplicates are then neighbours, found
 * without building a key per row (a Set of string keys was 10 % of a window write).
 */
function checkRows(w: WindowId, sorted: readonly AlignedBar[], uniqueTs: boolean): void {
  const end = windowEndMs(w);
  let prev: AlignedBar | undefined;
  for (const r of sorted) {
    if (r.exchange !== w.exchange || r.symbol !== w.symbol || r.timeframe !== w.timeframe)
      throw new WindowContentError(
        `row of ${r.exchange} ${r.symbol} ${r.timeframe} in another series' window`,
      );
    if (r.eventTimeMs < w.startMs || r.eventTimeMs >= end)
      throw new WindowContentError(`row at ${r.eventTimeMs} outside window [${w.startMs}, ${end})`);
    if (prev?.eventTimeMs === r.eventTimeMs && (uniqueTs || prev.revision === r.revision)) {
      const id = uniqueTs ? `${r.eventTimeMs}` : `${r.eventTimeMs}|${r.revision}`;
      throw new WindowContentError(`two rows for ${id} in window ${w.startMs}`);
    }
    prev = r;
  }
}

/**
 * The objects and manifest of one window write, pure: Parquet bytes, sha256, counts.
 * Same input → same bytes and the same manifest (Parquet encoding is deterministic).
 */
export function prepareWindowWrite(input: WindowWriteInput): WindowWrite {
  const w = input.window;
  const latest = [...input.latest].sort(compareBarsForFile);
  const superseded = [...input.superseded].sort(compareBarsForFile);
  checkRows(w, latest, true);
  checkRows(w, superseded, false);
  const writer = input.writerVersion ?? DATASET_WRITER_VERSION;
  const puts: ObjectPut[] = [];
  const put = (key: string, rows: AlignedBar[]): ObjectRef => {
    const body = encodeBarsToParquet(rows, { writerVersion: writer });
    const sha256 = sha256Hex(body);
    puts.push({ key, body, contentType: 'application/vnd.apache.parquet', sha256 });
    return { key, sha256, bytes: body.byteLength, rowCount: rows.length };
  };
  const object = put(objectKey(input.prefix, w), latest);
  const revisions = superseded.length > 0 ? put(revisionsKey(input.prefix, w), superseded) : null;
  let maxKnownAtMs: number | null = null;
  for (const r of latest) maxKnownAtMs = Math.max(maxKnownAtMs ?? r.knownAtMs, r.knownAtMs);
  for (const r of superseded) maxKnownAtMs = Math.max(maxKnownAtMs ?? r.knownAtMs, r.knownAtMs);
  const manifest = WindowManifestSchema.parse({
    manifestVersion: MANIFEST_VERSION,
    schemaVersion: SCHEMA_VERSION,
    window: {
      exchange: w.exchange,
      symbol: w.symbol,
      timeframe: w.timeframe,
      unit: w.unit,
      startMs: w.startMs,
      endMs: windowEndMs(w),
    },
    object,
    revisions,
    minTsMs: latest[0]?.eventTimeMs ?? null,
    maxTsMs: latest[latest.length - 1]?.eventTimeMs ?? null,
    maxKnownAtMs,
    schemaHash: ALIGNED_BAR_SCHEMA_HASH,
    kafkaOffsets: [...input.kafkaOffsets].sort(
      (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
    ),
    watermarkMs: input.watermarkMs,
    closed: input.closed,
    quality: qualityCountsOf(latest),
    writerVersion: writer,
    datasetVersion: input.datasetVersion ?? null,
    ...(input.rawInputs
      ? { rawInputs: [...input.rawInputs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) }
      : {}),
    ...(input.rawThrough
      ? {
          rawThrough: [...input.rawThrough].sort(
            (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
          ),
        }
      : {}),
    writtenAtMs: input.writtenAtMs,
  } satisfies WindowManifest);
  const mKey = manifestKey(input.prefix, w);
  const body = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
  puts.push({ key: mKey, body, contentType: 'application/json', sha256: sha256Hex(body) });
  return { puts, manifest, manifestKey: mKey };
}

/** Parses a manifest's bytes (throws a ZodError naming the field). */
export function parseWindowManifest(bytes: Uint8Array | string): WindowManifest {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  return WindowManifestSchema.parse(JSON.parse(text));
}

/**
 * Union of offset spans per topic-partition: a window rewritten after a restart keeps
 * the spans of its stored manifest and adds those read since.
 */
export function mergeOffsetSpans(a: readonly OffsetRange[], b: readonly OffsetRange[]): OffsetRange[] {
  const out = new Map<string, OffsetRange>();
  for (const r of [...a, ...b]) {
    const k = `${r.topic}\u0000${r.partition}`;
    const cur = out.get(k);
    if (!cur) out.set(k, { ...r });
    else {
      if (BigInt(r.firstOffset) < BigInt(cur.firstOffset)) cur.firstOffset = r.firstOffset;
      if (BigInt(r.lastOffset) > BigInt(cur.lastOffset)) cur.lastOffset = r.lastOffset;
    }
  }
  return [...out.values()].sort((x, y) => x.topic.localeCompare(y.topic) || x.partition - y.partition);
}
