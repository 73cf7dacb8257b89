import type { AlignedBar } from '@perpflow/contracts';

/** The drift features of one (exchange, symbol) series, computed per aligned bar. */
export const DRIFT_FEATURES = [
  'log_return',
  'range',
  'volume',
  'open_interest_change',
  'funding_rate',
  'liquidation_notional',
  'basis',
] as const;
export type DriftFeature = (typeof DRIFT_FEATURES)[number];

/** Features compared across venues (the same symbol on other exchanges). */
export const CROSS_VENUE_FEATURES = ['funding_rate', 'open_interest_change'] as const;
export type CrossVenueFeature = (typeof CROSS_VENUE_FEATURES)[number];

/** The fields of an aligned bar the features read. */
export type BarPoint = Pick<
  AlignedBar,
  | 'eventTimeMs'
  | 'open'
  | 'high'
  | 'low'
  | 'close'
  | 'volume'
  | 'openInterest'
  | 'openInterestStale'
  | 'fundingRate'
  | 'predictedFundingRate'
  | 'liqLongNotional'
  | 'liqShortNotional'
  | 'candleFilled'
  | 'basis'
>;

/**
 * One feature of a bar, or null when the bar does not define it. `previous` is the
 * bar one timeframe earlier (null when missing: a gap yields no return/change).
 *
 * - log_return: ln(close / previous close); both bars real candles (not filled).
 * - range: ln(high / low) of a real candle (scale-free high-low range).
 * - volume: base volume of a real candle (filled bars are not observations).
 * - open_interest_change: ln(OI / previous OI), both known and not stale.
 * - funding_rate: the predicted (next) rate when the venue publishes one, else the
 *   settled rate in force; the predicted rate moves every minute, the settled one
 *   only every funding interval.
 * - liquidation_notional: long + short liquidated notional in the bar; null (skipped, not
 *   0) on a venue without a liquidation source, whose figures are null.
 * - basis: (mark − index) / index at the bar close, when both are known.
 */
export function featureOf(feature: DriftFeature, bar: BarPoint, previous: BarPoint | null): number | null {
  switch (feature) {
    case 'log_return':
      return previous && !bar.candleFilled && !previous.candleFilled && previous.close > 0 && bar.close > 0
        ? Math.log(bar.close / previous.close)
        : null;
    case 'range':
      return !bar.candleFilled && bar.low > 0 ? Math.log(bar.high / bar.low) : null;
    case 'volume':
      return bar.candleFilled ? null : bar.volume;
    case 'open_interest_change': {
      const a = previous?.openInterest;
      const b = bar.openInterest;
      return previous && !previous.openInterestStale && !bar.openInterestStale && a && b && a > 0 && b > 0
        ? Math.log(b / a)
        : null;
    }
    case 'funding_rate':
      return bar.predictedFundingRate ?? bar.fundingRate;
    case 'liquidation_notional':
      return bar.liqLongNotional === null || bar.liqShortNotional === null
        ? null
        : bar.liqLongNotional + bar.liqShortNotional;
    case 'basis':
      return bar.basis;
  }
}

/**
 * The values of one feature over bars with eventTimeMs in [fromMs, toMs), in time
 * order. `bars` must be sorted by eventTimeMs with one bar per time (the last
 * revision); the previous bar of each is looked up exactly one timeframe earlier.
 */
export function featureValues(
  bars: readonly BarPoint[],
  feature: DriftFeature,
  timeframeMs: number,
  fromMs: number,
  toMs: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < bars.length; i++) {
    const bar = bars[i] as BarPoint;
    if (bar.eventTimeMs < fromMs || bar.eventTimeMs >= toMs) continue;
    const prev = i > 0 ? (bars[i - 1] as BarPoint) : null;
    const v = featureOf(
      feature,
      bar,
      prev && prev.eventTimeMs === bar.eventTimeMs - timeframeMs ? prev : null,
    );
    if (v !== null && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/** The recent window and the trailing reference window before it, both [from, to) in event time. */
export interface DriftWindows {
  recent: { fromMs: number; toMs: number };
  reference: { fromMs: number; toMs: number };
}

/**
 * Windows ending at `endMs` (exclusive; pass the newest bar time + one timeframe):
 * recent = [end − recentMs, end), reference = [end − recentMs − referenceMs, end − recentMs).
 */
export function trailingWindows(endMs: number, recentMs: number, referenceMs: number): DriftWindows {
  const split = endMs - recentMs;
  return {
    recent: { fromMs: split, toMs: endMs },
    reference: { fromMs: split - referenceMs, toMs: split },
  };
}
