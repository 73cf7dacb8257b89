import {
  EXCHANGES,
  LIQUIDATION_COMPLETENESS,
  LIQUIDATION_PRICE_KINDS,
  OPEN_INTEREST_MISSING_REASONS,
  SYMBOL_MAX_LENGTH,
  UNIFIED_SYMBOL_PATTERN,
} from './exchanges.js';
import {
  type AlignedBar,
  AlignedBarSchema,
  type Candle,
  CandleSchema,
  type FundingObservation,
  FundingSchema,
  type LiquidationEvent,
  LiquidationSchema,
  type OpenInterestObservation,
  OpenInterestSchema,
  type RecordKind,
  type RecordOf,
  SCHEMA_VERSION,
} from './schemas.js';
import {
  sampleAlignedBar,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from './samples.js';
import { epochMsProblem, TIMEFRAMES } from './time.js';

/**
 * A hand-written check of the four raw record contracts for the records that satisfy
 * them, which is nearly all of them: it returns what zod's parse returns (a new object
 * with the schema's keys in the schema's order, unknown keys stripped, values as given),
 * or null when zod must decide, and then zod alone decides and words the error.
 * The zod schemas stay the definition: a property test over valid and broken records
 * (schemas.test.ts) holds this to the same accept/reject decision and output as zod, and
 * the fast path switches itself off for a kind whose schema keys differ from its own.
 * Why: zod's parse of each raw record was most of the contract's cost in the aligner
 * (about 1.3 µs per record, and a payload object and issue array per field).
 */
export function parseRecordFast<K extends RecordKind>(kind: K, input: unknown): RecordOf<K> | null {
  const check = FAST_PATHS[kind];
  if (check === undefined || typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  return check(input as Record<string, unknown>) as RecordOf<K> | null;
}

type FastPath = (r: Record<string, unknown>) => object | null;

/** Derived from the exchanges list: a venue added there is accepted here with no other change. */
const EXCHANGE_SET: ReadonlySet<unknown> = new Set(EXCHANGES);
const isExchange = (v: unknown): v is Candle['exchange'] => EXCHANGE_SET.has(v);
const isSource = (v: unknown): v is Candle['source'] => v === 'live' || v === 'backfill';
const isTimeframe = (v: unknown): v is Candle['timeframe'] =>
  typeof v === 'string' && (TIMEFRAMES as readonly string[]).includes(v);
const isSymbol = (v: unknown): v is string =>
  typeof v === 'string' && v.length >= 1 && v.length <= SYMBOL_MAX_LENGTH && UNIFIED_SYMBOL_PATTERN.test(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isEpochMs = (v: unknown): v is number => isNumber(v) && epochMsProblem(v) === null;
const isPositive = (v: unknown): v is number => isNumber(v) && v > 0;
const isNonNegative = (v: unknown): v is number => isNumber(v) && v >= 0;

function candle(r: Record<string, unknown>): Candle | null {
  const schemaVersion = r.schemaVersion;
  const exchange = r.exchange;
  const symbol = r.symbol;
  const eventTimeMs = r.eventTimeMs;
  const receivedAtMs = r.receivedAtMs;
  const timeframe = r.timeframe;
  const openTimeMs = r.openTimeMs;
  const open = r.open;
  const high = r.high;
  const low = r.low;
  const close = r.close;
  const volume = r.volume;
  const quoteVolume = r.quoteVolume;
  const trades = r.trades;
  const closed = r.closed;
  const source = r.source;
  if (
    schemaVersion !== SCHEMA_VERSION ||
    !isExchange(exchange) ||
    !isSymbol(symbol) ||
    !isEpochMs(eventTimeMs) ||
    !isEpochMs(receivedAtMs) ||
    !isTimeframe(timeframe) ||
    !isEpochMs(openTimeMs) ||
    !isPositive(open) ||
    !isPositive(high) ||
    !isPositive(low) ||
    !isPositive(close) ||
    !isNonNegative(volume) ||
    !(quoteVolume === null || isNonNegative(quoteVolume)) ||
    !(trades === null || (Number.isSafeInteger(trades) && (trades as number) >= 0)) ||
    typeof closed !== 'boolean' ||
    !isSource(source)
  )
    return null;
  // CandleSchema's refinement, each comparison as it is written there.
  if (eventTimeMs !== openTimeMs) return null;
  if (high < low) return null;
  if (high < Math.max(open, close)) return null;
  if (low > Math.min(open, close)) return null;
  return {
    schemaVersion,
    exchange,
    symbol,
    eventTimeMs,
    receivedAtMs,
    timeframe,
    openTimeMs,
    open,
    high,
    low,
    close,
    volume,
    quoteVolume,
    trades: trades as number | null,
    closed,
    source,
  };
}

function openInterest(r: Record<string, unknown>): OpenInterestObservation | null {
  const schemaVersion = r.schemaVersion;
  const exchange = r.exchange;
  const symbol = r.symbol;
  const eventTimeMs = r.eventTimeMs;
  const receivedAtMs = r.receivedAtMs;
  const openInterest = r.openInterest;
  const openInterestValue = r.openInterestValue;
  const source = r.source;
  if (
    schemaVersion !== SCHEMA_VERSION ||
    !isExchange(exchange) ||
    !isSymbol(symbol) ||
    !isEpochMs(eventTimeMs) ||
    !isEpochMs(receivedAtMs) ||
    !isNonNegative(openInterest) ||
    !(openInterestValue === null || isNonNegative(openInterestValue)) ||
    !isSource(source)
  )
    return null;
  return {
    schemaVersion,
    exchange,
    symbol,
    eventTimeMs,
    receivedAtMs,
    openInterest,
    openInterestValue,
    source,
  };
}

function funding(r: Record<string, unknown>): FundingObservation | null {
  const schemaVersion = r.schemaVersion;
  const exchange = r.exchange;
  const symbol = r.symbol;
  const eventTimeMs = r.eventTimeMs;
  const receivedAtMs = r.receivedAtMs;
  const kind = r.kind;
  const fundingRate = r.fundingRate;
  const fundingTimeMs = r.fundingTimeMs;
  const markPrice = r.markPrice;
  const indexPrice = r.indexPrice;
  const source = r.source;
  if (
    schemaVersion !== SCHEMA_VERSION ||
    !isExchange(exchange) ||
    !isSymbol(symbol) ||
    !isEpochMs(eventTimeMs) ||
    !isEpochMs(receivedAtMs) ||
    !(kind === 'settled' || kind === 'predicted') ||
    !isNumber(fundingRate) ||
    !isEpochMs(fundingTimeMs) ||
    !(markPrice === null || isPositive(markPrice)) ||
    !(indexPrice === null || isPositive(indexPrice)) ||
    !isSource(source)
  )
    return null;
  return {
    schemaVersion,
    exchange,
    symbol,
    eventTimeMs,
    receivedAtMs,
    kind,
    fundingRate,
    fundingTimeMs,
    markPrice,
    indexPrice,
    source,
  };
}

function liquidation(r: Record<string, unknown>): LiquidationEvent | null {
  const schemaVersion = r.schemaVersion;
  const exchange = r.exchange;
  const symbol = r.symbol;
  const eventTimeMs = r.eventTimeMs;
  const receivedAtMs = r.receivedAtMs;
  const side = r.side;
  const price = r.price;
  const amount = r.amount;
  const source = r.source;
  if (
    schemaVersion !== SCHEMA_VERSION ||
    !isExchange(exchange) ||
    !isSymbol(symbol) ||
    !isEpochMs(eventTimeMs) ||
    !isEpochMs(receivedAtMs) ||
    !(side === 'buy' || side === 'sell') ||
    !isPositive(price) ||
    !isPositive(amount) ||
    !isSource(source)
  )
    return null;
  return { schemaVersion, exchange, symbol, eventTimeMs, receivedAtMs, side, price, amount, source };
}

const OI_MISSING: ReadonlySet<unknown> = new Set(OPEN_INTEREST_MISSING_REASONS);
const LIQ_PRICE_KINDS: ReadonlySet<unknown> = new Set(LIQUIDATION_PRICE_KINDS);
const LIQ_COMPLETENESS: ReadonlySet<unknown> = new Set(LIQUIDATION_COMPLETENESS);
const orNull = (v: unknown, check: (v: unknown) => boolean): boolean => v === null || check(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * An aligned bar (the windower and the monitor decode one per message): every field, then
 * the schema's refinements (high ≥ low; the four liquidation fields null exactly when
 * `liqCompleteness` is `none`; `openInterestMissing` null exactly when `openInterest` is
 * not). zod's parse of a bar was 3.1 of the 5.3 µs its decode took.
 */
function alignedBar(r: Record<string, unknown>): AlignedBar | null {
  const b = {
    schemaVersion: r.schemaVersion,
    exchange: r.exchange,
    symbol: r.symbol,
    timeframe: r.timeframe,
    eventTimeMs: r.eventTimeMs,
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: r.volume,
    openInterest: r.openInterest,
    openInterestTimeMs: r.openInterestTimeMs,
    openInterestMissing: r.openInterestMissing,
    fundingRate: r.fundingRate,
    fundingTimeMs: r.fundingTimeMs,
    predictedFundingRate: r.predictedFundingRate,
    predictedFundingTimeMs: r.predictedFundingTimeMs,
    fundingIntervalMs: r.fundingIntervalMs,
    fundingRate8h: r.fundingRate8h,
    markPrice: r.markPrice,
    markPriceTimeMs: r.markPriceTimeMs,
    indexPrice: r.indexPrice,
    indexPriceTimeMs: r.indexPriceTimeMs,
    basis: r.basis,
    liqLongNotional: r.liqLongNotional,
    liqShortNotional: r.liqShortNotional,
    liqCount: r.liqCount,
    liqPriceKind: r.liqPriceKind,
    liqCompleteness: r.liqCompleteness,
    knownAtMs: r.knownAtMs,
    revision: r.revision,
    candleFilled: r.candleFilled,
    openInterestStale: r.openInterestStale,
    fundingStale: r.fundingStale,
  };
  if (
    b.schemaVersion !== SCHEMA_VERSION ||
    !isExchange(b.exchange) ||
    !isSymbol(b.symbol) ||
    !isTimeframe(b.timeframe) ||
    !isEpochMs(b.eventTimeMs) ||
    !isPositive(b.open) ||
    !isPositive(b.high) ||
    !isPositive(b.low) ||
    !isPositive(b.close) ||
    !isNonNegative(b.volume) ||
    !orNull(b.openInterest, isNonNegative) ||
    !orNull(b.openInterestTimeMs, isEpochMs) ||
    !(b.openInterestMissing === null || OI_MISSING.has(b.openInterestMissing)) ||
    !orNull(b.fundingRate, isNumber) ||
    !orNull(b.fundingTimeMs, isEpochMs) ||
    !orNull(b.predictedFundingRate, isNumber) ||
    !orNull(b.predictedFundingTimeMs, isEpochMs) ||
    !orNull(b.fundingIntervalMs, (v) => Number.isSafeInteger(v) && (v as number) > 0) ||
    !orNull(b.fundingRate8h, isNumber) ||
    !orNull(b.markPrice, isPositive) ||
    !orNull(b.markPriceTimeMs, isEpochMs) ||
    !orNull(b.indexPrice, isPositive) ||
    !orNull(b.indexPriceTimeMs, isEpochMs) ||
    !orNull(b.basis, isNumber) ||
    !orNull(b.liqLongNotional, isNonNegative) ||
    !orNull(b.liqShortNotional, isNonNegative) ||
    !orNull(b.liqCount, isCount) ||
    !(b.liqPriceKind === null || LIQ_PRICE_KINDS.has(b.liqPriceKind)) ||
    !LIQ_COMPLETENESS.has(b.liqCompleteness) ||
    !isEpochMs(b.knownAtMs) ||
    !isCount(b.revision) ||
    typeof b.candleFilled !== 'boolean' ||
    typeof b.openInterestStale !== 'boolean' ||
    typeof b.fundingStale !== 'boolean'
  )
    return null;
  // The refinements.
  if ((b.high as number) < (b.low as number)) return null;
  const none = b.liqCompleteness === 'none';
  for (const v of [b.liqLongNotional, b.liqShortNotional, b.liqCount, b.liqPriceKind])
    if ((v === null) !== none) return null;
  if ((b.openInterest === null) === (b.openInterestMissing === null)) return null;
  return b as AlignedBar;
}

/**
 * A fast path is on only if it accepts its kind's sample and returns exactly the schema's
 * keys in the schema's order: a field added to a schema (and to its sample) without its
 * check here turns the fast path of that kind off instead of stripping the field.
 */
function enabled(schema: { shape: object }, fast: FastPath, sample: object): FastPath | undefined {
  const out = fast(sample as Record<string, unknown>);
  const keys = out === null ? [] : Object.keys(out);
  const schemaKeys = Object.keys(schema.shape);
  return keys.length === schemaKeys.length && keys.every((k, i) => k === schemaKeys[i]) ? fast : undefined;
}

const FAST_PATHS: Partial<Record<RecordKind, FastPath>> = {
  candle: enabled(CandleSchema, candle, sampleCandle()),
  open_interest: enabled(OpenInterestSchema, openInterest, sampleOpenInterest()),
  funding: enabled(FundingSchema, funding, sampleFunding()),
  liquidation: enabled(LiquidationSchema, liquidation, sampleLiquidation()),
  aligned_bar: enabled(AlignedBarSchema, alignedBar, sampleAlignedBar()),
};

/** Which kinds have a fast path switched on (tests). */
export function fastPathKinds(): RecordKind[] {
  return (Object.keys(FAST_PATHS) as RecordKind[]).filter((k) => FAST_PATHS[k] !== undefined);
}
