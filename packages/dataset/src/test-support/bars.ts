import type { AlignedBar, ExchangeId, Timeframe } from '@perpflow/contracts';
import {
  LIQUIDATION_SEMANTICS,
  OPEN_INTEREST_HISTORY,
  sampleAlignedBar,
  timeframeMs,
} from '@perpflow/contracts';

/** 2024-03-01T00:00:00Z */
export const T0 = 1_709_251_200_000;

/** A small deterministic PRNG (mulberry32) so generated bars depend only on the seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface SeriesOptions {
  exchange?: ExchangeId;
  symbol?: string;
  timeframe?: Timeframe;
  startMs?: number;
  count: number;
  seed?: number;
}

/** Consecutive bars of one series with varied values, nulls and flags. */
export function makeBars(o: SeriesOptions): AlignedBar[] {
  const rnd = prng(o.seed ?? 1);
  const tf = o.timeframe ?? '1m';
  const step = timeframeMs(tf);
  const start = o.startMs ?? T0;
  const out: AlignedBar[] = [];
  let price = 60_000 + rnd() * 1_000;
  for (let i = 0; i < o.count; i++) {
    const t = start + i * step;
    const open = price;
    price = Math.max(1, price * (1 + (rnd() - 0.5) * 0.002));
    const close = price;
    const high = Math.max(open, close) * (1 + rnd() * 0.0005);
    const low = Math.min(open, close) * (1 - rnd() * 0.0005);
    const hasOi = rnd() > 0.1;
    const hasFunding = rnd() > 0.2;
    const liq = rnd() > 0.8 ? Math.floor(rnd() * 5) + 1 : 0;
    const exchange = o.exchange ?? 'binanceusdm';
    // A venue without a liquidation source has null liquidation figures, never 0.
    const liqSource = LIQUIDATION_SEMANTICS[exchange].completeness !== 'none';
    const fundingRate = hasFunding ? (rnd() - 0.5) * 0.001 : null;
    // Intervals of 1, 4 and 8 h by series position; none for one bar in five with funding.
    const interval = fundingRate === null || i % 5 === 4 ? null : [3_600_000, 14_400_000, 28_800_000][i % 3]!;
    out.push(
      sampleAlignedBar({
        exchange,
        symbol: o.symbol ?? 'BTC/USDT:USDT',
        timeframe: tf,
        eventTimeMs: t,
        open,
        high,
        low,
        close,
        volume: rnd() * 100,
        openInterest: hasOi ? 80_000 + rnd() * 5_000 : null,
        openInterestTimeMs: hasOi ? t - Math.floor(rnd() * 300_000) : null,
        openInterestMissing: hasOi ? null : OPEN_INTEREST_HISTORY[exchange] ? 'not_observed' : 'no_history',
        fundingRate,
        fundingTimeMs: hasFunding ? Math.floor(t / 28_800_000) * 28_800_000 : null,
        predictedFundingRate: rnd() > 0.5 ? (rnd() - 0.5) * 0.001 : null,
        predictedFundingTimeMs: null,
        fundingIntervalMs: interval,
        fundingRate8h:
          fundingRate === null || interval === null ? null : (fundingRate * 28_800_000) / interval,
        // Mark and index for four bars in five, 1–59 s before the close; basis from them.
        markPrice: i % 5 === 1 ? null : close * 1.0002,
        markPriceTimeMs: i % 5 === 1 ? null : t + step - 1_000 - (i % 59) * 1_000,
        indexPrice: i % 5 === 1 ? null : close,
        indexPriceTimeMs: i % 5 === 1 ? null : t + step - 1_000 - (i % 59) * 1_000,
        basis: i % 5 === 1 ? null : (close * 1.0002 - close) / close,
        liqLongNotional: !liqSource ? null : liq > 0 ? rnd() * 50_000 : 0,
        liqShortNotional: !liqSource ? null : liq > 0 ? rnd() * 50_000 : 0,
        liqCount: liqSource ? liq : null,
        liqPriceKind: LIQUIDATION_SEMANTICS[exchange].priceKind,
        liqCompleteness: LIQUIDATION_SEMANTICS[exchange].completeness,
        knownAtMs: t + step + Math.floor(rnd() * 2_000),
        revision: 0,
        candleFilled: rnd() > 0.97,
        openInterestStale: !hasOi && rnd() > 0.5,
        fundingStale: rnd() > 0.95,
      }),
    );
  }
  return out;
}
