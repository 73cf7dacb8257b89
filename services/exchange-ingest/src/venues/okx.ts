import type { CcxtExchange } from '../adapters/exchange.js';
import type { RawKline, RawLiquidation } from '../domain/normalize.js';
import type { IngestVenue, VenueRateBudget } from './types.js';

/**
 * OKX v5 USDT swaps. Facts and sources:
 * services/exchange-sim/src/venues/okx.md.
 */

/** Business-WS channel suffixes as ccxt timeframes; the Hong Kong-time bars (6H, 12H, 1D, …) keep their name. */
const CHANNEL_TIMEFRAMES: Record<string, string> = {
  '1m': '1m',
  '3m': '3m',
  '5m': '5m',
  '15m': '15m',
  '30m': '30m',
  '1H': '1h',
  '2H': '2h',
  '4H': '4h',
  '6Hutc': '6h',
  '12Hutc': '12h',
  '1Dutc': '1d',
  '1Wutc': '1w',
};

/**
 * OKX business-WS candle push (`/ws/v5/business`, channel `candle<bar>`):
 * `{"arg":{"channel":"candle1m","instId":"BTC-USDT-SWAP"},"data":[[ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm]]}`.
 * `confirm` "1" marks the closed candle. For swaps `vol` is in contracts and `volCcy` in
 * the base coin; the row keeps `volCcy`, as ccxt does for swaps (parseOHLCV index 6). The
 * `6H`/`12H`/`1D` bars open on Hong Kong time (UTC+8) and are not ccxt's `6h`/`12h`/`1d`:
 * their interval keeps the raw name so nothing merges them with UTC candles.
 */
export function okxKlines(message: unknown): RawKline[] {
  const m = message as { arg?: { channel?: unknown; instId?: unknown }; data?: unknown } | null;
  const channel = typeof m?.arg?.channel === 'string' ? m.arg.channel : '';
  if (!channel.startsWith('candle')) return [];
  const bar = channel.slice('candle'.length);
  const marketId = typeof m?.arg?.instId === 'string' ? m.arg.instId : '';
  const rows = Array.isArray(m?.data) ? (m.data as unknown[][]) : [];
  return rows.map((r) => ({
    marketId,
    interval: CHANNEL_TIMEFRAMES[bar] ?? bar,
    row: [Number(r[0]), Number(r[1]), Number(r[2]), Number(r[3]), Number(r[4]), Number(r[6])],
    closed: r[8] === '1',
  }));
}

/**
 * OKX public-WS `liquidation-orders` push (subscribed by instType, e.g. SWAP: every swap):
 * `{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"instId":"BTC-USDT-SWAP","details":[{"side":"sell","posSide":"long","bkPx":"…","sz":"…","ts":"…"}]}]}`.
 * `side` is the liquidation ORDER's side already (a long liquidated sells), the convention
 * we store (Binance's); `posSide` is the position's ("long"/"short", or "net" in one-way
 * mode) and decides only when `side` is missing. `bkPx` is the bankruptcy price. `sz` is in
 * CONTRACTS: the amount is sz × the instrument's contract value (ccxt market.contractSize,
 * OKX ctVal) from `contractSizeOf`; unknown, it is NaN, so the contract rejects the record
 * rather than store contracts as coins. Every detail is kept (ccxt's parser reads details[0]
 * of each entry only).
 */
export function okxLiquidations(
  message: unknown,
  contractSizeOf: (instId: string) => number | undefined = () => undefined,
): { marketId: string; liquidation: RawLiquidation }[] {
  const m = message as { arg?: { channel?: unknown }; data?: unknown } | null;
  if (m?.arg?.channel !== 'liquidation-orders' || !Array.isArray(m.data)) return [];
  const out: { marketId: string; liquidation: RawLiquidation }[] = [];
  for (const entry of m.data as { instId?: unknown; details?: unknown }[]) {
    const marketId = String(entry?.instId ?? '');
    const ctVal = contractSizeOf(marketId);
    const details = Array.isArray(entry?.details) ? (entry.details as Record<string, unknown>[]) : [];
    for (const d of details) {
      const posSide = String(d.posSide ?? '');
      const side =
        typeof d.side === 'string' && d.side !== ''
          ? d.side
          : posSide === 'long'
            ? 'sell'
            : posSide === 'short'
              ? 'buy'
              : posSide;
      out.push({
        marketId,
        liquidation: {
          side,
          price: Number(d.bkPx),
          amount: ctVal === undefined ? Number.NaN : Number(d.sz) * ctVal,
          eventTimeMs: Number(d.ts),
        },
      });
    }
  }
  return out;
}

/**
 * Page sizes (see domain/paging.ts): market/candles and market/history-candles take up to
 * 300 (ccxt clamps to 300; a larger limit answers 300), rubik open-interest-history 100,
 * funding-rate-history 400 (its docs, 2026; ccxt's own paginate assumes 100).
 */
export const OKX_PAGE_LIMITS = { ohlcv: 300, openInterestHistory: 100, fundingHistory: 400 } as const;

/**
 * Every OKX history endpoint pages BACKWARD: newest first, `after` = "earlier than"
 * (exclusive), `before` = "newer than" (exclusive), and a page holds the NEWEST `limit`
 * rows between them. With `before` alone (what ccxt sends for `since`) the page ends now.
 */
export const OKX_PAGING = {
  ohlcv: 'backward',
  openInterestHistory: 'backward',
  fundingHistory: 'backward',
} as const;

/**
 * ccxt's fetchFundingRateHistory sends `before = since − 1` only, so the venue answers the
 * newest `limit` settlements, not the first `limit` after since. Adding `after = since +
 * limit × interval` bounds the window to exactly the `limit` slots from since.
 */
export function okxFundingRateHistoryParams(
  sinceMs: number,
  limit: number,
  intervalMs: number,
): Record<string, unknown> {
  return { after: sinceMs + limit * intervalMs };
}

/**
 * The rate budget in ccxt cost units. ccxt okx: rateLimit 110 ms per unit (100 ms + 10 %),
 * i.e. ~545 units a minute; one unit is one request of a "20 requests per 2 s" endpoint
 * (600 a minute). Costs (ccxt okx.js api table): market/candles ½, history-candles 1,
 * public/open-interest 1, public/funding-rate 2, funding-rate-history 2, public/time 2.
 * The venue counts per endpoint (and per instId for open interest and funding), not one IP
 * budget; ccxt's single throttle is the stricter reading.
 */
export const OKX_RATE_BUDGET: VenueRateBudget = {
  unitsPerMinute: 600,
  callsPerMinute: { fetchFundingRates: 300 },
  cost: {
    fetchOHLCV: 0.5,
    fetchOpenInterest: 1,
    fetchFundingRates: 2,
    fetchFundingRateHistory: 2,
    fetchTime: 2,
  },
};

/**
 * Past an endpoint limit OKX answers HTTP 429 {"msg":"Too Many Requests","code":"50011"}
 * (ccxt: RateLimitExceeded with the body in its message). The limits count over 2 s and no
 * IP ban is documented for public endpoints, so a short pause is enough.
 */
export const OKX_BAN = { pattern: /"code":"50011"|Too Many Requests/i, pauseMs: 2_000 };

/**
 * The time of a public/funding-rate answer: `ts` ("data return time", OKX API v5 docs;
 * ccxt's recorded answer carries it as a string), which ccxt's parseFundingRate leaves out
 * (its `timestamp` is undefined for OKX). Undefined when absent, so the contract names it.
 */
export function okxFundingAnswerTime(fr: { info?: unknown }): number | undefined {
  const ts = (fr.info as { ts?: unknown } | undefined)?.ts;
  const n = typeof ts === 'string' && /^\d+$/.test(ts) ? Number(ts) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** ccxt options: only the swap instruments (ccxt asks SPOT, FUTURES, SWAP and two OPTION lists by default). */
export const OKX_CCXT_OPTIONS = { fetchMarkets: { types: ['swap'] } };

/**
 * Open interest in base units, one side. ccxt's openInterestAmount for OKX is `oi`, in
 * CONTRACTS (ccxt's recorded answer: openInterestAmount 2663107.3 beside oiCcy 26631.07 for
 * BTC-USDT-SWAP, ctVal 0.01); the coin amount is info.oiCcy, else amount × contractSize.
 * That OKX counts one side (like Binance, unlike Bybit) is its usual definition, not
 * stated in the docs.
 */
export function okxOneSideOpenInterest(
  oi: { openInterestAmount?: number | undefined; info?: unknown },
  contractSize?: number,
): number | undefined {
  const coin = (oi.info as { oiCcy?: unknown } | undefined)?.oiCcy;
  if (typeof coin === 'string' && coin !== '' && Number.isFinite(Number(coin))) return Number(coin);
  if (oi.openInterestAmount === undefined || contractSize === undefined) return undefined;
  return oi.openInterestAmount * contractSize;
}

/** A funding-history window: the shortest interval OKX uses (1 h), so a page never skips a settlement. */
const FUNDING_WINDOW_STEP_MS = 3_600_000;
const OI_STEP_MS = 300_000;

/**
 * The instrument's own 5-minute open-interest history (`rubik/stat/contracts/
 * open-interest-history`, rows `[ts, oi, oiCcy, oiUsd]`, newest first, `end` exclusive),
 * through ccxt's implicit method so its throttle and error mapping apply. ccxt's
 * fetchOpenInterestHistory reads `open-interest-volume` instead: per coin over all its
 * contracts, in USD, not this instrument's amount. The venue keeps the latest 1,440 points
 * per period (5 days at 5 minutes).
 */
async function okxOpenInterestHistory(
  ex: CcxtExchange,
  symbol: string,
  sinceMs: number,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const instId = ex.markets[symbol]?.id;
  if (!instId) throw new Error(`okx: no market ${symbol}`);
  const call = (ex as unknown as Record<string, (p: Record<string, unknown>) => Promise<unknown>>)
    .publicGetRubikStatContractsOpenInterestHistory;
  if (typeof call !== 'function')
    throw new Error('okx: ccxt lacks publicGetRubikStatContractsOpenInterestHistory');
  const res = (await call.call(ex, {
    instId,
    period: '5m',
    end: sinceMs + limit * OI_STEP_MS,
    limit,
  })) as { data?: unknown };
  const rows = Array.isArray(res?.data) ? (res.data as unknown[][]) : [];
  return rows
    .map((r) => ({
      symbol,
      timestamp: Number(r[0]),
      openInterestAmount: Number(r[2]),
      openInterestValue: Number(r[3]),
      info: { oiCcy: String(r[2]) },
    }))
    .filter((r) => Number.isFinite(r.timestamp) && r.timestamp >= sinceMs)
    .sort((a, b) => a.timestamp - b.timestamp);
}

/** OKX v5 USDT swaps: everything the ingest knows about it. */
export const okx: IngestVenue = {
  id: 'okx',
  pageLimits: OKX_PAGE_LIMITS,
  // Each endpoint counts its own requests per 2 s (candles 40, history candles 20, open-interest
  // history 10, funding history 10 per instrument); ccxt's one throttle in units is the stricter.
  pageCosts: {
    ohlcv: { units: 1, callsPerMinute: 600 },
    openInterestHistory: { units: 1, callsPerMinute: 300 },
    fundingHistory: { units: 2, callsPerMinute: 300 },
  },
  budget: OKX_RATE_BUDGET,
  ban: OKX_BAN,
  ccxtOptions: OKX_CCXT_OPTIONS,
  liquidations: {
    subscription: 'all-market',
    allMarketSymbols: 'followed',
    subscriptionHash: /^liquidations(::|$)/,
    fromMessage: okxLiquidations,
  },
  klines: okxKlines,
  predictedFundingTime: okxFundingAnswerTime,
  fundingHistoryParams: (sinceMs, limit) =>
    okxFundingRateHistoryParams(sinceMs, limit, FUNDING_WINDOW_STEP_MS),
  fetchOpenInterestHistory: okxOpenInterestHistory,
  oneSideOpenInterest: (oi) => okxOneSideOpenInterest(oi),
};
