import { BlockRandom, hashInts, roundTo, unit, valueNoise } from './random.js';
import { openInterestAt, fundingSettlementAt, liquidationHourOf } from './derivatives.js';
import { Lru } from './lru.js';
import { buildSymbols, type SymbolSpec } from './symbols.js';
import {
  type Candle,
  DAY_MS,
  type DistributionShift,
  type FundingSettlement,
  HOUR_MS,
  type LiquidationEvent,
  MINUTE_MS,
  type OpenInterestPoint,
  type PremiumIndex,
  type PriceSpike,
} from './types.js';

export interface MarketModelOptions {
  seed: number;
  /** Number of listed symbols. Default 500. */
  symbolCount?: number;
  /** Share of 1m candles the venue never publishes (deterministic per symbol and minute). Default 0. */
  missingCandleRate?: number;
  /** Mean liquidation bursts per symbol per hour (scaled by the volatility regime). Default 1. */
  liquidationBurstsPerHour?: number;
  shifts?: DistributionShift[];
  spikes?: PriceSpike[];
  /** Day blocks (one symbol × one UTC day of 1m candles, ~80 kB each) kept in memory. Default 1500. */
  blockCacheSize?: number;
}

const MINUTES_PER_DAY = 1440;
const NO_SHIFT = { vol: 1, volume: 1 };
const QUOTE_DECIMALS = 4;

/** One symbol × one UTC day of final 1m candles (before spikes), columns as typed arrays. */
interface DayBlock {
  open0: number;
  close: Float64Array;
  high: Float64Array;
  low: Float64Array;
  volume: Float64Array;
  quoteVolume: Float64Array;
  trades: Float64Array;
  takerBuy: Float64Array;
}

export class UnknownSymbolError extends Error {
  readonly code = 'UNKNOWN_SYMBOL';
  readonly retriable = false;
  constructor(readonly symbol: string) {
    super(`unknown symbol ${symbol}`);
  }
}

/**
 * The deterministic market: from a seed, every 1m candle, open interest,
 * funding settlement and liquidation of every symbol is computable for any
 * time range on its own, without generating history before it.
 *
 * Prices follow a random walk with volatility regimes inside each UTC day,
 * pinned at day boundaries to anchors drawn from multi-scale value noise, so
 * day blocks are independent yet chain exactly (a day's first open is the
 * previous day's last close). All values are rounded to the symbol's decimals
 * and are the doubles of their decimal strings.
 */
export class MarketModel {
  readonly seed: number;
  readonly symbols: readonly SymbolSpec[];
  private readonly bySymbol = new Map<string, SymbolSpec>();
  private missingCandleRate: number;
  private readonly burstsPerHour: number;
  private shifts: DistributionShift[];
  private spikes: PriceSpike[];
  private readonly blocks: Lru<DayBlock>;
  private readonly liquidationBlocks = new Lru<LiquidationEvent[]>(20_000);

  constructor(options: MarketModelOptions) {
    this.seed = options.seed;
    this.symbols = buildSymbols(options.seed, options.symbolCount ?? 500);
    for (const s of this.symbols) this.bySymbol.set(s.id, s);
    this.missingCandleRate = options.missingCandleRate ?? 0;
    this.burstsPerHour = options.liquidationBurstsPerHour ?? 1;
    this.shifts = [...(options.shifts ?? [])];
    this.spikes = [...(options.spikes ?? [])];
    this.blocks = new Lru(options.blockCacheSize ?? 1500);
  }

  spec(symbol: string): SymbolSpec {
    const s = this.bySymbol.get(symbol);
    if (!s) throw new UnknownSymbolError(symbol);
    return s;
  }

  hasSymbol(symbol: string): boolean {
    return this.bySymbol.has(symbol);
  }

  // ---- overlays (faults that change what the market IS, so ground truth knows them) ----

  get overlays(): {
    missingCandleRate: number;
    shifts: readonly DistributionShift[];
    spikes: readonly PriceSpike[];
  } {
    return { missingCandleRate: this.missingCandleRate, shifts: this.shifts, spikes: this.spikes };
  }

  setMissingCandleRate(rate: number): void {
    this.missingCandleRate = rate;
  }

  addShift(shift: DistributionShift): void {
    this.spec(shift.symbol);
    this.shifts.push(shift);
    const key = this.spec(shift.symbol).id;
    const fromDay = Math.floor(shift.fromMs / DAY_MS);
    this.blocks.deleteWhere((k) => {
      const [sym, day] = k.split('|');
      return sym === key && Number(day) >= fromDay;
    });
    this.liquidationBlocks.deleteWhere((k) => k.startsWith(`${key}|`));
  }

  addSpike(spike: PriceSpike): void {
    this.spec(spike.symbol);
    this.spikes.push(spike);
  }

  /** Drops every overlay but the missing-candle rate given at construction. */
  resetOverlays(
    missingCandleRate: number,
    shifts: DistributionShift[] = [],
    spikes: PriceSpike[] = [],
  ): void {
    this.missingCandleRate = missingCandleRate;
    this.shifts = [...shifts];
    this.spikes = [...spikes];
    this.blocks.clear();
    this.liquidationBlocks.clear();
  }

  // ---- candles ----

  /** True when the venue never publishes this 1m candle (REST omits it, WS never pushes it). */
  isMissingCandle(symbol: string, minuteMs: number): boolean {
    if (this.missingCandleRate <= 0) return false;
    const s = this.spec(symbol);
    return unit(hashInts(s.key, Math.floor(minuteMs / MINUTE_MS), 0x6d15)) < this.missingCandleRate;
  }

  /** The final 1m candle opening at `minuteMs` (floored to the minute), published or not. */
  candle1m(symbol: string, minuteMs: number): Candle {
    const s = this.spec(symbol);
    const t = Math.floor(minuteMs / MINUTE_MS) * MINUTE_MS;
    const raw = this.rawCandle(s, t);
    return this.applySpikes(s, raw);
  }

  /**
   * Final candles of `intervalMs` whose open time is in [fromMs, toMs], in time
   * order. 1m candles the venue never publishes are left out; longer candles
   * aggregate every minute. The caller bounds `toMs` by "now".
   */
  candles(symbol: string, intervalMs: number, fromMs: number, toMs: number): Candle[] {
    const s = this.spec(symbol);
    const out: Candle[] = [];
    const first = Math.max(
      Math.ceil(fromMs / intervalMs) * intervalMs,
      Math.ceil(s.onboardMs / intervalMs) * intervalMs,
    );
    for (let t = first; t <= toMs; t += intervalMs) {
      if (intervalMs === MINUTE_MS) {
        if (this.isMissingCandle(symbol, t)) continue;
        out.push(this.applySpikes(s, this.rawCandle(s, t)));
      } else {
        out.push(this.aggregate(s, t, intervalMs, t + intervalMs));
      }
    }
    return out;
  }

  /**
   * The candle opening at `openTimeMs` as seen at `nowMs` (openTimeMs ≤ nowMs <
   * openTimeMs + intervalMs): prices move linearly from the open toward the final
   * close, extremes and volume grow with elapsed time, and at the end it equals the
   * final candle.
   */
  partialCandle(symbol: string, intervalMs: number, openTimeMs: number, nowMs: number): Candle {
    const s = this.spec(symbol);
    const minute = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
    const p = Math.min(1, Math.max(0, (nowMs - minute) / MINUTE_MS));
    const final = this.applySpikes(s, this.rawCandle(s, minute));
    const d = s.priceDecimals;
    const close = roundTo(final.open + (final.close - final.open) * p, d);
    const high = roundTo(
      Math.max(final.open, close) + (final.high - Math.max(final.open, final.close)) * p,
      d,
    );
    const low = roundTo(Math.min(final.open, close) - (Math.min(final.open, final.close) - final.low) * p, d);
    const current: Candle = {
      ...final,
      close,
      high: Math.max(high, final.open, close),
      low: Math.min(low, final.open, close),
      volume: roundTo(final.volume * p, s.qtyDecimals),
      quoteVolume: roundTo(final.quoteVolume * p, QUOTE_DECIMALS),
      trades: Math.floor(final.trades * p),
      takerBuyVolume: roundTo(final.takerBuyVolume * p, s.qtyDecimals),
      takerBuyQuoteVolume: roundTo(final.takerBuyQuoteVolume * p, QUOTE_DECIMALS),
    };
    if (intervalMs === MINUTE_MS) return current;
    if (minute === openTimeMs) return { ...current, intervalMs };
    const done = this.aggregate(s, openTimeMs, intervalMs, minute);
    return this.merge(s, done, current, intervalMs);
  }

  private aggregate(s: SymbolSpec, openTimeMs: number, intervalMs: number, endMs: number): Candle {
    let acc: Candle | undefined;
    for (let t = openTimeMs; t < endMs; t += MINUTE_MS) {
      const c = this.applySpikes(s, this.rawCandle(s, t));
      acc = acc ? this.merge(s, acc, c, intervalMs) : { ...c, intervalMs };
    }
    return acc as Candle;
  }

  private merge(s: SymbolSpec, a: Candle, b: Candle, intervalMs: number): Candle {
    return {
      symbol: a.symbol,
      openTimeMs: a.openTimeMs,
      intervalMs,
      open: a.open,
      high: Math.max(a.high, b.high),
      low: Math.min(a.low, b.low),
      close: b.close,
      volume: roundTo(a.volume + b.volume, s.qtyDecimals),
      quoteVolume: roundTo(a.quoteVolume + b.quoteVolume, QUOTE_DECIMALS),
      trades: a.trades + b.trades,
      takerBuyVolume: roundTo(a.takerBuyVolume + b.takerBuyVolume, s.qtyDecimals),
      takerBuyQuoteVolume: roundTo(a.takerBuyQuoteVolume + b.takerBuyQuoteVolume, QUOTE_DECIMALS),
    };
  }

  private rawCandle(s: SymbolSpec, t: number): Candle {
    const day = Math.floor(t / DAY_MS);
    const i = (t - day * DAY_MS) / MINUTE_MS;
    const b = this.dayBlock(s, day);
    const open = i === 0 ? b.open0 : (b.close[i - 1] as number);
    return {
      symbol: s.id,
      openTimeMs: t,
      intervalMs: MINUTE_MS,
      open,
      high: b.high[i] as number,
      low: b.low[i] as number,
      close: b.close[i] as number,
      volume: b.volume[i] as number,
      quoteVolume: b.quoteVolume[i] as number,
      trades: b.trades[i] as number,
      takerBuyVolume: b.takerBuy[i] as number,
      takerBuyQuoteVolume: roundTo(
        (b.takerBuy[i] as number) * ((b.quoteVolume[i] as number) / Math.max(b.volume[i] as number, 1e-12)),
        QUOTE_DECIMALS,
      ),
    };
  }

  private applySpikes(s: SymbolSpec, c: Candle): Candle {
    if (this.spikes.length === 0) return c;
    let out = c;
    for (const sp of this.spikes) {
      if (sp.symbol !== s.id) continue;
      const end = sp.fromMs + sp.minutes * MINUTE_MS;
      const inside = c.openTimeMs >= sp.fromMs - (sp.fromMs % MINUTE_MS) && c.openTimeMs < end;
      const after = c.openTimeMs >= end && c.openTimeMs < end + MINUTE_MS;
      if (!inside && !after) continue;
      const d = s.priceDecimals;
      const f = sp.factor;
      const first = c.openTimeMs <= sp.fromMs;
      const open = inside ? (first ? out.open : roundTo(out.open * f, d)) : roundTo(out.open * f, d);
      const close = inside ? roundTo(out.close * f, d) : out.close;
      const high = inside ? roundTo(out.high * f, d) : out.high;
      const low = inside ? roundTo(out.low * f, d) : out.low;
      out = {
        ...out,
        open,
        close,
        high: Math.max(high, open, close),
        low: Math.min(low, open, close),
      };
    }
    return out;
  }

  private anchorLog(s: SymbolSpec, day: number): number {
    let x = Math.log(s.basePrice);
    for (let k = 0; k < 9; k++) {
      const scale = 2 ** k;
      x += s.dailyVol * Math.sqrt(scale) * 0.5 * valueNoise(hashInts(s.key, 0xa0 + k), day / scale);
    }
    return x;
  }

  /** Volatility regime multiplier of an hour (persistent over ~8 h). */
  regime(symbol: string, hourIndex: number): number {
    const s = this.spec(symbol);
    return Math.exp(0.45 * valueNoise(hashInts(s.key, 0xbe), hourIndex / 8));
  }

  private shiftAt(s: SymbolSpec, t: number): { vol: number; volume: number } {
    let vol = 1;
    let volume = 1;
    for (const sh of this.shifts) {
      if (sh.symbol === s.id && t >= sh.fromMs) {
        vol = sh.volatilityFactor;
        volume = sh.volumeFactor;
      }
    }
    return { vol, volume };
  }

  private dayBlock(s: SymbolSpec, day: number): DayBlock {
    const key = `${s.id}|${day}`;
    const hit = this.blocks.get(key);
    if (hit) return hit;
    const block = this.generateDay(s, day);
    this.blocks.set(key, block);
    return block;
  }

  private generateDay(s: SymbolSpec, day: number): DayBlock {
    const n = MINUTES_PER_DAY;
    const rng = new BlockRandom(hashInts(s.key, day, 0xd4));
    const a0 = this.anchorLog(s, day);
    const a1 = this.anchorLog(s, day + 1);
    const sigma = s.dailyVol / Math.sqrt(n);
    // Base increments are bridged to the next anchor; a distribution shift adds an
    // extra part that is bridged back to zero within the shifted minutes only, so
    // minutes before a shift are identical with and without it.
    const inc = new Float64Array(n);
    const extra = new Float64Array(n);
    const volF = new Float64Array(n);
    const vol = new Float64Array(n);
    const regimes = new Float64Array(n);
    const hasShift = this.shifts.some((sh) => sh.symbol === s.id);
    let sum = 0;
    let extraSum = 0;
    let shifted = 0;
    for (let i = 0; i < n; i++) {
      const t = day * DAY_MS + i * MINUTE_MS;
      if (i % 60 === 0) {
        const r = this.regime(s.id, Math.floor(t / HOUR_MS));
        for (let j = i; j < Math.min(n, i + 60); j++) regimes[j] = r;
      }
      const shift = hasShift ? this.shiftAt(s, t) : NO_SHIFT;
      volF[i] = shift.volume;
      vol[i] = shift.vol;
      let g = rng.gauss();
      if (rng.next() < 0.01) g *= 4;
      const e = sigma * (regimes[i] as number) * g;
      inc[i] = e;
      sum += e;
      if (shift.vol !== 1) {
        extra[i] = e * (shift.vol - 1);
        extraSum += extra[i] as number;
        shifted++;
      }
    }
    const drift = (a1 - a0 - sum) / n;
    const extraDrift = shifted > 0 ? extraSum / shifted : 0;
    const b: DayBlock = {
      open0: roundTo(Math.exp(a0), s.priceDecimals),
      close: new Float64Array(n),
      high: new Float64Array(n),
      low: new Float64Array(n),
      volume: new Float64Array(n),
      quoteVolume: new Float64Array(n),
      trades: new Float64Array(n),
      takerBuy: new Float64Array(n),
    };
    const d = s.priceDecimals;
    const step = 10 ** -s.qtyDecimals;
    let level = a0;
    let open = b.open0;
    for (let i = 0; i < n; i++) {
      const x = vol[i] === 1 ? 0 : (extra[i] as number) - extraDrift;
      const e = (inc[i] as number) + x;
      level += e + drift;
      const close = i === n - 1 ? roundTo(Math.exp(a1), d) : roundTo(Math.exp(level), d);
      const r = regimes[i] as number;
      const wick = sigma * r * (vol[i] as number);
      const high = roundTo(Math.max(open, close) * Math.exp(Math.abs(rng.gauss()) * wick * 0.6), d);
      const low = roundTo(Math.min(open, close) * Math.exp(-Math.abs(rng.gauss()) * wick * 0.6), d);
      const activity = 1 + (0.5 * Math.abs(e)) / Math.max(sigma, 1e-12);
      const rawVolume =
        s.volumePerMinute * r ** 0.7 * (volF[i] as number) * Math.exp(0.6 * rng.gauss() - 0.18) * activity;
      const volume = Math.max(step, roundTo(rawVolume, s.qtyDecimals));
      const vwap = (open + high + low + close) / 4;
      const avgTrade = 400 * (1 + rng.next());
      b.close[i] = close;
      b.high[i] = Math.max(high, open, close);
      b.low[i] = Math.min(low, open, close);
      b.volume[i] = volume;
      b.quoteVolume[i] = roundTo(volume * vwap, QUOTE_DECIMALS);
      b.trades[i] = Math.max(1, Math.round((volume * vwap) / avgTrade));
      b.takerBuy[i] = roundTo(volume * (0.35 + 0.3 * rng.next()), s.qtyDecimals);
      open = close;
    }
    return b;
  }

  // ---- open interest ----

  /** Open interest at the minute boundary at or before `timeMs` (priced at the last closed minute). */
  openInterest(symbol: string, timeMs: number): OpenInterestPoint {
    const s = this.spec(symbol);
    return openInterestAt(s, symbol, timeMs, (m) => this.rawCandle(s, m).close);
  }

  /** Open interest every `periodMs` (≥ 5 min) with timestamps in [fromMs, toMs]. */
  openInterestHistory(symbol: string, periodMs: number, fromMs: number, toMs: number): OpenInterestPoint[] {
    const out: OpenInterestPoint[] = [];
    for (let t = Math.ceil(fromMs / periodMs) * periodMs; t <= toMs; t += periodMs)
      out.push(this.openInterest(symbol, t));
    return out;
  }

  // ---- funding ----

  /** The symbol's funding interval (ms): 8 h for most, 4 h or 1 h for some. */
  fundingIntervalMs(symbol: string): number {
    return this.spec(symbol).fundingIntervalMs;
  }

  /** The settlement at `fundingTimeMs` (a multiple of the symbol's interval). */
  fundingSettlement(symbol: string, fundingTimeMs: number): FundingSettlement {
    const s = this.spec(symbol);
    return fundingSettlementAt(s, symbol, fundingTimeMs, (m) => this.rawCandle(s, m).close);
  }

  /** Settlements with fundingTime in [fromMs, toMs], oldest first. */
  fundingHistory(symbol: string, fromMs: number, toMs: number): FundingSettlement[] {
    const out: FundingSettlement[] = [];
    const s = this.spec(symbol);
    const interval = s.fundingIntervalMs;
    const first = Math.max(Math.ceil(fromMs / interval), Math.ceil(s.onboardMs / interval));
    for (let k = first; k * interval <= toMs; k++) out.push(this.fundingSettlement(symbol, k * interval));
    return out;
  }

  /** Mark/index price and the funding rate that will settle next, as seen at `nowMs`. */
  premiumIndex(symbol: string, nowMs: number): PremiumIndex {
    const s = this.spec(symbol);
    const interval = s.fundingIntervalMs;
    const next = Math.floor(nowMs / interval) * interval + interval;
    const rate = this.fundingSettlement(symbol, next).rate;
    const minute = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
    const price = this.partialCandle(symbol, MINUTE_MS, minute, nowMs).close;
    return {
      symbol: s.id,
      markPrice: roundTo(price * (1 + rate), 8),
      indexPrice: roundTo(price, 8),
      estimatedSettlePrice: roundTo(price * (1 + rate / 2), 8),
      lastFundingRate: rate,
      interestRate: 0.0001,
      nextFundingTimeMs: next,
      timeMs: nowMs,
    };
  }

  // ---- liquidations ----

  /** Liquidations of one symbol with timeMs in [fromMs, toMs), oldest first. */
  liquidations(symbol: string, fromMs: number, toMs: number): LiquidationEvent[] {
    const s = this.spec(symbol);
    const out: LiquidationEvent[] = [];
    for (let h = Math.floor(fromMs / HOUR_MS) - 1; h <= Math.floor(toMs / HOUR_MS); h++) {
      for (const ev of this.liquidationHour(s, h)) if (ev.timeMs >= fromMs && ev.timeMs < toMs) out.push(ev);
    }
    return out;
  }

  /** Every symbol's liquidations with timeMs in [fromMs, toMs), by time. */
  allLiquidations(fromMs: number, toMs: number): LiquidationEvent[] {
    const out: LiquidationEvent[] = [];
    for (const s of this.symbols) out.push(...this.liquidations(s.id, fromMs, toMs));
    return out.sort((a, b) => a.timeMs - b.timeMs || (a.symbol < b.symbol ? -1 : 1));
  }

  /**
   * The first whole second t ≥ fromMs with at least `count` liquidations of `symbol`
   * (every symbol when undefined) in [t, t + withinMs). A test that waits for live
   * liquidations moves its clock there first: how many fall in the next few seconds
   * otherwise depends on the hour the test runs. Searches 7 days, then throws.
   */
  liquidationBurstStart(symbol: string | undefined, fromMs: number, count: number, withinMs: number): number {
    const start = Math.ceil(fromMs / 1000) * 1000;
    for (let h = Math.floor(start / HOUR_MS); h < Math.floor(start / HOUR_MS) + 7 * 24; h++) {
      const lo = Math.max(start, h * HOUR_MS);
      const hi = (h + 1) * HOUR_MS + withinMs;
      const evs = symbol === undefined ? this.allLiquidations(lo, hi) : this.liquidations(symbol, lo, hi);
      for (let i = 0; i + count - 1 < evs.length; i++) {
        const first = (evs[i] as LiquidationEvent).timeMs;
        if (first >= (h + 1) * HOUR_MS) break;
        // The earliest whole second whose span reaches the run's last event.
        const last = (evs[i + count - 1] as LiquidationEvent).timeMs;
        const t = Math.max(start, Math.ceil((last - withinMs + 1) / 1000) * 1000);
        if (t <= first) return t;
      }
    }
    throw new Error(
      `no ${count} liquidations of ${symbol ?? 'any symbol'} within ${withinMs} ms in the 7 days from ${new Date(start).toISOString()}`,
    );
  }

  private liquidationHour(s: SymbolSpec, hour: number): LiquidationEvent[] {
    const key = `${s.id}|${hour}`;
    const hit = this.liquidationBlocks.get(key);
    if (hit) return hit;
    const events = liquidationHourOf(s, hour, this.burstsPerHour * this.regime(s.id, hour), (m) =>
      this.rawCandle(s, m),
    );
    this.liquidationBlocks.set(key, events);
    return events;
  }
}

export function createMarketModel(options: MarketModelOptions): MarketModel {
  return new MarketModel(options);
}
