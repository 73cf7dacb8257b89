/**
 * The derivatives side of the simulated market, computed from a symbol's prices: open
 * interest, funding settlements and liquidations. Pure functions of the symbol, the time
 * and a price source (the model's candles), so each is computable for any time alone.
 */
import { BlockRandom, gaussFromHash, hashInts, roundTo, valueNoise } from './random.js';
import type { SymbolSpec } from './symbols.js';
import {
  type Candle,
  FUNDING_INTERVAL_MS,
  type FundingSettlement,
  HOUR_MS,
  type LiquidationEvent,
  MINUTE_MS,
  type OpenInterestPoint,
} from './types.js';

/** Close of the 1m candle opening at a minute boundary. */
export type CloseAt = (minuteMs: number) => number;

/** Open interest at the minute boundary at or before `timeMs` (priced at the last closed minute). */
export function openInterestAt(
  s: SymbolSpec,
  symbol: string,
  timeMs: number,
  closeAt: CloseAt,
): OpenInterestPoint {
  const m = Math.floor(timeMs / MINUTE_MS) * MINUTE_MS;
  const price = closeAt(m - MINUTE_MS);
  const x = m / MINUTE_MS;
  const level =
    0.25 * valueNoise(hashInts(s.key, 0x01), x / 360) + 0.08 * valueNoise(hashInts(s.key, 0x02), x / 30);
  const oi = roundTo(s.baseOpenInterest * Math.exp(level) * (price / s.basePrice) ** 0.3, s.qtyDecimals);
  return { symbol, timeMs: m, openInterest: oi, openInterestValue: roundTo(oi * price, 2) };
}

/** The settlement at `fundingTimeMs` (rounded to the symbol's grid). */
export function fundingSettlementAt(
  s: SymbolSpec,
  symbol: string,
  fundingTimeMs: number,
  closeAt: CloseAt,
): FundingSettlement {
  const interval = s.fundingIntervalMs;
  // k counts 8 h steps for 8 h symbols (the rates of 8 h symbols are those of before).
  const k = Math.round(fundingTimeMs / interval);
  const rateKey = interval === FUNDING_INTERVAL_MS ? k : hashInts(k, interval / HOUR_MS);
  const rate = roundTo(
    Math.max(
      -0.0075,
      Math.min(
        0.0075,
        0.0001 +
          0.00025 * valueNoise(hashInts(s.key, 0xf1), (k * interval) / FUNDING_INTERVAL_MS / 4) +
          0.00005 * gaussFromHash(hashInts(s.key, rateKey, 0xf2)),
      ),
    ),
    8,
  );
  const price = closeAt(k * interval - MINUTE_MS);
  return {
    symbol,
    fundingTimeMs: k * interval,
    rate,
    markPrice: roundTo(price * (1 + rate), 8),
  };
}

/**
 * The most bursts one symbol-hour can hold: Poisson by inversion starts from e^-lambda,
 * which is still a normal double at 700 (underflow near 745). The cap was 50 bursts once,
 * which held every rate of 40 or more (at a regime above 1) below its configured mean.
 */
export const MAX_LIQUIDATION_BURSTS_PER_HOUR = 700;

/**
 * One symbol's liquidations in one UTC hour, by time: Poisson bursts (mean `lambda`, the
 * bursts per hour scaled by the volatility regime, at most MAX_LIQUIDATION_BURSTS_PER_HOUR)
 * on the side the minute's candle moved, priced past its low or high.
 */
export function liquidationHourOf(
  s: SymbolSpec,
  hour: number,
  lambda: number,
  candleAt: (minuteMs: number) => Candle,
): LiquidationEvent[] {
  const rng = new BlockRandom(hashInts(s.key, hour, 0x11));
  // Poisson by inversion
  const mean = Math.min(lambda, MAX_LIQUIDATION_BURSTS_PER_HOUR);
  let bursts = 0;
  for (
    let p = Math.exp(-mean), acc = p, u = rng.next();
    u > acc && bursts < MAX_LIQUIDATION_BURSTS_PER_HOUR;
    bursts++
  ) {
    p = (p * mean) / (bursts + 1);
    acc += p;
  }
  const events: LiquidationEvent[] = [];
  for (let b = 0; b < bursts; b++) {
    const minute = hour * HOUR_MS + Math.floor(rng.next() * 60) * MINUTE_MS;
    const t0 = minute + Math.floor(rng.next() * 50_000);
    const size = Math.min(10, 1 + Math.floor(-Math.log(rng.next() || 1e-9) * 2.5));
    const c = candleAt(minute);
    const side: 'BUY' | 'SELL' = c.close < c.open ? 'SELL' : 'BUY';
    for (let j = 0; j < size; j++) {
      const ref = side === 'SELL' ? c.low * (1 - 0.002 * rng.next()) : c.high * (1 + 0.002 * rng.next());
      const price = roundTo(ref, s.priceDecimals);
      const avg = roundTo(price * (1 + (side === 'SELL' ? -1 : 1) * 0.0005 * rng.next()), s.priceDecimals);
      const qty = Math.max(
        10 ** -s.qtyDecimals,
        roundTo(s.volumePerMinute * 0.05 * Math.exp(rng.gauss()), s.qtyDecimals),
      );
      events.push({
        symbol: s.id,
        timeMs: t0 + j * 1100 + Math.floor(rng.next() * 100),
        side,
        price,
        averagePrice: avg,
        qty,
      });
    }
  }
  events.sort((a, b) => a.timeMs - b.timeMs);
  return events;
}
