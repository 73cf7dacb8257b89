import {
  type ExchangeId,
  MAX_EPOCH_MS,
  MIN_EPOCH_MS,
  PerpflowError,
  type Timeframe,
} from '@perpflow/contracts';
import { manifestKey, objectKey, type SeriesId, seriesIndexKey } from '../layout/keys.js';
import {
  DEFAULT_WINDOW_POLICY,
  type WindowPolicy,
  type WindowUnit,
  windowEndOf,
  windowStartsCovering,
} from '../layout/windows.js';
import type { ObjectRef, SeriesIndex, WindowManifest } from '../manifest/schemas.js';
import { DatasetMismatch, expectedWindow } from './trust.js';

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

export class InvalidPullRequest extends PerpflowError {
  readonly code = 'INVALID_PULL_REQUEST';
  readonly retriable = false;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The range a request may span: [2010-01-01, 2100-01-01) UTC, the contract's epoch
 * bounds. Planning walks every window in the range, so an unbounded range (`--from 0
 * --to 8640000000000000`) would exhaust memory instead of failing; this bounds it to
 * ~33,000 day windows per series.
 */
export const PULL_RANGE = { minMs: MIN_EPOCH_MS, maxMs: MAX_EPOCH_MS } as const;

export function checkPullRequest(r: PullRequest): void {
  if (!Number.isSafeInteger(r.fromMs) || !Number.isSafeInteger(r.toMs) || r.fromMs >= r.toMs)
    throw new InvalidPullRequest(`need integer fromMs < toMs, got [${r.fromMs}, ${r.toMs})`);
  if (r.fromMs < PULL_RANGE.minMs || r.toMs > PULL_RANGE.maxMs)
    throw new InvalidPullRequest(
      `range [${r.fromMs}, ${r.toMs}) must lie within [${iso(PULL_RANGE.minMs)}, ${iso(PULL_RANGE.maxMs)}) ` +
        `(epoch ms ${PULL_RANGE.minMs} to ${PULL_RANGE.maxMs})`,
    );
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

/** A window to fetch; its keys are the layout's for the window, equal to the index entry's. */
export interface PlannedWindow {
  unit: WindowUnit;
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
 * The index is not trusted: its series, and each planned entry's end and keys, must be
 * what the layout computes for that window (DatasetMismatch otherwise).
 */
export function planPull(
  prefix: string,
  r: PullRequest,
  indexes: ReadonlyMap<string, SeriesIndex | null>,
  policy: WindowPolicy = DEFAULT_WINDOW_POLICY,
): SeriesPlan[] {
  return seriesToPull(prefix, r).map(({ series, indexKey }) => {
    const index = indexes.get(indexKey) ?? null;
    if (index)
      for (const f of ['exchange', 'symbol', 'timeframe'] as const)
        if (index.series[f] !== series[f])
          throw new DatasetMismatch(
            indexKey,
            `series.${f}`,
            JSON.stringify(series[f]),
            JSON.stringify(index.series[f]),
          );
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
      const w = expectedWindow(series, unit, startMs);
      const keys = { endMs: w.endMs, manifestKey: manifestKey(prefix, w), objectKey: objectKey(prefix, w) };
      for (const f of ['endMs', 'manifestKey', 'objectKey'] as const)
        if (e[f] !== keys[f])
          throw new DatasetMismatch(
            indexKey,
            `windows[startMs=${startMs}].${f}`,
            JSON.stringify(keys[f]),
            JSON.stringify(e[f]),
          );
      windows.push({
        unit,
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
