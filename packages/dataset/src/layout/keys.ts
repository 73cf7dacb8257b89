import { EXCHANGES, type ExchangeId, TIMEFRAMES, type Timeframe } from '@perpflow/contracts';
import { decodeSymbol, encodeSymbol, InvalidKeySegment } from './symbol.js';
import { isWindowStart, utcDate, type WindowUnit, windowEndOf } from './windows.js';

/**
 * S3 key layout of the aligned dataset (Hive-style, so DuckDB/Spark/pyarrow read
 * `timeframe`, `exchange`, `symbol`, `date` as partition columns):
 *
 *   <prefix>/aligned/v1/timeframe=<tf>/exchange=<ex>/symbol=<enc>/date=YYYY-MM-DD/part-<startMs>.parquet
 *   <prefix>/aligned/v1/timeframe=<tf>/exchange=<ex>/symbol=<enc>/date=YYYY-MM-DD/part-<startMs>.manifest.json
 *   <prefix>/aligned/v1/timeframe=<tf>/exchange=<ex>/symbol=<enc>/_index.json
 *   <prefix>/aligned_revisions/v1/…same partitions…/part-<startMs>.parquet   (superseded revisions)
 *
 * `date` is the window's first UTC day; `<startMs>` its start in epoch ms. Keys are a
 * pure function of the window: a rewrite of a window overwrites the same keys.
 * Superseded revisions live in a separate tree so that `aligned/v1/**\/*.parquet`
 * holds exactly one row per bar (its last revision).
 */
export const DATASET_LAYOUT_VERSION = 1;
export const LATEST_TREE = `aligned/v${DATASET_LAYOUT_VERSION}`;
export const REVISIONS_TREE = `aligned_revisions/v${DATASET_LAYOUT_VERSION}`;

/** One series: what one index file lists. */
export interface SeriesId {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
}

/** One window of one series: what one object holds. */
export interface WindowId extends SeriesId {
  unit: WindowUnit;
  /** Inclusive start, a UTC boundary of `unit`. */
  startMs: number;
}

/** C0, DEL and C1 control characters: checked by code point (a regex of them trips the linter). */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/**
 * Validates a configured prefix: lower-case segments of [a-z0-9._-], no empty,
 * `.` or `..` segment, no leading or trailing `/` (trailing ones are trimmed).
 */
export function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/\/+$/, '');
  const segs = p.split('/');
  if (p.length === 0 || segs.some((s) => !/^[a-z0-9._-]+$/.test(s) || s === '.' || s === '..'))
    throw new InvalidKeySegment(`invalid S3 prefix '${prefix}'`);
  return p;
}

/**
 * Defence in depth: every key we build passes this, whatever the record held.
 * The key lies under `<prefix>/`, has no empty, `.` or `..` segment, no control
 * character, no backslash and fits S3's 1,024-byte limit.
 */
export function assertKeyUnderPrefix(prefix: string, key: string): string {
  const p = normalizePrefix(prefix);
  const bad = (why: string) => new InvalidKeySegment(`key '${JSON.stringify(key)}' ${why}`);
  if (!key.startsWith(`${p}/`)) throw bad(`is not under prefix ${p}/`);
  if (hasControlChar(key) || key.includes('\\')) throw bad('holds a control character or backslash');
  if (key.split('/').some((s) => s === '' || s === '.' || s === '..'))
    throw bad('has an empty, . or .. segment');
  if (new TextEncoder().encode(key).length > 1024) throw bad('is longer than 1024 bytes');
  return key;
}

function checkSeries(s: SeriesId): void {
  if (!(EXCHANGES as readonly string[]).includes(s.exchange))
    throw new InvalidKeySegment(`unknown exchange '${s.exchange}'`);
  if (!(TIMEFRAMES as readonly string[]).includes(s.timeframe))
    throw new InvalidKeySegment(`unknown timeframe '${s.timeframe}'`);
}

function seriesPath(s: SeriesId): string {
  checkSeries(s);
  return `timeframe=${s.timeframe}/exchange=${s.exchange}/symbol=${encodeSymbol(s.symbol)}`;
}

function windowPath(w: WindowId): string {
  if (!isWindowStart(w.startMs, w.unit))
    throw new InvalidKeySegment(`window start ${w.startMs} is not a UTC ${w.unit} boundary`);
  return `${seriesPath(w)}/date=${utcDate(w.startMs)}`;
}

export function windowEndMs(w: WindowId): number {
  return windowEndOf(w.startMs, w.unit);
}

/** The Parquet object with the last revision of every bar of the window. */
export function objectKey(prefix: string, w: WindowId): string {
  const p = normalizePrefix(prefix);
  return assertKeyUnderPrefix(p, `${p}/${LATEST_TREE}/${windowPath(w)}/part-${w.startMs}.parquet`);
}

/** The window's manifest, beside its object. */
export function manifestKey(prefix: string, w: WindowId): string {
  const p = normalizePrefix(prefix);
  return assertKeyUnderPrefix(p, `${p}/${LATEST_TREE}/${windowPath(w)}/part-${w.startMs}.manifest.json`);
}

/** The Parquet object with the superseded revisions of the window's bars (as-of reads). */
export function revisionsKey(prefix: string, w: WindowId): string {
  const p = normalizePrefix(prefix);
  return assertKeyUnderPrefix(p, `${p}/${REVISIONS_TREE}/${windowPath(w)}/part-${w.startMs}.parquet`);
}

/** The series index: which windows exist, without listing objects. */
export function seriesIndexKey(prefix: string, s: SeriesId): string {
  const p = normalizePrefix(prefix);
  return assertKeyUnderPrefix(p, `${p}/${LATEST_TREE}/${seriesPath(s)}/_index.json`);
}

/** The folder to list to rebuild a series index from its manifests (ends with `/`). */
export function seriesFolder(prefix: string, s: SeriesId): string {
  const p = normalizePrefix(prefix);
  return `${assertKeyUnderPrefix(p, `${p}/${LATEST_TREE}/${seriesPath(s)}`)}/`;
}

const MANIFEST_KEY =
  /^timeframe=([0-9a-z]+)\/exchange=([0-9a-z]+)\/symbol=([A-Z0-9%]+)\/date=(\d{4}-\d{2}-\d{2})\/part-(\d+)\.manifest\.json$/;

/**
 * Parses a manifest key back into its series and window start (to rebuild an index
 * from a listing), or null when the key is not one of ours. The unit is not in the
 * key: it comes from the manifest itself.
 */
export function parseManifestKey(
  prefix: string,
  key: string,
): (SeriesId & { startMs: number; date: string }) | null {
  const p = normalizePrefix(prefix);
  const head = `${p}/${LATEST_TREE}/`;
  if (!key.startsWith(head)) return null;
  const m = MANIFEST_KEY.exec(key.slice(head.length));
  if (!m) return null;
  const [, timeframe, exchange, enc, date, start] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!(TIMEFRAMES as readonly string[]).includes(timeframe)) return null;
  if (!(EXCHANGES as readonly string[]).includes(exchange)) return null;
  const startMs = Number(start);
  if (!Number.isSafeInteger(startMs) || utcDate(startMs) !== date) return null;
  let symbol: string;
  try {
    symbol = decodeSymbol(enc);
  } catch {
    return null;
  }
  return { exchange: exchange as ExchangeId, symbol, timeframe: timeframe as Timeframe, startMs, date };
}

/** A stable string id of a window, for maps and logs. */
export function windowIdString(w: WindowId): string {
  return `${w.timeframe}|${w.exchange}|${w.symbol}|${w.unit}|${w.startMs}`;
}

export function seriesIdString(s: SeriesId): string {
  return `${s.timeframe}|${s.exchange}|${s.symbol}`;
}
