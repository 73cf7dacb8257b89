import type { AlignedBar } from '@perpflow/contracts';
import {
  COMPACTED_TREE,
  compactedObjectKey,
  LATEST_TREE,
  normalizePrefix,
  objectKey,
  revisionsKey,
  type SeriesId,
  type WindowId,
} from '../layout/keys.js';
import { windowEndOf } from '../layout/windows.js';
import type { CompactedManifest, WindowManifest } from '../manifest/schemas.js';
import { PerpflowError } from '@perpflow/contracts';

/**
 * What the dataset holds is not what the layout says it must be: an index entry or a
 * manifest names a key other than the one the layout computes for its window, or an
 * object holds rows of another series or time. Nothing written by the windower looks
 * like this; it is tampering or a foreign dataset under the prefix. Not retriable.
 */
export class DatasetMismatch extends PerpflowError {
  readonly code = 'DATASET_MISMATCH';
  readonly retriable = false;
  constructor(
    /** The object whose content is wrong (index, manifest or Parquet object). */
    readonly key: string,
    /** What is wrong in it, as a path (`object.key`, `row 3 symbol`). */
    readonly field: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${key}: ${field} is ${found}, expected ${expected}`);
  }
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

function expectEqual(key: string, field: string, expected: unknown, found: unknown): void {
  if (found !== expected) throw new DatasetMismatch(key, field, show(expected), show(found));
}

/** A window as the layout defines it: its series, unit, [startMs, endMs). */
export interface ExpectedWindow extends WindowId {
  endMs: number;
}

export function expectedWindow(series: SeriesId, unit: WindowId['unit'], startMs: number): ExpectedWindow {
  return {
    exchange: series.exchange,
    symbol: series.symbol,
    timeframe: series.timeframe,
    unit,
    startMs,
    endMs: windowEndOf(startMs, unit),
  };
}

/**
 * A window manifest read from `manifestKey` must describe that window and name the
 * layout's keys for its object and revisions object, nothing else.
 */
export function checkWindowManifest(
  prefix: string,
  manifestKey: string,
  w: ExpectedWindow,
  manifest: WindowManifest,
): void {
  for (const f of ['exchange', 'symbol', 'timeframe', 'unit', 'startMs', 'endMs'] as const)
    expectEqual(manifestKey, `window.${f}`, w[f], manifest.window[f]);
  expectEqual(manifestKey, 'object.key', objectKey(prefix, w), manifest.object.key);
  if (manifest.revisions)
    expectEqual(manifestKey, 'revisions.key', revisionsKey(prefix, w), manifest.revisions.key);
}

/** A compacted month's manifest must describe that month of that series and name the layout's object key. */
export function checkCompactedManifest(
  prefix: string,
  manifestKey: string,
  series: SeriesId,
  monthStartMs: number,
  manifest: CompactedManifest,
): void {
  for (const f of ['exchange', 'symbol', 'timeframe'] as const)
    expectEqual(manifestKey, `month.${f}`, series[f], manifest.month[f]);
  expectEqual(manifestKey, 'month.startMs', monthStartMs, manifest.month.startMs);
  expectEqual(manifestKey, 'month.endMs', windowEndOf(monthStartMs, 'month'), manifest.month.endMs);
  expectEqual(
    manifestKey,
    'object.key',
    compactedObjectKey(prefix, series, monthStartMs),
    manifest.object.key,
  );
}

export interface ExpectedRows {
  series: SeriesId;
  /** Inclusive; every row's eventTimeMs lies in [startMs, endMs). */
  startMs: number;
  endMs: number;
  /** The row count its manifest states. */
  rowCount: number;
}

/**
 * Every row of an object must be of the series asked for and lie in its window: an
 * object whose sha256 matches a manifest proves only that the manifest's author wrote it.
 */
export function checkRows(key: string, rows: readonly AlignedBar[], e: ExpectedRows): void {
  expectEqual(key, 'row count', e.rowCount, rows.length);
  for (const [i, r] of rows.entries()) {
    expectEqual(key, `row ${i} exchange`, e.series.exchange, r.exchange);
    expectEqual(key, `row ${i} symbol`, e.series.symbol, r.symbol);
    expectEqual(key, `row ${i} timeframe`, e.series.timeframe, r.timeframe);
    if (!(r.eventTimeMs >= e.startMs && r.eventTimeMs < e.endMs))
      throw new DatasetMismatch(
        key,
        `row ${i} eventTimeMs`,
        `in [${e.startMs}, ${e.endMs})`,
        String(r.eventTimeMs),
      );
  }
}

/**
 * The relative path (`/`-separated) a pulled object is written to below the output
 * folder: its key below `<prefix>/aligned/v1/` or `<prefix>/aligned_compacted/v1/`,
 * Hive partitions kept. Refuses anything that could name a path outside that folder
 * or a different file: empty, `.` or `..` segments (so no absolute path), NUL and
 * other control characters, backslashes.
 */
export function localPathOfKey(prefix: string, key: string): string {
  const p = normalizePrefix(prefix);
  const tree = [LATEST_TREE, COMPACTED_TREE].find((t) => key.startsWith(`${p}/${t}/`));
  if (tree === undefined)
    throw new DatasetMismatch(key, 'key', `under ${p}/${LATEST_TREE}/ or ${p}/${COMPACTED_TREE}/`, show(key));
  const rel = key.slice(p.length + tree.length + 2);
  const bad = (why: string) => new DatasetMismatch(key, 'key', 'a relative path of plain segments', why);
  for (let i = 0; i < rel.length; i++) {
    const c = rel.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
      throw bad(`a control character (U+${c.toString(16).padStart(4, '0')})`);
  }
  if (rel.includes('\\')) throw bad('a backslash');
  const segs = rel.split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..')) throw bad('an empty, . or .. segment');
  return rel;
}
