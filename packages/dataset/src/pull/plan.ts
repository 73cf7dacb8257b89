import type { ExchangeId, Timeframe } from '@perpflow/contracts';
import { type SeriesId, seriesIdString, seriesIndexKey } from '../layout/keys.js';
import {
  DEFAULT_WINDOW_POLICY,
  type WindowPolicy,
  windowEndOf,
  windowStartsCovering,
} from '../layout/windows.js';
import type { ObjectRef, SeriesIndex, WindowManifest } from '../manifest/schemas.js';

/** What a batch job asks for. */
export interface PullRequest {
  exchanges: readonly ExchangeId[];
  symbols: readonly string[];
  timeframe: Timeframe;
  /** Inclusive bar open time. */
  fromMs: number;
  /** Exclusive bar open time. */
  toMs: number;
  /**
   * Point-in-time: keep, per bar, the highest revision with known_at ≤ asOfMs; bars
   * with no such revision are left out (they were not known yet).
   */
  asOfMs?: number;
}

export class InvalidPullRequest extends Error {
  readonly code = 'INVALID_PULL_REQUEST';
  readonly retriable = false;
}

export function checkPullRequest(r: PullRequest): void {
  if (!Number.isSafeInteger(r.fromMs) || !Number.isSafeInteger(r.toMs) || r.fromMs >= r.toMs)
    throw new InvalidPullRequest(`need integer fromMs < toMs, got [${r.fromMs}, ${r.toMs})`);
  if (r.asOfMs !== undefined && !Number.isSafeInteger(r.asOfMs))
    throw new InvalidPullRequest(`asOfMs must be integer ms, got ${r.asOfMs}`);
  if (r.exchanges.length === 0 || r.symbols.length === 0)
    throw new InvalidPullRequest('need at least one exchange and one symbol');
}

/** Step 1: the index objects to GET, one per (exchange, symbol) of the request. */
export function seriesToPull(prefix: string, r: PullRequest): { series: SeriesId; indexKey: string }[] {
  checkPullRequest(r);
  const out: { series: SeriesId; indexKey: string }[] = [];
  for (const exchange of [...new Set(r.exchanges)].sort())
    for (const symbol of [...new Set(r.symbols)].sort()) {
      const series: SeriesId = { exchange, symbol, timeframe: r.timeframe };
      out.push({ series, indexKey: seriesIndexKey(prefix, series) });
    }
  return out;
}

export interface PlannedWindow {
  startMs: number;
  endMs: number;
  manifestKey: string;
  objectKey: string;
  rowCount: number;
  closed: boolean;
}

export interface TimeRange {
  startMs: number;
  endMs: number;
}

export interface SeriesPlan {
  series: SeriesId;
  indexKey: string;
  /** False when the index object does not exist: every window in range is missing. */
  indexFound: boolean;
  /** Windows to fetch (manifest first, then its objects), in time order. */
  windows: PlannedWindow[];
  /** Windows in [fromMs, toMs) the index does not list. */
  missingWindows: TimeRange[];
}

/**
 * Step 2: given the indexes fetched in step 1 (null where absent), the windows to
 * fetch and those missing. Windows whose rows all lie outside [fromMs, toMs) are skipped.
 */
export function planPull(
  prefix: string,
  r: PullRequest,
  indexes: ReadonlyMap<string, SeriesIndex | null>,
  policy: WindowPolicy = DEFAULT_WINDOW_POLICY,
): SeriesPlan[] {
  return seriesToPull(prefix, r).map(({ series, indexKey }) => {
    const index = indexes.get(indexKey) ?? null;
    if (index && seriesIdString(index.series) !== seriesIdString(series))
      throw new InvalidPullRequest(`index ${indexKey} describes ${seriesIdString(index.series)}`);
    const unit = index?.unit ?? policy[r.timeframe];
    const listed = new Map((index?.windows ?? []).map((e) => [e.startMs, e]));
    const windows: PlannedWindow[] = [];
    const missingWindows: TimeRange[] = [];
    for (const startMs of windowStartsCovering(r.fromMs, r.toMs, unit)) {
      const e = listed.get(startMs);
      if (!e) {
        missingWindows.push({ startMs, endMs: windowEndOf(startMs, unit) });
        continue;
      }
      if (e.rowCount === 0 || e.maxTsMs === null || e.minTsMs === null) continue;
      if (e.maxTsMs < r.fromMs || e.minTsMs >= r.toMs) continue;
      windows.push({
        startMs: e.startMs,
        endMs: e.endMs,
        manifestKey: e.manifestKey,
        objectKey: e.objectKey,
        rowCount: e.rowCount,
        closed: e.closed,
      });
    }
    return { series, indexKey, indexFound: index !== null, windows, missingWindows };
  });
}

/**
 * Step 3: after reading a window's manifest, the objects to download. The revisions
 * object is needed only for an as-of read earlier than the window's latest known_at.
 */
export function objectsToFetch(
  manifest: WindowManifest,
  asOfMs?: number,
): { latest: ObjectRef; revisions: ObjectRef | null } {
  const needRevisions =
    asOfMs !== undefined &&
    manifest.revisions !== null &&
    (manifest.maxKnownAtMs === null || asOfMs < manifest.maxKnownAtMs);
  return { latest: manifest.object, revisions: needRevisions ? manifest.revisions : null };
}
