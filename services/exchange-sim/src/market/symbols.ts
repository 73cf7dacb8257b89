import { hashInts, hashString, unit } from './random.js';

/** One listed perpetual of the simulated market (USDT-margined, linear). */
export interface SymbolSpec {
  /** Venue id, e.g. `BTCUSDT`. */
  id: string;
  base: string;
  quote: 'USDT';
  /** Stable key for hashing. */
  key: number;
  /** Centre of the price's stationary range. */
  basePrice: number;
  /** Decimals of prices (tick = 10^-priceDecimals). */
  priceDecimals: number;
  /** Decimals of quantities (step = 10^-qtyDecimals). */
  qtyDecimals: number;
  /** Typical daily log-volatility. */
  dailyVol: number;
  /** Typical base-asset volume per minute. */
  volumePerMinute: number;
  /** Typical open interest in base units. */
  baseOpenInterest: number;
  /** Listing time (ms): no data before it. */
  onboardMs: number;
  /** Funding interval (ms): 8 h for most, 4 h or 1 h for some (`fundingIntervalOf`). */
  fundingIntervalMs: number;
}

const HOUR = 3_600_000;

/**
 * A symbol's funding interval. Venues settle most perpetuals every 8 h and some every 4,
 * 2 or 1 h (Binance `GET /fapi/v1/fundingInfo` lists the adjusted ones, e.g. BLZUSDT with
 * `fundingIntervalHours: 4` in a recorded answer; Bybit's instruments carry
 * `fundingInterval` in minutes). BTC and ETH stay 8 h; of the others, by a hash of the id
 * alone (the same for every seed): one in three 4 h, one in six 1 h.
 */
export function fundingIntervalOf(id: string): number {
  if (id === 'BTCUSDT' || id === 'ETHUSDT') return 8 * HOUR;
  const h = hashString(`funding-interval:${id}`) % 6;
  return h === 0 ? HOUR : h <= 2 ? 4 * HOUR : 8 * HOUR;
}

const NAMED: [string, number][] = [
  ['BTC', 60_000],
  ['ETH', 3_000],
  ['SOL', 150],
  ['BNB', 550],
  ['XRP', 0.6],
  ['DOGE', 0.12],
  ['ADA', 0.45],
  ['AVAX', 30],
  ['LINK', 14],
  ['DOT', 6],
  ['LTC', 80],
  ['TRX', 0.12],
  ['NEAR', 5],
  ['ATOM', 8],
  ['APT', 9],
  ['ARB', 0.9],
  ['OP', 1.8],
  ['SUI', 1.2],
  ['FIL', 5],
  ['INJ', 25],
];

/** Listing time of every simulated symbol: 2019-09-08, Binance's first USDⓈ-M listing. */
export const LISTING_MS = Date.UTC(2019, 8, 8);

/** The first `count` symbols: the named majors, then S001USDT, S002USDT, … */
export function buildSymbols(seed: number, count: number): SymbolSpec[] {
  const out: SymbolSpec[] = [];
  for (let i = 0; i < count; i++) {
    const named = NAMED[i];
    const base = named ? named[0] : `S${String(i - NAMED.length + 1).padStart(3, '0')}`;
    const id = `${base}USDT`;
    const key = hashInts(seed, hashString(id));
    const basePrice = named ? named[1] : 10 ** (-3 + 6 * unit(hashInts(key, 1)));
    const magnitude = Math.floor(Math.log10(basePrice));
    const priceDecimals = Math.max(1, Math.min(7, 4 - magnitude));
    const qtyDecimals = Math.max(0, Math.min(3, magnitude + 1));
    const notionalPerMinute = (named ? 2_000_000 / (i + 1) : 20_000) * (0.5 + unit(hashInts(key, 2)));
    out.push({
      id,
      base,
      quote: 'USDT',
      key,
      basePrice,
      priceDecimals,
      qtyDecimals,
      dailyVol: (named ? 0.03 : 0.05) * (0.7 + 0.6 * unit(hashInts(key, 3))),
      volumePerMinute: notionalPerMinute / basePrice,
      baseOpenInterest: (notionalPerMinute * 600) / basePrice,
      onboardMs: LISTING_MS,
      fundingIntervalMs: fundingIntervalOf(id),
    });
  }
  return out;
}
