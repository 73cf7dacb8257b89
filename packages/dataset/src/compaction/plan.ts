import { sha256Hex } from '../hash.js';
import { type SeriesId, seriesIdString, utcMonth } from '../layout/keys.js';
import { windowEndOf, windowStartOf } from '../layout/windows.js';
import type { CompactedManifest, CompactionSource, IndexEntry, SeriesIndex } from '../manifest/schemas.js';

/** One month of one series, as the index lists it now. */
export interface MonthSources {
  series: SeriesId;
  monthStartMs: number;
  /** Exclusive. */
  monthEndMs: number;
  /** `YYYY-MM`. */
  month: string;
  /** The index entries of the month, sorted by start. */
  sources: CompactionSource[];
  /** sourcesHashOf(sources): names this exact set of day objects (job ids, logs). */
  sourcesHash: string;
}

/**
 * Where a month stands:
 * - `open`: the month is not over (no window of the series starts at or after its end);
 * - `not-closed`: over, but some window of it is not closed (a late bar may still come);
 * - `new`: compactable and never compacted;
 * - `stale`: compacted, but its sources differ from the index (a day was rewritten);
 * - `up-to-date`: compacted from exactly the days the index lists.
 */
export type MonthStatus = 'open' | 'not-closed' | 'new' | 'stale' | 'up-to-date';

export interface MonthPlan extends MonthSources {
  status: MonthStatus;
  /** Over, every window closed, unit `day`: may be (re)compacted now. */
  compactable: boolean;
}

export interface CompactionPlan {
  series: SeriesId;
  /** Months to (re)compact now: status `new` or (`stale` and compactable), oldest first. */
  toCompact: MonthPlan[];
  /** Every compacted month whose sources differ from the index, compactable or not. */
  stale: MonthPlan[];
  /** Every month the index touches, with its status. */
  months: MonthPlan[];
}

/** The index entries of the month that starts at monthStartMs, as compaction sources. */
export function monthSourcesOf(index: SeriesIndex, monthStartMs: number): CompactionSource[] {
  const end = windowEndOf(monthStartMs, 'month');
  return entriesOfMonth(index, monthStartMs, end).map((e) => ({
    startMs: e.startMs,
    sha256: e.sha256,
    rowCount: e.rowCount,
  }));
}

function entriesOfMonth(index: SeriesIndex, startMs: number, endMs: number): IndexEntry[] {
  return index.windows.filter((e) => e.startMs >= startMs && e.startMs < endMs);
}

/** A stable hash of a set of sources: their (startMs, sha256) in start order. */
export function sourcesHashOf(sources: readonly CompactionSource[]): string {
  return sha256Hex(
    [...sources]
      .sort((a, b) => a.startMs - b.startMs)
      .map((s) => `${s.startMs}:${s.sha256}`)
      .join('\n'),
  );
}

/** Same day objects: equal (startMs, sha256) pairs, nothing more, nothing less. */
export function sameSources(a: readonly CompactionSource[], b: readonly CompactionSource[]): boolean {
  return a.length === b.length && sourcesHashOf(a) === sourcesHashOf(b);
}

function sameSeries(a: SeriesId, b: SeriesId): boolean {
  return seriesIdString(a) === seriesIdString(b);
}

/**
 * The status of one month of a day-window series (pure). `compacted` is the month's
 * compacted manifest, or null when there is none.
 */
export function monthPlanOf(
  index: SeriesIndex,
  monthStartMs: number,
  compacted: CompactedManifest | null,
): MonthPlan {
  const monthEndMs = windowEndOf(monthStartMs, 'month');
  const entries = entriesOfMonth(index, monthStartMs, monthEndMs);
  const sources = entries.map((e) => ({ startMs: e.startMs, sha256: e.sha256, rowCount: e.rowCount }));
  const base: MonthSources = {
    series: index.series,
    monthStartMs,
    monthEndMs,
    month: utcMonth(monthStartMs),
    sources,
    sourcesHash: sourcesHashOf(sources),
  };
  const current =
    compacted !== null &&
    sameSeries(compacted.month, index.series) &&
    compacted.month.startMs === monthStartMs &&
    sameSources(compacted.sources, sources);
  const over = index.windows.some((e) => e.startMs >= monthEndMs);
  const compactable = index.unit === 'day' && over && entries.length > 0 && entries.every((e) => e.closed);
  let status: MonthStatus;
  if (current) status = 'up-to-date';
  else if (compacted !== null) status = 'stale';
  else if (!over) status = 'open';
  else if (!compactable) status = 'not-closed';
  else status = 'new';
  return { ...base, status, compactable };
}

/**
 * Which months of a series to compact: a month is compactable when the series' window
 * unit is `day`, the month is over (some window of the index starts at or after its
 * end) and every window of the month in the index is closed. It is compacted when it
 * has no compacted manifest, or one whose sources differ from the index entries'
 * (startMs, sha256) of that month. `compacted`: the compacted manifests that exist,
 * by month start. Pure: no clock, no I/O.
 */
export function planCompaction(
  index: SeriesIndex,
  compacted: ReadonlyMap<number, CompactedManifest>,
): CompactionPlan {
  const starts = new Set<number>();
  if (index.unit === 'day') for (const e of index.windows) starts.add(windowStartOf(e.startMs, 'month'));
  for (const m of compacted.keys()) starts.add(m);
  const months = [...starts]
    .sort((a, b) => a - b)
    .map((m) => monthPlanOf(index, m, compacted.get(m) ?? null));
  return {
    series: index.series,
    months,
    stale: months.filter((p) => p.status === 'stale'),
    toCompact: months.filter((p) => p.status === 'new' || (p.status === 'stale' && p.compactable)),
  };
}

/**
 * Pull: may the compacted month stand in for its day objects? Only when its sources
 * equal the index entries of the month exactly, and the read needs no superseded
 * revisions (no as-of, or no window of the month has revisions). The caller still
 * verifies the object's sha256 against the manifest.
 */
export function compactedMonthUsable(
  index: SeriesIndex,
  manifest: CompactedManifest,
  asOfMs?: number,
): boolean {
  if (index.unit !== 'day' || !sameSeries(manifest.month, index.series)) return false;
  const entries = entriesOfMonth(index, manifest.month.startMs, manifest.month.endMs);
  if (!sameSources(manifest.sources, entries)) return false;
  return asOfMs === undefined || !entries.some((e) => e.hasRevisions);
}
