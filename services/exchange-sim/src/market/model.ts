import { hash32, normal, prng, uniform } from './random.js';

export const MINUTE = 60_000;
export const DAY = 86_400_000;
export const FUNDING_INTERVAL = 8 * 3_600_000;

export interface Kline {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quoteVolume: number;
  trades: number;
}

export interface Liquidation {
  time: number;
  /** Side of the liquidation ORDER: SELL closes a long. */
  side: 'BUY' | 'SELL';
  price: number;
  qty: number;
}

export interface ModelOptions {
  seed: number;
  /** Candles that do not exist at the venue (gaps): (symbol id, open time) → true. */
  isMissing?: (symbol: string, openTime: number) => boolean;
  /** From this time on, the symbol's volatility and volume are multiplied (a distribution shift). */
  shifts?: ReadonlyMap<string, { fromMs: number; volFactor: number; volumeFactor: number }>;
}

const BASE: Record<string, number> = { BTCUSDT: 60_000, ETHUSDT: 3_000, SOLUSDT: 150 };

/** The exchange symbols of a universe of n: the majors first, then S001USDT, S002USDT, ... */
export function symbolIds(n: number): string[] {
  const majors = Object.keys(BASE);
  const out = majors.slice(0, Math.min(n, majors.length));
  for (let i = 1; out.length < n; i++) out.push(`S${String(i).padStart(3, '0')}USDT`);
  return out;
}

/**
 * A deterministic, random-access market. The log price is a Brownian bridge
 * inside each UTC day between daily levels drawn from a smooth noise, so any
 * minute of any day is computed from that day alone (≈1440 draws, cached).
 * Volatility has daily regimes; volume follows |return|; open interest follows
 * price; funding settles every 8 h; liquidations come in bursts on big moves.
 */
export class MarketModel {
  private readonly dayCache = new Map<string, Kline[]>();

  constructor(readonly options: ModelOptions) {}

  basePrice(symbol: string): number {
    return BASE[symbol] ?? 1 + (hash32(this.options.seed, symbol, 'base') % 200_000) / 100;
  }

  /** Daily log level (relative to base): smooth value noise over days. */
  private level(symbol: string, day: number): number {
    const k = Math.floor(day / 7);
    const f = day / 7 - k;
    const a = (uniform(this.options.seed, symbol, 'lvl', k) - 0.5) * 0.6;
    const b = (uniform(this.options.seed, symbol, 'lvl', k + 1) - 0.5) * 0.6;
    const s = f * f * (3 - 2 * f);
    return a + (b - a) * s + (uniform(this.options.seed, symbol, 'day', day) - 0.5) * 0.04;
  }

  /** Per-minute volatility of the day: calm, normal or stormy regimes. */
  volatility(symbol: string, day: number, t: number): number {
    const r = uniform(this.options.seed, symbol, 'regime', day);
    let vol = r < 0.6 ? 0.0006 : r < 0.9 ? 0.0012 : 0.0028;
    const shift = this.options.shifts?.get(symbol);
    if (shift && t >= shift.fromMs) vol *= shift.volFactor;
    return vol;
  }

  /** The day's 1440 klines (including any that are missing at the venue). */
  private dayKlines(symbol: string, day: number): Kline[] {
    const key = `${symbol}|${day}`;
    const hit = this.dayCache.get(key);
    if (hit) return hit;
    const rand = prng(hash32(this.options.seed, symbol, 'minutes', day));
    const n = DAY / MINUTE;
    const vol = this.volatility(symbol, day, day * DAY);
    const steps: number[] = [];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = this.volatility(symbol, day, day * DAY + i * MINUTE) * (1 + 0.3 * normal(rand) ** 2);
      const x = normal(rand) * v;
      steps.push(x);
      sum += x;
    }
    const start = this.level(symbol, day);
    const end = this.level(symbol, day + 1);
    const correction = (end - start - sum) / n;
    const base = this.basePrice(symbol);
    const out: Kline[] = [];
    let lp = start;
    for (let i = 0; i < n; i++) {
      const openTime = day * DAY + i * MINUTE;
      const open = base * Math.exp(lp);
      lp += steps[i]! + correction;
      const close = base * Math.exp(lp);
      const wick = Math.abs(normal(rand)) * vol * 0.5;
      const high = Math.max(open, close) * (1 + wick);
      const low = Math.min(open, close) * (1 - Math.abs(normal(rand)) * vol * 0.5);
      const shift = this.options.shifts?.get(symbol);
      const volumeFactor = shift && openTime >= shift.fromMs ? shift.volumeFactor : 1;
      const ret = Math.abs(Math.log(close / open));
      const volume = (10 + ((4000 * ret) / vol) * (0.5 + rand())) * (100 / Math.sqrt(base)) * volumeFactor;
      out.push({
        openTime,
        open: round(open),
        high: round(high),
        low: round(low),
        close: round(close),
        volume: Math.round(volume * 1000) / 1000,
        quoteVolume: Math.round(volume * close * 100) / 100,
        trades: 20 + Math.floor(volume),
      });
    }
    if (this.dayCache.size > 4096) this.dayCache.clear();
    this.dayCache.set(key, out);
    return out;
  }

  /** The kline opening at openTime (a multiple of one minute), or null when the venue has a gap there. */
  kline(symbol: string, openTime: number): Kline | null {
    if (this.options.isMissing?.(symbol, openTime)) return null;
    const day = Math.floor(openTime / DAY);
    return this.dayKlines(symbol, day)[(openTime - day * DAY) / MINUTE] ?? null;
  }

  /** Klines with openTime in [from, to), in order, without the missing ones. */
  klines(symbol: string, from: number, to: number, limit: number): Kline[] {
    const out: Kline[] = [];
    for (let t = Math.ceil(from / MINUTE) * MINUTE; t < to && out.length < limit; t += MINUTE) {
      const k = this.kline(symbol, t);
      if (k) out.push(k);
    }
    return out;
  }

  /** Price at any millisecond: linear inside the minute (used for marks and OI). */
  priceAt(symbol: string, t: number): number {
    const open = Math.floor(t / MINUTE) * MINUTE;
    const day = Math.floor(open / DAY);
    const k = this.dayKlines(symbol, day)[(open - day * DAY) / MINUTE]!;
    const f = (t - open) / MINUTE;
    return round(k.open + (k.close - k.open) * f);
  }

  /** Open interest in base units at time t: follows price, with slow noise. */
  openInterest(symbol: string, t: number): number {
    const base = this.basePrice(symbol);
    const p = this.priceAt(symbol, t);
    const slot = Math.floor(t / 300_000);
    const wobble = 1 + 0.02 * (uniform(this.options.seed, symbol, 'oi', slot) - 0.5);
    return Math.round((1e8 / base) * (p / base) ** 0.5 * wobble * 1000) / 1000;
  }

  /** The rate settled at fundingTime (a multiple of 8 h). */
  fundingRate(symbol: string, fundingTime: number): number {
    const p1 = this.priceAt(symbol, fundingTime);
    const p0 = this.priceAt(symbol, fundingTime - FUNDING_INTERVAL);
    const momentum = Math.log(p1 / p0);
    const noise = (uniform(this.options.seed, symbol, 'funding', fundingTime) - 0.5) * 0.0002;
    return Math.round(Math.max(-0.0075, Math.min(0.0075, 0.0001 + momentum * 0.05 + noise)) * 1e8) / 1e8;
  }

  /** Liquidations with time in [from, to): bursts in the minutes with large moves. */
  liquidations(symbol: string, from: number, to: number): Liquidation[] {
    const out: Liquidation[] = [];
    for (let m = Math.floor(from / MINUTE) * MINUTE; m < to; m += MINUTE) {
      const k = this.kline(symbol, m) ?? null;
      if (!k) continue;
      const ret = Math.log(k.close / k.open);
      const vol = this.volatility(symbol, Math.floor(m / DAY), m);
      const intensity = Math.max(0, Math.abs(ret) / vol - 1.2);
      const rand = prng(hash32(this.options.seed, symbol, 'liq', m));
      const count = intensity > 0 ? Math.min(20, Math.floor(intensity * 3 * rand())) : rand() < 0.02 ? 1 : 0;
      for (let i = 0; i < count; i++) {
        const time = m + Math.floor(rand() * MINUTE);
        if (time < from || time >= to) continue;
        const side: 'BUY' | 'SELL' =
          ret < 0 ? (rand() < 0.85 ? 'SELL' : 'BUY') : rand() < 0.85 ? 'BUY' : 'SELL';
        const price = this.priceAt(symbol, time);
        const qty = Math.round(((5_000 + 50_000 * rand()) / price) * 1000) / 1000 || 0.001;
        out.push({ time, side, price, qty });
      }
    }
    return out.sort((a, b) => a.time - b.time || a.price - b.price);
  }
}

function round(x: number): number {
  return x >= 100
    ? Math.round(x * 10) / 10
    : x >= 1
      ? Math.round(x * 10_000) / 10_000
      : Math.round(x * 1e7) / 1e7;
}
