import { EXCHANGES, type ExchangeId, TIMEFRAMES, type Timeframe } from '@perpflow/contracts';

/**
 * S3 key layout of the aligned dataset (one object per window = one UTC day):
 * `<prefix>/aligned/v1/timeframe=<tf>/exchange=<ex>/symbol=<enc>/date=YYYY-MM-DD/part-<windowStartMs>.parquet`
 * Keys are a pure function of the window, so a rewrite of a window overwrites its object.
 */
export const DATASET_LAYOUT_VERSION = 1;
export const DAY_MS = 86_400_000;

export interface WindowId {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  /** UTC midnight of the window's day. */
  windowStartMs: number;
}

const HEX = '0123456789ABCDEF';

/**
 * Percent-encodes every UTF-8 byte outside [A-Z0-9], so an encoded symbol holds
 * only [A-Z0-9%]: no `/`, no `.`, nothing that can leave its folder.
 */
export function encodeSymbol(symbol: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(symbol)) {
    const isUpper = byte >= 0x41 && byte <= 0x5a;
    const isDigit = byte >= 0x30 && byte <= 0x39;
    out += isUpper || isDigit ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/** Inverse of encodeSymbol; throws on anything encodeSymbol cannot have produced. */
export function decodeSymbol(encoded: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded[i]!;
    if (/[A-Z0-9]/.test(c)) bytes.push(c.charCodeAt(0));
    else if (c === '%' && /^[0-9A-F]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      const byte = Number.parseInt(encoded.slice(i + 1, i + 3), 16);
      if ((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39))
        throw new Error(`not a canonical symbol encoding: ${encoded}`);
      bytes.push(byte);
      i += 2;
    } else throw new Error(`not a symbol encoding: ${encoded}`);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
}

export function windowStartOf(eventTimeMs: number): number {
  return Math.floor(eventTimeMs / DAY_MS) * DAY_MS;
}

function dateOf(windowStartMs: number): string {
  return new Date(windowStartMs).toISOString().slice(0, 10);
}

function checkPrefix(prefix: string): string {
  const p = prefix.replace(/\/+$/, '');
  if (!/^[a-z0-9][a-z0-9_-]*(\/[a-z0-9_-]+)*$/.test(p)) throw new Error(`invalid S3 prefix ${prefix}`);
  return p;
}

/** The folder of one window's objects (ends with `/`). */
export function windowFolder(prefix: string, w: WindowId): string {
  if (!(EXCHANGES as readonly string[]).includes(w.exchange))
    throw new Error(`unknown exchange ${w.exchange}`);
  if (!(TIMEFRAMES as readonly string[]).includes(w.timeframe))
    throw new Error(`unknown timeframe ${w.timeframe}`);
  if (!Number.isInteger(w.windowStartMs) || w.windowStartMs % DAY_MS !== 0)
    throw new Error(`window start ${w.windowStartMs} is not a UTC midnight`);
  return (
    `${checkPrefix(prefix)}/aligned/v${DATASET_LAYOUT_VERSION}/timeframe=${w.timeframe}` +
    `/exchange=${w.exchange}/symbol=${encodeSymbol(w.symbol)}/date=${dateOf(w.windowStartMs)}/`
  );
}

export function objectKey(prefix: string, w: WindowId): string {
  return `${windowFolder(prefix, w)}part-${w.windowStartMs}.parquet`;
}

export function manifestKey(prefix: string, w: WindowId): string {
  return `${windowFolder(prefix, w)}part-${w.windowStartMs}.manifest.json`;
}

/** Parses an object key back into its window, or null if it is not one of ours. */
export function parseObjectKey(prefix: string, key: string): WindowId | null {
  const p = checkPrefix(prefix);
  if (!key.startsWith(`${p}/`)) return null;
  const m =
    /^aligned\/v1\/timeframe=([a-z0-9]+)\/exchange=([a-z0-9]+)\/symbol=([A-Z0-9%]+)\/date=(\d{4}-\d{2}-\d{2})\/part-(\d+)\.parquet$/.exec(
      key.slice(p.length + 1),
    );
  if (!m) return null;
  const [, timeframe, exchange, enc, date, start] = m;
  const windowStartMs = Number(start);
  if (!(TIMEFRAMES as readonly string[]).includes(timeframe!)) return null;
  if (!(EXCHANGES as readonly string[]).includes(exchange!)) return null;
  if (windowStartMs % DAY_MS !== 0 || dateOf(windowStartMs) !== date) return null;
  let symbol: string;
  try {
    symbol = decodeSymbol(enc!);
  } catch {
    return null;
  }
  return { exchange: exchange as ExchangeId, symbol, timeframe: timeframe as Timeframe, windowStartMs };
}

export function windowIdString(w: WindowId): string {
  return `${w.timeframe}|${w.exchange}|${w.symbol}|${w.windowStartMs}`;
}
