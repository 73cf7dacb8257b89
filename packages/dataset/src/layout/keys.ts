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
/**
 * Month compaction of day windows (1m, 5m): one object per closed month, beside
 * `aligned/v1`, never instead of it (the day objects stay the source of truth):
 *
 *   <prefix>/aligned_compacted/v1/timeframe=<tf>/exchange=<ex>/symbol=<enc>/month=YYYY-MM/part-<monthStartMs>.parquet
 *   <prefix>/aligned_compacted/v1/timeframe=<tf>/exchange=<ex>/symbol=<enc>/month=YYYY-MM/part-<monthStartMs>.manifest.json
 */
export const COMPACTED_TREE = `aligned_compacted/v${DATASET_LAYOUT_VERSION}`;

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

/** `YYYY-MM` of a UTC instant. */
export function utcMonth(tMs: number): string {
  return new Date(tMs).toISOString().slice(0, 7);
}

function monthPath(s: SeriesId, monthStartMs: number): string {
  if (!isWindowStart(monthStartMs, 'month'))
    throw new InvalidKeySegment(`month start ${monthStartMs} is not a UTC month boundary`);
  return `${seriesPath(s)}/month=${utcMonth(monthStartMs)}`;
}

/** The compacted object of one month of a series (every day window's rows, in ts order). */
export function compactedObjectKey(prefix: string, s: SeriesId, monthStartMs: number): string {
  const p = normalizePrefix(prefix);
  return assertKeyUnderPrefix(
    p,
    `${p}/${COMPACTED_TREE}/${monthPath(s, monthStartMs)}/part-${monthStartMs}.parquet`,
  );
}

/** The compacted month's manifest, beside its object. */
export function compactedManifestKey(prefix: string, s: SeriesId, monthStartMs: number): string {
  const p = normalizePrefix(prefix);
  return assertKeyUnderPrefix(
    p,
    `${p}/${COMPACTED_TREE}/${monthPath(s, monthStartMs)}/part-${monthStartMs}.manifest.json`,
  );
}

/** The folder to list for a series' compacted months (ends with `/`). */
export function compactedSeriesFolder(prefix: string, s: SeriesId): string {
  const p = normalizePrefix(prefix);
  return `${assertKeyUnderPrefix(p, `${p}/${COMPACTED_TREE}/${seriesPath(s)}`)}/`;
}

/** The folder holding every series index (`<prefix>/aligned/v1/`), to find them by listing. */
export function latestTreeFolder(prefix: string): string {
  return `${normalizePrefix(prefix)}/${LATEST_TREE}/`;
}

const INDEX_KEY = /^timeframe=([0-9a-z]+)\/exchange=([0-9a-z]+)\/symbol=([A-Z0-9%]+)\/_index\.json$/;

/** Parses a series index key back into its series, or null when the key is not one. */
export function parseSeriesIndexKey(prefix: string, key: string): SeriesId | null {
  const head = latestTreeFolder(prefix);
  if (!key.startsWith(head)) return null;
  const m = INDEX_KEY.exec(key.slice(head.length));
  if (!m) return null;
  return seriesOf(m[1]!, m[2]!, m[3]!);
}

const COMPACTED_MANIFEST_KEY =
  /^timeframe=([0-9a-z]+)\/exchange=([0-9a-z]+)\/symbol=([A-Z0-9%]+)\/month=(\d{4}-\d{2})\/part-(\d+)\.manifest\.json$/;

/** Parses a compacted manifest key into its series and month start, or null when it is not one. */
export function parseCompactedManifestKey(
  prefix: string,
  key: string,
): (SeriesId & { monthStartMs: number; month: string }) | null {
  const head = `${normalizePrefix(prefix)}/${COMPACTED_TREE}/`;
  if (!key.startsWith(head)) return null;
  const m = COMPACTED_MANIFEST_KEY.exec(key.slice(head.length));
  if (!m) return null;
  const series = seriesOf(m[1]!, m[2]!, m[3]!);
  const monthStartMs = Number(m[5]);
  if (
    !series ||
    !Number.isSafeInteger(monthStartMs) ||
    !isWindowStart(monthStartMs, 'month') ||
    utcMonth(monthStartMs) !== m[4]
  )
    return null;
  return { ...series, monthStartMs, month: m[4]! };
}

function seriesOf(timeframe: string, exchange: string, enc: string): SeriesId | null {
  if (!(TIMEFRAMES as readonly string[]).includes(timeframe)) return null;
  if (!(EXCHANGES as readonly string[]).includes(exchange)) return null;
  try {
    return { exchange: exchange as ExchangeId, symbol: decodeSymbol(enc), timeframe: timeframe as Timeframe };
  } catch {
    return null;
  }
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
