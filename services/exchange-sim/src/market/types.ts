/** Values of the simulated market, venue-neutral (venues/ turn them into wire formats). */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Funding settles at 00:00, 08:00 and 16:00 UTC. */
export const FUNDING_INTERVAL_MS = 8 * HOUR_MS;
/** Finest open-interest history granularity, as on the real venues. */
export const OPEN_INTEREST_PERIOD_MS = 5 * MINUTE_MS;

export interface Candle {
  symbol: string;
  openTimeMs: number;
  /** Length of the candle (60 000 for 1m). */
  intervalMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  /** Base-asset volume. */
  volume: number;
  /** Quote-asset (USDT) volume. */
  quoteVolume: number;
  trades: number;
  takerBuyVolume: number;
  takerBuyQuoteVolume: number;
}

export interface OpenInterestPoint {
  symbol: string;
  /** The value holds at this instant (a minute boundary). */
  timeMs: number;
  /** In base units. */
  openInterest: number;
  /** openInterest × price, in USDT. */
  openInterestValue: number;
}

export interface FundingSettlement {
  symbol: string;
  /** A multiple of 8 h. */
  fundingTimeMs: number;
  rate: number;
  markPrice: number;
}

export interface PremiumIndex {
  symbol: string;
  markPrice: number;
  indexPrice: number;
  estimatedSettlePrice: number;
  /** The rate that will settle at nextFundingTimeMs (what Binance calls lastFundingRate). */
  lastFundingRate: number;
  interestRate: number;
  nextFundingTimeMs: number;
  timeMs: number;
}

export interface LiquidationEvent {
  symbol: string;
  timeMs: number;
  /** Side of the liquidation ORDER (Binance convention): SELL = a long position was liquidated. */
  side: 'BUY' | 'SELL';
  price: number;
  averagePrice: number;
  qty: number;
}

/** From `fromMs` on, one symbol's minute volatility and volume are scaled. */
export interface DistributionShift {
  symbol: string;
  fromMs: number;
  volatilityFactor: number;
  volumeFactor: number;
}

/** For `minutes` minutes from `fromMs`, one symbol's prices are multiplied by `factor`, then revert. */
export interface PriceSpike {
  symbol: string;
  fromMs: number;
  minutes: number;
  factor: number;
}
