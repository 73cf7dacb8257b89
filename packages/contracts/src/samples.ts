import type {
  AlignedBar,
  Candle,
  DeadLetter,
  FundingObservation,
  LiquidationEvent,
  OpenInterestObservation,
} from './schemas.js';

/**
 * Valid example records, one per kind: used by tests in every package and by the
 * README. Times are a fixed instant (2024-03-01T00:00:00Z), never the clock.
 */
export const SAMPLE_T0_MS = 1_709_251_200_000;

export function sampleCandle(overrides: Partial<Candle> = {}): Candle {
  return {
    schemaVersion: 1,
    exchange: 'binanceusdm',
    symbol: 'BTC/USDT:USDT',
    eventTimeMs: SAMPLE_T0_MS,
    receivedAtMs: SAMPLE_T0_MS + 60_250,
    timeframe: '1m',
    openTimeMs: SAMPLE_T0_MS,
    open: 61_000.5,
    high: 61_050,
    low: 60_990.1,
    close: 61_020,
    volume: 12.5,
    quoteVolume: 762_500.25,
    trades: 431,
    closed: true,
    source: 'live',
    ...overrides,
  };
}

export function sampleOpenInterest(
  overrides: Partial<OpenInterestObservation> = {},
): OpenInterestObservation {
  return {
    schemaVersion: 1,
    exchange: 'binanceusdm',
    symbol: 'BTC/USDT:USDT',
    eventTimeMs: SAMPLE_T0_MS + 30_000,
    receivedAtMs: SAMPLE_T0_MS + 30_120,
    openInterest: 81_234.5,
    openInterestValue: 4_955_304_500,
    source: 'live',
    ...overrides,
  };
}

export function sampleFunding(overrides: Partial<FundingObservation> = {}): FundingObservation {
  return {
    schemaVersion: 1,
    exchange: 'binanceusdm',
    symbol: 'BTC/USDT:USDT',
    eventTimeMs: SAMPLE_T0_MS,
    receivedAtMs: SAMPLE_T0_MS + 1_500,
    kind: 'settled',
    fundingRate: 0.0001,
    fundingTimeMs: SAMPLE_T0_MS,
    markPrice: 61_001.2,
    indexPrice: null,
    source: 'backfill',
    ...overrides,
  };
}

export function sampleLiquidation(overrides: Partial<LiquidationEvent> = {}): LiquidationEvent {
  return {
    schemaVersion: 1,
    exchange: 'binanceusdm',
    symbol: 'BTC/USDT:USDT',
    eventTimeMs: SAMPLE_T0_MS + 12_345,
    receivedAtMs: SAMPLE_T0_MS + 12_400,
    side: 'sell',
    price: 60_995,
    amount: 0.25,
    source: 'live',
    ...overrides,
  };
}

export function sampleAlignedBar(overrides: Partial<AlignedBar> = {}): AlignedBar {
  return {
    schemaVersion: 1,
    exchange: 'binanceusdm',
    symbol: 'BTC/USDT:USDT',
    timeframe: '1m',
    eventTimeMs: SAMPLE_T0_MS,
    open: 61_000.5,
    high: 61_050,
    low: 60_990.1,
    close: 61_020,
    volume: 12.5,
    openInterest: 81_234.5,
    openInterestTimeMs: SAMPLE_T0_MS + 30_000,
    openInterestMissing: null,
    fundingRate: 0.0001,
    fundingTimeMs: SAMPLE_T0_MS,
    predictedFundingRate: null,
    predictedFundingTimeMs: null,
    fundingIntervalMs: 28_800_000,
    fundingRate8h: 0.0001,
    markPrice: 61_025.5,
    markPriceTimeMs: SAMPLE_T0_MS + 59_000,
    indexPrice: 61_000,
    indexPriceTimeMs: SAMPLE_T0_MS + 59_000,
    basis: 25.5 / 61_000,
    liqLongNotional: 15_248.75,
    liqShortNotional: 0,
    liqCount: 1,
    liqPriceKind: 'average_fill',
    liqCompleteness: 'snapshot_1s',
    knownAtMs: SAMPLE_T0_MS + 60_250,
    revision: 0,
    candleFilled: false,
    openInterestStale: false,
    fundingStale: false,
    ...overrides,
  };
}

export function sampleDeadLetter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    schemaVersion: 1,
    ruleId: 'ohlc.high_below_low',
    message: 'candle: high: must be ≥ low',
    stage: 'aligner',
    source: { topic: 'perpflow.raw.ohlcv.v1', partition: 3, offset: '1042' },
    key: 'binanceusdm|BTC/USDT:USDT',
    payload: '{"high":1,"low":2}',
    payloadEncoding: 'utf8',
    payloadBytes: 18,
    payloadTruncated: false,
    headers: { 'perpflow-schema': 'candle/v1' },
    exchange: 'binanceusdm',
    symbol: 'BTC/USDT:USDT',
    deadLetteredAtMs: SAMPLE_T0_MS + 61_000,
    ...overrides,
  };
}
