import {
  type AlignedBar,
  EXCHANGES,
  MAX_EPOCH_MS,
  MAX_RAW_POSITIONS,
  MIN_EPOCH_MS,
  type RawPosition,
  SCHEMA_VERSION,
  SymbolSchema,
  TIMEFRAMES,
} from '@perpflow/contracts';
import { z } from 'zod';

export const MANIFEST_VERSION = 1 as const;
export const INDEX_VERSION = 1 as const;

const epochMs = z.number().int().min(MIN_EPOCH_MS).max(MAX_EPOCH_MS);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be lower-case hex sha256');
const kafkaOffset = z.string().regex(/^(0|[1-9][0-9]*)$/, 'must be a decimal Kafka offset');
const count = z.number().int().min(0);

export const WindowUnitSchema = z.enum(['day', 'month', 'year']);

export const SeriesIdSchema = z.object({
  exchange: z.enum(EXCHANGES),
  symbol: SymbolSchema,
  timeframe: z.enum(TIMEFRAMES),
});

export const WindowRefSchema = SeriesIdSchema.extend({
  unit: WindowUnitSchema,
  startMs: epochMs,
  /** Exclusive. */
  endMs: epochMs,
});

/** One Parquet object as written: its key, bytes and row count. */
export const ObjectRefSchema = z.object({
  key: z.string().min(1).max(1024),
  sha256,
  bytes: count,
  rowCount: count,
});
export type ObjectRef = z.infer<typeof ObjectRefSchema>;

/**
 * Kafka offsets [firstOffset, lastOffset] (inclusive, decimal strings) of one
 * topic-partition whose records fed this window, over all writes of it. A span,
 * not a set: other windows' records lie between them.
 */
export const OffsetRangeSchema = z
  .object({
    topic: z.string().min(1).max(249),
    partition: z.number().int().min(0),
    firstOffset: kafkaOffset,
    lastOffset: kafkaOffset,
  })
  .refine((r) => BigInt(r.firstOffset) <= BigInt(r.lastOffset), {
    message: 'firstOffset must be ≤ lastOffset',
    path: ['lastOffset'],
  });
export type OffsetRange = z.infer<typeof OffsetRangeSchema>;

/** A raw topic-partition and the offset (exclusive) below which a window's inputs lie. */
export const RawPositionSchema = z.object({
  topic: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name'),
  partition: z.number().int().min(0),
  offset: kafkaOffset,
});

/**
 * The highest position per raw topic-partition over several windows' rawThrough, sorted
 * by topic and partition; undefined when one of them names none (its inputs are unknown).
 */
export function highestRawThrough(
  lists: readonly (readonly RawPosition[] | undefined)[],
): RawPosition[] | undefined {
  const top = new Map<string, RawPosition>();
  for (const list of lists) {
    if (!list) return undefined;
    for (const p of list) {
      const k = `${p.topic}:${p.partition}`;
      const known = top.get(k);
      if (!known || BigInt(p.offset) > BigInt(known.offset)) top.set(k, { ...p });
    }
  }
  return [...top.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Counts over the object's rows (last revisions). */
export const QualityCountsSchema = z.object({
  /** candle_filled: no candle, the bar was carried forward. */
  filled: count,
  openInterestStale: count,
  fundingStale: count,
  /** open_interest is null. */
  openInterestMissing: count,
  /** revision > 0: re-emitted after late data. */
  revised: count,
});
export type QualityCounts = z.infer<typeof QualityCountsSchema>;

/**
 * Written beside each window's object, after the object(s) it describes. A reader
 * trusts an object only when its sha256 equals the manifest's.
 */
export const WindowManifestSchema = z
  .object({
    manifestVersion: z.literal(MANIFEST_VERSION),
    /** AlignedBar contract version of the rows. */
    schemaVersion: z.literal(SCHEMA_VERSION),
    window: WindowRefSchema,
    /** Last revision of every bar of the window (`aligned/v1/...`). */
    object: ObjectRefSchema,
    /** Superseded revisions (`aligned_revisions/v1/...`), null when there are none. */
    revisions: ObjectRefSchema.nullable(),
    /** Event time (bar open) of the first and last row; null only for an empty object. */
    minTsMs: epochMs.nullable(),
    maxTsMs: epochMs.nullable(),
    /** Latest known_at among all rows of both objects: as-of reads at or after it see the whole window. */
    maxKnownAtMs: epochMs.nullable(),
    /** schemaHashOf the Parquet files' column layout. */
    schemaHash: sha256,
    kafkaOffsets: z.array(OffsetRangeSchema),
    /** The windower's event-time watermark when this version was written. */
    watermarkMs: epochMs.nullable(),
    /** Closed: the watermark passed end + lateness; no more writes expected (a late bar reopens it). */
    closed: z.boolean(),
    quality: QualityCountsSchema,
    writerVersion: z.string().min(1).max(200),
    /**
     * The dataset version of the rows (the aligner's perpflow-dataset-version header; one per
     * tree). Null or absent: bars written before versions existed, or by a producer without one.
     */
    datasetVersion: z
      .string()
      .regex(/^dv-[0-9a-f]{16}$/, 'must be dv- and 16 lower-case hex digits')
      .nullable()
      .optional(),
    /**
     * The raw archive objects a reprocessed window was rebuilt from (key and sha256 of each
     * object holding a record of the series in the window's span, lead-in and tail). Absent
     * on windows the live windower wrote: their inputs are the raw topics' offsets
     * (`perpflow lineage`).
     */
    rawInputs: z
      .array(z.object({ key: z.string().min(1).max(1024), sha256 }))
      .max(100_000)
      .optional(),
    /**
     * On windows the live windower wrote from bars carrying perpflow-raw-through: per raw
     * topic-partition, the offset below which lie all raw records that decided the
     * window's rows (the highest of its bars' positions). Replaying the raw topics (or the
     * raw archive) below these offsets with the version's rules rebuilds the rows.
     * Absent when a row came without positions (bars of an older aligner).
     */
    rawThrough: z.array(RawPositionSchema).max(MAX_RAW_POSITIONS).optional(),
    /** Passed in by the writer (never read from a clock here). */
    writtenAtMs: epochMs,
  })
  .superRefine((m, ctx) => {
    if (m.window.endMs <= m.window.startMs)
      ctx.addIssue({ code: 'custom', path: ['window', 'endMs'], message: 'must be > startMs' });
    const empty = m.object.rowCount === 0;
    if (empty !== (m.minTsMs === null) || empty !== (m.maxTsMs === null))
      ctx.addIssue({
        code: 'custom',
        path: ['minTsMs'],
        message: 'null exactly when the object has no rows',
      });
    if (m.minTsMs !== null && m.maxTsMs !== null) {
      if (m.minTsMs > m.maxTsMs)
        ctx.addIssue({ code: 'custom', path: ['maxTsMs'], message: 'must be ≥ minTsMs' });
      if (m.minTsMs < m.window.startMs || m.maxTsMs >= m.window.endMs)
        ctx.addIssue({ code: 'custom', path: ['minTsMs'], message: 'rows must lie inside the window' });
    }
    for (const [k, v] of Object.entries(m.quality))
      if (v > m.object.rowCount)
        ctx.addIssue({ code: 'custom', path: ['quality', k], message: 'must be ≤ object.rowCount' });
  });
export type WindowManifest = z.infer<typeof WindowManifestSchema>;

/** One window in a series index: enough to plan a pull without reading manifests. */
export const IndexEntrySchema = z.object({
  startMs: epochMs,
  endMs: epochMs,
  manifestKey: z.string().min(1).max(1024),
  objectKey: z.string().min(1).max(1024),
  rowCount: count,
  minTsMs: epochMs.nullable(),
  maxTsMs: epochMs.nullable(),
  /** sha256 of the object as of that manifest (the manifest stays the authority). */
  sha256,
  hasRevisions: z.boolean(),
  closed: z.boolean(),
  writtenAtMs: epochMs,
});
export type IndexEntry = z.infer<typeof IndexEntrySchema>;

/**
 * `_index.json` of one (timeframe, exchange, symbol): every window written, sorted
 * by start, one entry per start. A cache of the manifests: rebuildable by listing them.
 */
export const SeriesIndexSchema = z
  .object({
    indexVersion: z.literal(INDEX_VERSION),
    series: SeriesIdSchema,
    unit: WindowUnitSchema,
    windows: z.array(IndexEntrySchema),
    /** The greatest writtenAtMs among entries (not a clock read). */
    updatedAtMs: epochMs.nullable(),
  })
  .superRefine((ix, ctx) => {
    for (let i = 1; i < ix.windows.length; i++)
      if (ix.windows[i]!.startMs <= ix.windows[i - 1]!.startMs)
        ctx.addIssue({ code: 'custom', path: ['windows', i], message: 'windows must be sorted and unique' });
  });
export type SeriesIndex = z.infer<typeof SeriesIndexSchema>;

export function qualityCountsOf(rows: readonly AlignedBar[]): QualityCounts {
  const q: QualityCounts = {
    filled: 0,
    openInterestStale: 0,
    fundingStale: 0,
    openInterestMissing: 0,
    revised: 0,
  };
  for (const r of rows) {
    if (r.candleFilled) q.filled++;
    if (r.openInterestStale) q.openInterestStale++;
    if (r.fundingStale) q.fundingStale++;
    if (r.openInterest === null) q.openInterestMissing++;
    if (r.revision > 0) q.revised++;
  }
  return q;
}

export const COMPACTED_MANIFEST_VERSION = 1 as const;

/** One day window a compacted month was built from: the index entry's identity at that time. */
export const CompactionSourceSchema = z.object({
  startMs: epochMs,
  /** sha256 of the day object the rows were read from (equal to its manifest's and index entry's). */
  sha256,
  rowCount: count,
});
export type CompactionSource = z.infer<typeof CompactionSourceSchema>;

/**
 * Written beside a compacted month's object, after it. A reader uses the object only
 * when its sha256 equals `object.sha256` and `sources` equal the series index's
 * entries of that month exactly (startMs and sha256); otherwise it reads the days.
 */
export const CompactedManifestSchema = z
  .object({
    compactedManifestVersion: z.literal(COMPACTED_MANIFEST_VERSION),
    /** AlignedBar contract version of the rows. */
    schemaVersion: z.literal(SCHEMA_VERSION),
    /** The month: [startMs, endMs) in UTC; `sourceUnit` is the unit of the windows merged. */
    month: SeriesIdSchema.extend({
      startMs: epochMs,
      endMs: epochMs,
      sourceUnit: z.literal('day'),
    }),
    object: ObjectRefSchema,
    minTsMs: epochMs.nullable(),
    maxTsMs: epochMs.nullable(),
    /** schemaHashOf the Parquet file's column layout (the day files' too). */
    schemaHash: sha256,
    /** Every day window of the month in the index when it was built, sorted by start. */
    sources: z.array(CompactionSourceSchema).min(1),
    writerVersion: z.string().min(1).max(200),
    /**
     * The raw archive objects a reprocessed window was rebuilt from (key and sha256 of each
     * object holding a record of the series in the window's span, lead-in and tail). Absent
     * on windows the live windower wrote: their inputs are the raw topics' offsets
     * (`perpflow lineage`).
     */
    rawInputs: z
      .array(z.object({ key: z.string().min(1).max(1024), sha256 }))
      .max(100_000)
      .optional(),
    /**
     * The highest raw positions of the month's day windows (their manifests' rawThrough):
     * all raw records that decided its rows lie below them. Absent when a day names none.
     */
    rawThrough: z.array(RawPositionSchema).max(MAX_RAW_POSITIONS).optional(),
    /** Passed in by the writer (never read from a clock here). */
    writtenAtMs: epochMs,
  })
  .superRefine((m, ctx) => {
    if (m.month.endMs <= m.month.startMs)
      ctx.addIssue({ code: 'custom', path: ['month', 'endMs'], message: 'must be > startMs' });
    let rows = 0;
    for (const [i, s] of m.sources.entries()) {
      rows += s.rowCount;
      if (s.startMs < m.month.startMs || s.startMs >= m.month.endMs)
        ctx.addIssue({ code: 'custom', path: ['sources', i], message: 'must start inside the month' });
      if (i > 0 && s.startMs <= m.sources[i - 1]!.startMs)
        ctx.addIssue({ code: 'custom', path: ['sources', i], message: 'sources must be sorted and unique' });
    }
    if (rows !== m.object.rowCount)
      ctx.addIssue({
        code: 'custom',
        path: ['object', 'rowCount'],
        message: `must equal the sources' rows (${rows})`,
      });
    const empty = m.object.rowCount === 0;
    if (empty !== (m.minTsMs === null) || empty !== (m.maxTsMs === null))
      ctx.addIssue({
        code: 'custom',
        path: ['minTsMs'],
        message: 'null exactly when the object has no rows',
      });
    if (
      m.minTsMs !== null &&
      m.maxTsMs !== null &&
      (m.minTsMs < m.month.startMs || m.maxTsMs >= m.month.endMs)
    )
      ctx.addIssue({ code: 'custom', path: ['minTsMs'], message: 'rows must lie inside the month' });
  });
export type CompactedManifest = z.infer<typeof CompactedManifestSchema>;
