import { type Candle, type Timeframe, timeframeMs } from '@perpflow/contracts';
import type { QualityConfig } from '../config.js';
import { ruleHit } from '../record-rules.js';
import { median, medianAbsoluteDeviation } from '../robust-stats.js';
import type { RuleHit } from '../rules.js';

/** JSON form: the newest closes as [openTimeMs, close, volume], ascending by open time. */
export interface CandleSeriesSnapshot {
  lastOpenTimeMs: number | null;
  closes: [number, number, number][];
}

/**
 * Price rules over one candle series (exchange, symbol, timeframe): gaps in the
 * grid, jumps against the previous close, rolling median/MAD outliers and frozen
 * closes. Keeps only a window of recent closes.
 */
/** CandleSeries as it was up to 60bdc2f (selection over a fresh sample per candle): the reference its rewrite is tested against. */
export class CandleSeriesReference {
  private lastOpenTimeMs: number | null;
  private closes: [number, number, number][];

  constructor(
    readonly timeframe: Timeframe,
    snapshot?: CandleSeriesSnapshot,
  ) {
    this.lastOpenTimeMs = snapshot?.lastOpenTimeMs ?? null;
    this.closes = (snapshot?.closes ?? []).map((e) => [...e] as [number, number, number]);
  }

  /** The newest close and its close time, or null before the first candle. */
  lastClose(): { close: number; closeTimeMs: number } | null {
    const last = this.closes[this.closes.length - 1];
    return last ? { close: last[1], closeTimeMs: last[0] + timeframeMs(this.timeframe) } : null;
  }

  /** The price hits of a candle (new or revised). `isNew` says whether its open time was never seen. */
  check(c: Candle, isNew: boolean, config: QualityConfig): RuleHit[] {
    const hits: RuleHit[] = [];
    const add = (h: RuleHit | null) => {
      if (h) hits.push(h);
    };
    const tf = timeframeMs(this.timeframe);
    const label = `candle ${this.timeframe} openTimeMs ${c.openTimeMs}`;
    const newest = this.lastOpenTimeMs === null || c.openTimeMs > this.lastOpenTimeMs;

    if (isNew && newest && this.lastOpenTimeMs !== null) {
      const missing = Math.floor((c.openTimeMs - this.lastOpenTimeMs) / tf) - 1;
      if (missing > 0)
        add(
          ruleHit(
            config,
            'stream.gap',
            `${label}: ${missing} bar(s) missing since the previous candle at ${this.lastOpenTimeMs}`,
          ),
        );
    }

    const prev = this.previousOf(c.openTimeMs);
    if (prev) {
      const bars = Math.max(1, (c.openTimeMs - prev[0]) / tf);
      const limit = config.priceJump.maxRelativeChange[this.timeframe] * Math.sqrt(bars);
      const change = c.close / prev[1] - 1;
      if (Math.abs(change) > limit)
        add(
          ruleHit(
            config,
            'price.jump',
            `${label}: close ${c.close} is ${pct(change)} from the previous close ${prev[1]} at ${prev[0]} (limit ±${pct(limit)}: priceJump.maxRelativeChange.${this.timeframe} × sqrt(${bars} bars))`,
          ),
        );
    }

    const { window, minSamples, madThreshold, minRelativeMad } = config.outlier;
    const sample = this.recentCloses(c.openTimeMs, window);
    if (sample.length >= minSamples) {
      const m = median(sample);
      const mad = Math.max(medianAbsoluteDeviation(sample, m), m * minRelativeMad);
      const score = Math.abs(c.close - m) / mad;
      if (score > madThreshold)
        add(
          ruleHit(
            config,
            'price.outlier_mad',
            `${label}: close ${c.close} is ${score.toFixed(1)} MADs from the rolling median ${m} of ${sample.length} closes (MAD ${round(mad)}; outlier.madThreshold ${madThreshold})`,
          ),
        );
    }

    if (isNew && newest && c.volume > 0) {
      let run = 1;
      for (let i = this.closes.length - 1; i >= 0; i--) {
        const e = this.closes[i]!;
        if (e[2] === 0) continue; // no trades: repeating the previous close is expected
        if (e[1] !== c.close) break;
        run++;
      }
      if (run >= config.frozen.candleCloseRun)
        add(
          ruleHit(
            config,
            'value.frozen',
            `${label}: close ${c.close} repeated by ${run} traded candles in a row (frozen.candleCloseRun ${config.frozen.candleCloseRun})`,
          ),
        );
    }
    return hits;
  }

  /** Takes an accepted candle into the window. */
  remember(c: Candle, config: QualityConfig): void {
    const entry: [number, number, number] = [c.openTimeMs, c.close, c.volume];
    const i = this.closes.findIndex((e) => e[0] >= c.openTimeMs);
    if (i === -1) this.closes.push(entry);
    else if (this.closes[i]![0] === c.openTimeMs) this.closes[i] = entry;
    else this.closes.splice(i, 0, entry);
    const keep = Math.max(config.outlier.window, config.frozen.candleCloseRun);
    if (this.closes.length > keep) this.closes.splice(0, this.closes.length - keep);
    if (this.lastOpenTimeMs === null || c.openTimeMs > this.lastOpenTimeMs)
      this.lastOpenTimeMs = c.openTimeMs;
  }

  /** The newest `window` closes other than the one at `exceptOpenTimeMs` (newest first; order is irrelevant to a median). */
  private recentCloses(exceptOpenTimeMs: number, window: number): Float64Array {
    const out = new Float64Array(Math.min(window, this.closes.length));
    let n = 0;
    for (let i = this.closes.length - 1; i >= 0 && n < out.length; i--) {
      const e = this.closes[i]!;
      if (e[0] !== exceptOpenTimeMs) out[n++] = e[1];
    }
    return out.subarray(0, n);
  }

  private previousOf(openTimeMs: number): [number, number, number] | null {
    let prev: [number, number, number] | null = null;
    for (const e of this.closes) {
      if (e[0] >= openTimeMs) break;
      prev = e;
    }
    return prev;
  }

  snapshot(): CandleSeriesSnapshot {
    return {
      lastOpenTimeMs: this.lastOpenTimeMs,
      closes: this.closes.map((e) => [...e] as [number, number, number]),
    };
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function round(x: number): number {
  return Number(x.toPrecision(6));
}
