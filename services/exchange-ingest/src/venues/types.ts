import type { ExchangeId } from '@perpflow/contracts';
import type { CcxtExchange } from '../adapters/exchange.js';
import type { RawKline, RawLiquidation } from '../domain/normalize.js';

/** The REST calls the live loops make, as the request plan counts them. */
export type PlannedCall =
  | 'fetchOHLCV'
  | 'fetchOpenInterest'
  | 'fetchFundingRates'
  | 'fetchFundingRateHistory'
  | 'fetchTime';

/**
 * A venue's rate budget per IP in ccxt "cost" units (Binance USDⓈ-M: the exchange's
 * request weight; Bybit v5: 5 per request, ccxt's own table).
 */
export interface VenueRateBudget {
  /** Cost units per minute per IP the venue allows (Binance: 2400 weight; Bybit: 600 req / 5 s × 5 units). */
  unitsPerMinute: number;
  /** Endpoints with a call limit of their own, in calls per minute (Binance fundingRate: 500 per 5 min). */
  callsPerMinute?: Partial<Record<PlannedCall, number>>;
  /** Cost of one live call in units (candle polls ask for < 100 bars, so klines cost 1 on Binance). */
  cost: Record<PlannedCall, number>;
}

/** Rows per request a venue accepts, per paged history feed. */
export interface PageLimits {
  ohlcv: number;
  openInterestHistory: number;
  fundingHistory: number;
}

/** What one history page costs: units of the budget, and the endpoint's own call limit if it has one. */
export interface PageCost {
  /** Budget units one page of `pageLimits` rows costs (0: the endpoint is outside the weight budget). */
  units: number;
  /** The endpoint's own limit in calls per minute per IP (Binance fundingRate: 500 per 5 min = 100). */
  callsPerMinute?: number;
}

/** How a venue says "this IP is banned" in a rate-limit error, and how long to stay away without a Retry-After. */
export interface BanSignal {
  pattern: RegExp;
  pauseMs: number;
}

/**
 * Everything the ingest knows about one venue, in `venues/<id>.ts` (like tardis-node's
 * mappers): page sizes, rate budget, how it signals a ban, the ccxt options it pins,
 * how its liquidations are subscribed and read, its kline wire messages, and the field
 * semantics that differ from the contract's (open interest sides, paging anchors).
 * Nothing outside `venues/` names a venue.
 */
export interface IngestVenue {
  id: ExchangeId;
  pageLimits: PageLimits;
  /** The cost of one full history page per feed: what bounds a backfill per IP. */
  pageCosts: Record<keyof PageLimits, PageCost>;
  budget: VenueRateBudget;
  ban: BanSignal;
  /** ccxt options pinned per venue, so a change of ccxt's defaults cannot change what we subscribe to. */
  ccxtOptions?: Record<string, unknown>;
  /**
   * Liquidations: one all-market subscription (`watchLiquidationsForSymbols([])`) or one
   * per symbol (`watchLiquidations`), and the mapper of the raw wire message (ccxt's
   * watch* return values drop events in bursts, so we read the messages ourselves).
   */
  liquidations: {
    /** 'none': the venue publishes no liquidations (Hyperliquid); the live loop subscribes to nothing. */
    subscription: 'all-market' | 'per-symbol' | 'none';
    /**
     * What an all-market subscription hands ccxt: no symbol (Binance: the one
     * `!forceOrder@arr` stream; with symbols ccxt would open one stream per symbol), or the
     * followed symbols (OKX: ccxt subscribes the instType channel once, but sends nothing
     * when it is given no symbol to wait for). Default 'none'.
     */
    allMarketSymbols?: 'none' | 'followed';
    /**
     * ccxt's subscription hashes for liquidations on this venue (Binance `!forceOrder@arr`,
     * Bybit and OKX `liquidations::<symbol>`), by which an opened websocket connection is
     * known to carry them: the stream counts as connected from then, not from its first
     * event, which a quiet market may not send for many minutes. Required unless
     * `subscription` is 'none'.
     */
    subscriptionHash?: RegExp;
    /** `contractSizeOf`: the instrument's contract value by market id, for venues that count in contracts. */
    fromMessage(
      message: unknown,
      contractSizeOf: (marketId: string) => number | undefined,
    ): { marketId: string; liquidation: RawLiquidation }[];
  };
  /**
   * Kline wire messages (ccxt's parsed candles lose the venue's "closed" flag);
   * `receivedAtMs`: our receive time, for venues that send no closed flag (Hyperliquid:
   * a candle is closed when a push arrives after its end).
   */
  klines(message: unknown, receivedAtMs: number): RawKline[];
  /**
   * How ccxt subscribes klines: one `watchOHLCVForSymbols` call (default), or one
   * `watchOHLCV` per symbol where ccxt has no multi-symbol watch (Hyperliquid); and the
   * prefix of ccxt's subscription hashes for klines (default 'ohlcv::'), by which a closed
   * connection is known to be the kline one.
   */
  klineSubscription?: { watch: 'per-symbol'; hashPrefix: string };
  /** The ccxt market id of a kline message's `marketId` (Hyperliquid: the coin); default: the same id. */
  klineMarketId?(ex: CcxtExchange, wireId: string): string;
  /**
   * Feeds the venue does not have, and why (logged and reported instead of requested):
   * the backfill skips open-interest history, the live loop subscribes to no liquidations.
   */
  unavailable?: { openInterestHistory?: string; liquidations?: string };
  /**
   * How many most recent candles per symbol and interval the venue keeps at all
   * (Hyperliquid: 5000); a backfill from further back notes the gap instead of fetching it.
   * Undefined: history reaches back to the listing.
   */
  candleHistory?: number;
  /**
   * The venue's time of the last REST answer, for answers that carry none (Hyperliquid's
   * metaAndAssetCtxs: open interest, predicted funding): the HTTP Date header, floored to
   * the second. Used only where ccxt's `timestamp` is empty.
   */
  answerTimeMs?(ex: CcxtExchange): number | undefined;
  /**
   * Extra ccxt params that make an open-interest history page start at `since` and hold
   * up to `limit` points from there; undefined: ccxt's own params already do.
   */
  openInterestHistoryParams?(sinceMs: number, limit: number, periodMs: number): Record<string, unknown>;
  /**
   * The IP's used budget in cost units as the venue reports it in a response's headers
   * (Binance's X-MBX-USED-WEIGHT-1M), so the gate sees other clients on the same IP too;
   * undefined: the venue reports none.
   */
  usedWeight?(headers: Record<string, string>): number | undefined;
  /**
   * Extra ccxt params that make a funding-history page start at `since` and hold up to
   * `limit` settlements from there; undefined: ccxt's own params already do.
   */
  fundingHistoryParams?(sinceMs: number, limit: number): Record<string, unknown>;
  /**
   * Up to `limit` 5-minute open-interest points from `sinceMs`, as ccxt's open-interest
   * structures, where ccxt's fetchOpenInterestHistory reads another figure (OKX: per coin,
   * in USD). Undefined: ccxt's fetchOpenInterestHistory with `openInterestHistoryParams`.
   */
  fetchOpenInterestHistory?(
    ex: CcxtExchange,
    symbol: string,
    sinceMs: number,
    limit: number,
  ): Promise<Record<string, unknown>[]>;
  /**
   * The venue's time of a `fetchFundingRates` answer, when ccxt leaves `timestamp` empty
   * (OKX: `ts`, the answer's time). Default: ccxt's `timestamp`.
   */
  predictedFundingTime?(fr: { timestamp?: number | undefined; info?: unknown }): number | undefined;
  /**
   * Params of the live `fetchOpenInterest` poll (Bybit: interval '5m'; ccxt's default there is
   * '1h', whose newest point is up to an hour old).
   */
  currentOpenInterestParams?: Record<string, unknown>;
  /**
   * How the live poll asks for open interest: 'per-symbol' (default), one `fetchOpenInterest`
   * per symbol spread over the interval; 'all-symbols', one `fetchOpenInterests` per interval
   * for the whole universe, where one answer carries every market anyway (Hyperliquid's
   * metaAndAssetCtxs: ccxt's per-symbol call fetches all of them and keeps one). The request
   * plan counts one call per interval then.
   */
  openInterestPoll?: 'per-symbol' | 'all-symbols';
  /** Open interest as ONE side in base units from ccxt's answer; undefined: `openInterestAmount` already is. */
  oneSideOpenInterest?(oi: { openInterestAmount?: number | undefined; info?: unknown }): number | undefined;
}
