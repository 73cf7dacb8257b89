/**
 * Exchanges perpflow knows (ccxt ids). A record naming any other exchange is a
 * contract violation: it would open an unbounded label set and an unknown S3 prefix.
 */
export const EXCHANGES = ['binanceusdm', 'bybit', 'okx', 'hyperliquid'] as const;
export type ExchangeId = (typeof EXCHANGES)[number];

/** Which price a venue's liquidation message carries. */
export const LIQUIDATION_PRICE_KINDS = ['bankruptcy', 'average_fill'] as const;
export type LiquidationPriceKind = (typeof LIQUIDATION_PRICE_KINDS)[number];

/**
 * How much of a venue's liquidations its public stream carries:
 * - `all`: every liquidation (Bybit `allLiquidation`, pushed every 500 ms);
 * - `snapshot_1s`: at most the latest liquidation per symbol per 1000 ms (Binance
 *   `!forceOrder@arr`: "Only the latest one liquidation order within 1000ms will be pushed
 *   as the snapshot"), so counts and notionals are lower bounds;
 * - `unknown`: not verified for a venue perpflow does not ingest yet;
 * - `none`: the venue publishes no liquidations at all (Hyperliquid: no public stream or
 *   endpoint), so the bar's liquidation figures are null, never 0.
 */
export const LIQUIDATION_COMPLETENESS = ['all', 'snapshot_1s', 'unknown', 'none'] as const;
export type LiquidationCompleteness = (typeof LIQUIDATION_COMPLETENESS)[number];

/**
 * What a venue's liquidation figures mean (the bar carries both, so notionals of two
 * venues are not compared as if alike):
 * - binanceusdm: `ap`, the average fill price of the liquidation order; snapshot_1s;
 * - bybit: `p` of `allLiquidation`, the bankruptcy price (Bybit v5 docs, "All Liquidation");
 * - okx: `bkPx`, the bankruptcy price of `liquidation-orders` (OKX v5 docs); completeness
 *   unverified (push cadence not documented);
 * - hyperliquid: no liquidation source (ccxt 4.5.84 has no fetchLiquidations or
 *   watchLiquidations; liquidations show only in the liquidated user's fills): no price kind.
 */
export const LIQUIDATION_SEMANTICS: Record<
  ExchangeId,
  { priceKind: LiquidationPriceKind | null; completeness: LiquidationCompleteness }
> = {
  binanceusdm: { priceKind: 'average_fill', completeness: 'snapshot_1s' },
  bybit: { priceKind: 'bankruptcy', completeness: 'all' },
  okx: { priceKind: 'bankruptcy', completeness: 'unknown' },
  hyperliquid: { priceKind: null, completeness: 'none' },
};

/**
 * Whether a venue serves open-interest HISTORY. Where it does not (Hyperliquid: only the
 * current value, in `metaAndAssetCtxs`), a backfilled bar has no open interest, and says
 * why (`openInterestMissing: 'no_history'`), never 0.
 */
export const OPEN_INTEREST_HISTORY: Record<ExchangeId, boolean> = {
  binanceusdm: true,
  bybit: true,
  okx: true,
  hyperliquid: false,
};

/**
 * Why a bar's open interest is null (`AlignedBar.openInterestMissing`):
 * - `no_history`: the venue serves no open-interest history (`OPEN_INTEREST_HISTORY`
 *   false), so a bar not observed live has none and a backfill cannot supply it;
 * - `not_observed`: the venue has history, but the engine knew no point with event time
 *   ≤ the bar close within `maxOpenInterestStalenessMs` (not fetched yet, or a gap).
 */
export const OPEN_INTEREST_MISSING_REASONS = ['no_history', 'not_observed'] as const;
export type OpenInterestMissingReason = (typeof OPEN_INTEREST_MISSING_REASONS)[number];

/**
 * The grid every venue settles funding on: whole hours (intervals of 1, 2, 4 or 8 h, per
 * symbol, changed by the venue at times). Reported settlement stamps lag it by a few ms
 * to seconds (Binance +9 ms, CoinEx +16 s in ccxt's recorded responses); the ingest snaps
 * them to it (`snapFundingTime`).
 */
export const FUNDING_GRID_MS = 3_600_000;
/** Stamps farther than this from the grid are kept as reported, not snapped. */
export const FUNDING_SNAP_TOLERANCE_MS = 60_000;

/** The settlement slot of a reported settlement time: the nearest hour when within the tolerance. */
export function snapFundingTime(timeMs: number): number {
  const slot = Math.round(timeMs / FUNDING_GRID_MS) * FUNDING_GRID_MS;
  return Math.abs(timeMs - slot) <= FUNDING_SNAP_TOLERANCE_MS ? slot : timeMs;
}

/** The length of a funding interval the rate is normalized to (`fundingRate8h`). */
export const FUNDING_NORMALIZED_INTERVAL_MS = 8 * 3_600_000;

/**
 * ccxt's unified symbol for a linear/inverse perpetual or future:
 * `BASE/QUOTE:SETTLE`, optionally `-YYMMDD` for dated futures. Upper-case
 * letters and digits only, so nothing in a symbol can form a path (`..`, `/x`).
 */
export const UNIFIED_SYMBOL_PATTERN = /^[A-Z0-9]{1,24}\/[A-Z0-9]{1,12}:[A-Z0-9]{1,12}(-[0-9]{6})?$/;
export const SYMBOL_MAX_LENGTH = 64;

export function isUnifiedSymbol(value: string): boolean {
  return value.length <= SYMBOL_MAX_LENGTH && UNIFIED_SYMBOL_PATTERN.test(value);
}
