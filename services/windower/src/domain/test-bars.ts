import type { AlignedBar } from '@perpflow/contracts';

/** A valid aligned bar for tests; fields overridable. */
export function sampleBar(i: number, over: Partial<AlignedBar> = {}): AlignedBar {
  const t = Date.UTC(2024, 2, 1) + i * 60_000;
  const p = 100 + Math.sin(i / 7) * 10 + i * 1e-3;
  return {
    schemaVersion: 1,
    exchange: 'binanceusdm',
    symbol: 'BTC/USDT:USDT',
    timeframe: '1m',
    eventTimeMs: t,
    open: p,
    high: p + 1.25,
    low: p - 0.75,
    close: p + 0.5,
    volume: 10 + (i % 13) * 0.1,
    openInterest: i % 11 === 0 ? null : 1_000 + i,
    openInterestTimeMs: i % 11 === 0 ? null : t - 300_000,
    fundingRate: i % 5 === 0 ? null : 0.0001 * ((i % 7) - 3),
    fundingTimeMs: i % 5 === 0 ? null : t - 3_600_000,
    predictedFundingRate: null,
    predictedFundingTimeMs: null,
    liqLongNotional: i % 9 === 0 ? 1234.5 : 0,
    liqShortNotional: 0,
    liqCount: i % 9 === 0 ? 3 : 0,
    knownAtMs: t + 60_500,
    revision: 0,
    candleFilled: i % 17 === 0,
    openInterestStale: i % 23 === 0,
    fundingStale: false,
    ...over,
  };
}
