import type { CcxtExchange } from '../adapters/exchange.js';
import type { RawKline } from '../domain/normalize.js';
import type { BanSignal, IngestVenue, PageLimits, VenueRateBudget } from './types.js';

/**
 * Hyperliquid perpetuals, ingest side (ccxt 'hyperliquid', unified symbols like
 * BTC/USDC:USDC). Sources for each fact: services/exchange-sim/src/venues/hyperliquid.md.
 * No liquidations and no open-interest history exist: both are `unavailable`, never
 * requested.
 */

/**
 * Candle pushes, `{"channel":"candle","data":{"t":…,"T":…,"s":"BTC","i":"1m","o":"…","c":"…","h":"…","l":"…","v":"…","n":…}}`
 * (ccxt 4.5.84 js/src/pro/hyperliquid.js, handleOHLCV). `t` opens the candle, `T` is its
 * last millisecond. Hyperliquid sends NO closed flag: a push carries the candle's values
 * as of the push. So a candle counts as closed when the push was received after `T`:
 * values sent after the candle's end cannot change any more, while a push received up
 * to `T` may be followed by trades. (A push received after T was necessarily sent after
 * T or in flight at T; treating an in-flight pre-close update as final is the risk, and
 * the next candle's first push would supersede it only if the venue re-sends the final
 * state: the simulator does, the real venue is not verified to.) `marketId` is the
 * coin, as ccxt's `baseName`.
 */
export function hyperliquidKlines(message: unknown, receivedAtMs: number): RawKline[] {
  const m = message as { channel?: unknown; data?: unknown } | null;
  if (m?.channel !== 'candle') return [];
  const rows = Array.isArray(m.data) ? m.data : m.data && typeof m.data === 'object' ? [m.data] : [];
  return (rows as Record<string, unknown>[]).map((d) => ({
    marketId: String(d.s ?? ''),
    interval: String(d.i ?? ''),
    row: [Number(d.t), Number(d.o), Number(d.h), Number(d.l), Number(d.c), Number(d.v)],
    closed: receivedAtMs > Number(d.T),
  }));
}

/**
 * Rows per answer: candleSnapshot at most 5000 (and only the most recent 5000 candles
 * exist at all, so older history cannot be backfilled); fundingHistory 500 (the info
 * endpoint's "500 elements" for time ranges). No open-interest history exists: 0.
 */
export const HYPERLIQUID_PAGE_LIMITS: PageLimits = {
  ohlcv: 5000,
  openInterestHistory: 0,
  fundingHistory: 500,
};

/** Only this many most recent candles per coin and interval exist (docs, "Candle snapshot"). */
export const HYPERLIQUID_CANDLE_HISTORY = 5000;

/**
 * Paging: both feeds answer the oldest rows from startTime on (ascending), so page
 * forward from the last row's time + 1. A startTime older than the 5000-candle bound
 * silently starts at the oldest candle kept.
 */
export const HYPERLIQUID_PAGING = { ohlcv: 'forward', fundingHistory: 'forward' } as const;

/**
 * The rate budget in ccxt cost units: ccxt 4.5.84 has rateLimit 50 ms (1200 units per
 * minute) and the /info cost 20 (2 for exchangeStatus, l2Book, allMids, …), which equals
 * Hyperliquid's weights: 1200 per minute per IP, 20 for most info types, 2 for a few
 * (docs, "Rate limits and user limits"). ccxt charges candleSnapshot 4, but the venue
 * weighs it 20 plus 1 per 60 candles answered; fundingHistory 20 plus 1 per 20 rows.
 * The costs here are the venue's for the live calls (a live candle poll asks < 60 bars;
 * a live funding-history poll < 20 rows); the live open-interest poll (fetchOpenInterests,
 * counted as fetchOpenInterest) and fetchFundingRates are one metaAndAssetCtxs each (every
 * coin at once).
 */
export const HYPERLIQUID_BUDGET: VenueRateBudget = {
  unitsPerMinute: 1200,
  cost: {
    fetchOHLCV: 20,
    fetchOpenInterest: 20,
    fetchFundingRates: 20,
    fetchFundingRateHistory: 20,
    fetchTime: 2,
  },
};

/** Extra weight of an answer with `items` rows (candleSnapshot per 60, fundingHistory per 20; floor is our reading). */
export function hyperliquidAnswerWeight(feed: 'ohlcv' | 'fundingHistory', items: number): number {
  return 20 + Math.floor(items / (feed === 'ohlcv' ? 60 : 20));
}

/**
 * Over the limit Hyperliquid answers HTTP 429, which ccxt raises as RateLimitExceeded
 * with " 429 " in the message. No ban and no Retry-After are documented; the budget is a
 * minute's weight, so stay away a minute.
 */
export const HYPERLIQUID_RATE_LIMITED: BanSignal = { pattern: / 429 |too many requests/i, pauseMs: 60_000 };

/** Feeds Hyperliquid does not have, and why: the ingest must not schedule them. */
export const HYPERLIQUID_UNAVAILABLE = {
  openInterestHistory:
    'no open-interest history endpoint (ccxt 4.5.84 has.fetchOpenInterestHistory: false); only the current value in metaAndAssetCtxs: poll it',
  liquidations:
    "no public liquidation stream or endpoint (ccxt 4.5.84 has.fetchLiquidations: false, no watchLiquidations); liquidations show only in the liquidated user's own fills",
} as const;

/**
 * metaAndAssetCtxs `openInterest` is in coins (base units, szDecimals) and counts one
 * side; ccxt's openInterestAmount is that figure and openInterestValue is undefined
 * (value = openInterest × oraclePx if needed). No timestamp comes with it.
 */
export const HYPERLIQUID_OPEN_INTEREST = { unit: 'base', sides: 'one', timestamped: false } as const;

/** Funding is settled every hour on every perp; `time` lands a few ms after the hour. */
export const HYPERLIQUID_FUNDING_INTERVAL_MS = 3_600_000;

/** The hour a fundingHistory `time` settles (1704290400031 → 1704290400000). */
export function hyperliquidFundingHour(timeMs: number): number {
  return Math.floor(timeMs / HYPERLIQUID_FUNDING_INTERVAL_MS) * HYPERLIQUID_FUNDING_INTERVAL_MS;
}

/**
 * The venue's time of the last REST answer: its HTTP `Date` header, floored to the
 * second. ccxt 4.5.84 parses metaAndAssetCtxs (fetchOpenInterest(s), fetchFundingRates)
 * with `timestamp: undefined` (the answer has no time), so the Date header is the only
 * exchange clock there is. Its limit: 1 s resolution, and it is the time the answer was
 * sent, not when the venue computed the context (the docs say nothing of that delay).
 * ccxt keeps only the LAST answer's headers: read it right after the call, before
 * another request on the same instance (the live loops await each call).
 */
export function hyperliquidAnswerTimeMs(ex: CcxtExchange): number | undefined {
  const h = ex.last_response_headers ?? {};
  const date = h.date ?? h.Date;
  if (date === undefined) return undefined;
  const t = Date.parse(date);
  return Number.isFinite(t) ? Math.floor(t / 1000) * 1000 : undefined;
}

export const hyperliquid: IngestVenue = {
  id: 'hyperliquid',
  pageLimits: HYPERLIQUID_PAGE_LIMITS,
  // Full pages: candleSnapshot 20 + 5000/60, fundingHistory 20 + 500/20 (the venue's weights).
  pageCosts: {
    ohlcv: { units: hyperliquidAnswerWeight('ohlcv', HYPERLIQUID_PAGE_LIMITS.ohlcv) },
    openInterestHistory: { units: 0 },
    fundingHistory: {
      units: hyperliquidAnswerWeight('fundingHistory', HYPERLIQUID_PAGE_LIMITS.fundingHistory),
    },
  },
  budget: HYPERLIQUID_BUDGET,
  ban: HYPERLIQUID_RATE_LIMITED,
  liquidations: { subscription: 'none', fromMessage: () => [] },
  klines: hyperliquidKlines,
  // ccxt 4.5.84 pro/hyperliquid.js: watchOHLCV only (one `candle` subscription per coin), hash 'candles:<tf>:<symbol>'.
  klineSubscription: { watch: 'per-symbol', hashPrefix: 'candles:' },
  // ccxt keys Hyperliquid's swap markets by asset index; the candle channel names the coin.
  klineMarketId: (ex, coin) =>
    (ex as CcxtExchange & { coinToMarketId(coin: string): string }).coinToMarketId(coin),
  unavailable: HYPERLIQUID_UNAVAILABLE,
  candleHistory: HYPERLIQUID_CANDLE_HISTORY,
  answerTimeMs: hyperliquidAnswerTimeMs,
  // metaAndAssetCtxs answers every coin: ccxt's fetchOpenInterest asks it per symbol and keeps one.
  openInterestPoll: 'all-symbols',
};
