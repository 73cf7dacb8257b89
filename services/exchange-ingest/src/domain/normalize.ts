import {
  type Candle,
  type ContractViolation,
  type ExchangeId,
  type FundingObservation,
  type LiquidationEvent,
  type OpenInterestObservation,
  type ParseResult,
  parseRecord,
  SCHEMA_VERSION,
  snapFundingTime,
  type Timeframe,
  timeframeMs,
} from '@perpflow/contracts';
import { ingestVenue } from '../venues/index.js';

/**
 * ccxt's unified structures → contract records. ccxt returns `[[null,…]]` or
 * `undefined` fields on a malformed body without throwing (see shared notes), so
 * every record goes through the contract here; a failure is returned, never thrown.
 */
export interface Stamp {
  exchange: ExchangeId;
  symbol: string;
  receivedAtMs: number;
  source: 'live' | 'backfill';
}

export type Normalized<T> = ParseResult<T> & { raw: unknown };

/** A normalized record with the symbol it was fetched for (named in the log when it fails its contract). */
export type FeedItem<T> = Normalized<T> & { symbol: string };

function wrap<T>(res: ParseResult<T>, raw: unknown): Normalized<T> {
  return { ...res, raw };
}

/** A ccxt OHLCV row `[ts, o, h, l, c, v]`. `closed` is decided by the caller from the exchange clock. */
export function candleFromOhlcv(
  row: readonly unknown[],
  stamp: Stamp,
  timeframe: Timeframe,
  closed: boolean,
): Normalized<Candle> {
  const [ts, open, high, low, close, volume] = row;
  const record = {
    schemaVersion: SCHEMA_VERSION,
    exchange: stamp.exchange,
    symbol: stamp.symbol,
    eventTimeMs: ts,
    receivedAtMs: stamp.receivedAtMs,
    timeframe,
    openTimeMs: ts,
    open,
    high,
    low,
    close,
    volume,
    quoteVolume: null,
    trades: null,
    closed,
    source: stamp.source,
  };
  return wrap(parseRecord('candle', record), row);
}

/** Only candles whose close time the exchange's clock has passed are final. */
export function isClosed(openTimeMs: number, timeframe: Timeframe, exchangeNowMs: number): boolean {
  return openTimeMs + timeframeMs(timeframe) <= exchangeNowMs;
}

interface CcxtOpenInterest {
  openInterestAmount?: number | undefined;
  openInterestValue?: number | undefined;
  timestamp?: number | undefined;
  info?: unknown;
}

export function openInterestFromCcxt(
  oi: CcxtOpenInterest,
  stamp: Stamp,
): Normalized<OpenInterestObservation> {
  const record = {
    schemaVersion: SCHEMA_VERSION,
    exchange: stamp.exchange,
    symbol: stamp.symbol,
    eventTimeMs: oi.timestamp,
    receivedAtMs: stamp.receivedAtMs,
    // One side, in base units, whatever the venue counts (Bybit: both sides).
    openInterest: (ingestVenue(stamp.exchange).oneSideOpenInterest ?? ((o) => o.openInterestAmount))(oi),
    openInterestValue: oi.openInterestValue ?? null,
    source: stamp.source,
  };
  return wrap(parseRecord('open_interest', record), oi);
}

interface CcxtFundingRate {
  fundingRate?: number | undefined;
  fundingTimestamp?: number | undefined;
  timestamp?: number | undefined;
  markPrice?: number | undefined;
  indexPrice?: number | undefined;
}

/** The current (predicted) rate from a premium-index style answer: applies at `fundingTimestamp`. */
export function predictedFundingFromCcxt(fr: CcxtFundingRate, stamp: Stamp): Normalized<FundingObservation> {
  const record = {
    schemaVersion: SCHEMA_VERSION,
    exchange: stamp.exchange,
    symbol: stamp.symbol,
    eventTimeMs: fr.timestamp,
    receivedAtMs: stamp.receivedAtMs,
    kind: 'predicted',
    fundingRate: fr.fundingRate,
    fundingTimeMs: snapped(fr.fundingTimestamp),
    markPrice: positiveOrNull(fr.markPrice),
    indexPrice: positiveOrNull(fr.indexPrice),
    source: stamp.source,
  };
  return wrap(parseRecord('funding', record), fr);
}

/**
 * A settlement time on the venue's hour grid: venues report it a few ms to seconds late
 * (Binance +9 ms, CoinEx +16 s in ccxt's recordings), and a late stamp would make an 8 h
 * interval 28,800,009 ms. Anything not a number is left for the contract to name.
 */
function snapped(timeMs: number | undefined): number | undefined {
  return typeof timeMs === 'number' && Number.isSafeInteger(timeMs) ? snapFundingTime(timeMs) : timeMs;
}

/**
 * A settled rate from funding history: event time = the settlement time as the venue
 * stamped it, fundingTimeMs = its slot on the grid (`snapFundingTime`).
 */
export function settledFundingFromCcxt(
  fr: { fundingRate?: number | undefined; timestamp?: number | undefined },
  stamp: Stamp,
): Normalized<FundingObservation> {
  const record = {
    schemaVersion: SCHEMA_VERSION,
    exchange: stamp.exchange,
    symbol: stamp.symbol,
    eventTimeMs: fr.timestamp,
    receivedAtMs: stamp.receivedAtMs,
    kind: 'settled',
    fundingRate: fr.fundingRate,
    fundingTimeMs: snapped(fr.timestamp),
    markPrice: null,
    indexPrice: null,
    source: stamp.source,
  };
  return wrap(parseRecord('funding', record), fr);
}

/** A liquidation already mapped from the venue's wire message (see venues/). */
export interface RawLiquidation {
  side: string;
  price: number;
  amount: number;
  eventTimeMs: number;
}

/** A candle as a venue's websocket pushed it (see venues/): interval in ccxt's notation (1m, 1h, 1d). */
export interface RawKline {
  marketId: string;
  interval: string;
  /** [openTimeMs, open, high, low, close, volume] */
  row: number[];
  /** The exchange says these are the candle's final values. */
  closed: boolean;
}

export function liquidationFromRaw(l: RawLiquidation, stamp: Stamp): Normalized<LiquidationEvent> {
  const record = {
    schemaVersion: SCHEMA_VERSION,
    exchange: stamp.exchange,
    symbol: stamp.symbol,
    eventTimeMs: l.eventTimeMs,
    receivedAtMs: stamp.receivedAtMs,
    side: typeof l.side === 'string' ? l.side.toLowerCase() : l.side,
    price: l.price,
    amount: l.amount,
    source: stamp.source,
  };
  return wrap(parseRecord('liquidation', record), l);
}

function positiveOrNull(v: number | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
}

export type { ContractViolation };
