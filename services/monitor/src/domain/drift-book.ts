import { type AlignedBar, type Timeframe, timeframeMs } from '@perpflow/contracts';
import {
  type BarPoint,
  type CompareOptions,
  CROSS_VENUE_FEATURES,
  compareAcrossVenues,
  compareSamples,
  type DriftComparison,
  type DriftFeature,
  featureValues,
  trailingWindows,
} from '@perpflow/drift';

export interface DriftBookOptions {
  exchanges: readonly string[];
  symbols: readonly string[];
  timeframe: Timeframe;
  features: readonly DriftFeature[];
  /** Compare funding rate and open-interest change with the same symbol on the other exchanges. */
  crossVenue: boolean;
  recentMs: number;
  referenceMs: number;
  /** Fewer values than this in a window: no comparison. */
  minSamples: number;
  compare: CompareOptions;
}

/** A pinned reference per `<exchange>|<symbol>|<feature>` (see drift-baseline.ts). */
export type Baseline = ReadonlyMap<string, readonly number[]>;

export type ComparisonKind = 'trailing' | 'baseline' | 'cross_venue';

export interface DriftResult extends DriftComparison {
  exchange: string;
  symbol: string;
  /** A drift feature, or `<feature>_vs_venues` for the cross-venue comparison. */
  feature: string;
  kind: ComparisonKind;
  recentFromMs: number;
  recentToMs: number;
}

export interface SkippedComparison {
  exchange: string;
  symbol: string;
  feature: string;
  reason: 'no_bars' | 'too_few_recent' | 'too_few_reference';
  recentCount: number;
  referenceCount: number;
}

export const crossVenueFeatureName = (f: string): string => `${f}_vs_venues`;
export const seriesKey = (exchange: string, symbol: string): string => `${exchange}|${symbol}`;

interface Series {
  bars: BarPoint[];
  revisions: number[];
}

/**
 * The recent and reference windows of every configured (exchange, symbol) series,
 * kept as the last revision of each bar, and their comparison. Pure: the caller
 * feeds bars and asks for an evaluation; nothing here reads the clock.
 */
export class DriftBook {
  private readonly series = new Map<string, Series>();
  private readonly exchanges: ReadonlySet<string>;
  private readonly symbols: ReadonlySet<string>;
  private readonly tfMs: number;

  constructor(private readonly options: DriftBookOptions) {
    this.exchanges = new Set(options.exchanges);
    this.symbols = new Set(options.symbols);
    this.tfMs = timeframeMs(options.timeframe);
  }

  /** Keeps a bar of a configured series (a later revision replaces an earlier one). */
  add(bar: AlignedBar): 'kept' | 'other_series' | 'other_timeframe' | 'old_revision' {
    if (!this.exchanges.has(bar.exchange) || !this.symbols.has(bar.symbol)) return 'other_series';
    if (bar.timeframe !== this.options.timeframe) return 'other_timeframe';
    const key = seriesKey(bar.exchange, bar.symbol);
    let s = this.series.get(key);
    if (!s) {
      s = { bars: [], revisions: [] };
      this.series.set(key, s);
    }
    const i = lowerBound(s.bars, bar.eventTimeMs);
    if (s.bars[i]?.eventTimeMs === bar.eventTimeMs) {
      if (bar.revision < (s.revisions[i] as number)) return 'old_revision';
      s.bars[i] = pointOf(bar);
      s.revisions[i] = bar.revision;
    } else {
      s.bars.splice(i, 0, pointOf(bar));
      s.revisions.splice(i, 0, bar.revision);
    }
    this.prune(s);
    return 'kept';
  }

  /** Bars held per series (for tests and the log). */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.series].map(([k, s]) => [k, s.bars.length]));
  }

  /** Newest bar time of a series, or null. */
  newestBarMs(exchange: string, symbol: string): number | null {
    const bars = this.series.get(seriesKey(exchange, symbol))?.bars;
    return bars && bars.length > 0 ? (bars[bars.length - 1] as BarPoint).eventTimeMs : null;
  }

  /**
   * Compares every configured series and feature: the recent window (ending after
   * the series' newest bar) against the trailing window before it, or against the
   * pinned baseline when one is given; then the cross-venue comparisons.
   */
  evaluate(baseline?: Baseline): { results: DriftResult[]; skipped: SkippedComparison[] } {
    const { recentMs, referenceMs, minSamples, features } = this.options;
    const results: DriftResult[] = [];
    const skipped: SkippedComparison[] = [];
    for (const exchange of this.options.exchanges)
      for (const symbol of this.options.symbols) {
        const s = this.series.get(seriesKey(exchange, symbol));
        const newest = s?.bars[s.bars.length - 1];
        for (const feature of features) {
          if (!s || !newest) {
            skipped.push({ exchange, symbol, feature, reason: 'no_bars', recentCount: 0, referenceCount: 0 });
            continue;
          }
          const w = trailingWindows(newest.eventTimeMs + this.tfMs, recentMs, referenceMs);
          const recent = featureValues(s.bars, feature, this.tfMs, w.recent.fromMs, w.recent.toMs);
          const pinned = baseline?.get(`${exchange}|${symbol}|${feature}`);
          const reference =
            baseline !== undefined
              ? (pinned ?? [])
              : featureValues(s.bars, feature, this.tfMs, w.reference.fromMs, w.reference.toMs);
          const short =
            recent.length < minSamples
              ? 'too_few_recent'
              : reference.length < minSamples
                ? 'too_few_reference'
                : null;
          if (short) {
            skipped.push({
              exchange,
              symbol,
              feature,
              reason: short,
              recentCount: recent.length,
              referenceCount: reference.length,
            });
            continue;
          }
          results.push({
            exchange,
            symbol,
            feature,
            kind: baseline !== undefined ? 'baseline' : 'trailing',
            recentFromMs: w.recent.fromMs,
            recentToMs: w.recent.toMs,
            ...compareSamples(reference, recent, this.options.compare),
          });
        }
      }
    if (this.options.crossVenue && this.options.exchanges.length > 1)
      results.push(...this.crossVenue(skipped));
    return { results, skipped };
  }

  private crossVenue(skipped: SkippedComparison[]): DriftResult[] {
    const { recentMs, minSamples, exchanges } = this.options;
    const out: DriftResult[] = [];
    for (const symbol of this.options.symbols)
      for (const exchange of exchanges) {
        const own = this.series.get(seriesKey(exchange, symbol));
        const newest = own?.bars[own.bars.length - 1];
        if (!own || !newest) continue;
        const toMs = newest.eventTimeMs + this.tfMs;
        const fromMs = toMs - recentMs;
        for (const feature of CROSS_VENUE_FEATURES) {
          const name = crossVenueFeatureName(feature);
          const mine = featureValues(own.bars, feature, this.tfMs, fromMs, toMs);
          const others = exchanges
            .filter((e) => e !== exchange)
            .map((e) => this.series.get(seriesKey(e, symbol)))
            .filter((s): s is Series => s !== undefined)
            .map((s) => featureValues(s.bars, feature, this.tfMs, fromMs, toMs));
          const pooled = others.reduce((n, v) => n + v.length, 0);
          if (mine.length < minSamples || pooled < minSamples) {
            skipped.push({
              exchange,
              symbol,
              feature: name,
              reason: mine.length < minSamples ? 'too_few_recent' : 'too_few_reference',
              recentCount: mine.length,
              referenceCount: pooled,
            });
            continue;
          }
          const c = compareAcrossVenues(mine, others, this.options.compare);
          if (c)
            out.push({
              exchange,
              symbol,
              feature: name,
              kind: 'cross_venue',
              recentFromMs: fromMs,
              recentToMs: toMs,
              ...c,
            });
        }
      }
    return out;
  }

  /** Drops bars older than both windows (one extra bar for the first return). */
  private prune(s: Series): void {
    const newest = s.bars[s.bars.length - 1];
    if (!newest) return;
    const keepFrom =
      newest.eventTimeMs + this.tfMs - this.options.recentMs - this.options.referenceMs - this.tfMs;
    const drop = lowerBound(s.bars, keepFrom);
    if (drop > 0) {
      s.bars.splice(0, drop);
      s.revisions.splice(0, drop);
    }
  }
}

function lowerBound(bars: readonly BarPoint[], t: number): number {
  let lo = 0;
  let hi = bars.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((bars[mid] as BarPoint).eventTimeMs < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function pointOf(b: AlignedBar): BarPoint {
  return {
    eventTimeMs: b.eventTimeMs,
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume: b.volume,
    openInterest: b.openInterest,
    openInterestStale: b.openInterestStale,
    fundingRate: b.fundingRate,
    predictedFundingRate: b.predictedFundingRate,
    liqLongNotional: b.liqLongNotional,
    liqShortNotional: b.liqShortNotional,
    candleFilled: b.candleFilled,
    basis: b.basis,
  };
}
