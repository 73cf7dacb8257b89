import type { RawKline, RawLiquidation } from '../domain/normalize.js';
import type { IngestVenue } from './types.js';

/**
 * Bybit v5 `allLiquidation.<SYMBOL>` message:
 * `{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":…,"data":[{"T":…,"s":"BTCUSDT","S":"Buy","v":"0.003","p":"…"}]}`.
 * Bybit's `S` is the POSITION side: `Buy` means a long position was liquidated,
 * i.e. a SELL liquidation order. We store the order side, as Binance reports it.
 */
export function bybitLiquidations(message: unknown): { marketId: string; liquidation: RawLiquidation }[] {
  const data = (message as { data?: unknown } | null)?.data;
  const rows = Array.isArray(data) ? data : data && typeof data === 'object' ? [data] : [];
  return rows.map((row: Record<string, unknown>) => {
    const positionSide = String(row.S ?? row.side ?? '');
    const orderSide = positionSide === 'Buy' ? 'sell' : positionSide === 'Sell' ? 'buy' : positionSide;
    return {
      marketId: String(row.s ?? row.symbol ?? ''),
      liquidation: {
        side: orderSide,
        price: Number(row.p ?? row.price),
        amount: Number(row.v ?? row.size),
        eventTimeMs: Number(row.T ?? row.updatedTime),
      },
    };
  });
}

/**
 * Bybit v5 `kline.<interval>.<SYMBOL>` message:
 * `{"topic":"kline.1.BTCUSDT","type":"snapshot","ts":…,"data":[{"start":…,"end":…,"interval":"1","open":"…","close":"…","high":"…","low":"…","volume":"…","confirm":false,…}]}`.
 * `confirm: true` marks the candle's final values. Bybit intervals are minutes ("1", "60") or "D".
 */
export function bybitKlines(message: unknown): RawKline[] {
  const m = message as { topic?: unknown; data?: unknown } | null;
  const topic = typeof m?.topic === 'string' ? m.topic : '';
  if (!topic.startsWith('kline.')) return [];
  const parts = topic.split('.');
  const interval = parts[1] ?? '';
  const marketId = parts.at(-1) ?? '';
  const rows = Array.isArray(m?.data) ? (m.data as Record<string, unknown>[]) : [];
  return rows.map((d) => ({
    marketId,
    interval: /^[0-9]+$/.test(interval)
      ? Number(interval) % 60 === 0
        ? `${Number(interval) / 60}h`
        : `${interval}m`
      : interval === 'D'
        ? '1d'
        : interval,
    row: [Number(d.start), Number(d.open), Number(d.high), Number(d.low), Number(d.close), Number(d.volume)],
    closed: d.confirm === true,
  }));
}

/**
 * Bybit's `/v5/market/open-interest` is end-anchored: it answers the newest `limit`
 * points at or before endTime, and ccxt sends endTime = since + limit × period, so the
 * point at `since` never comes back (ccxt PR #30016's live answers: start + 5 h with
 * limit 5 gave S+5h … S+1h). Paging on from the last point returned would lose one
 * point per page. Asking with until = since + (limit − 1) × period makes the page
 * exactly [since, since + (limit − 1) × period].
 */
export function bybitOpenInterestHistoryParams(
  sinceMs: number,
  limit: number,
  periodMs: number,
): Record<string, unknown> {
  return { until: sinceMs + (limit - 1) * periodMs };
}

/**
 * Past its IP limit (600 requests per 5 s) Bybit answers HTTP 403 "access too frequent"
 * and bans the IP: "wait for at least 10 minutes. The ban will be lifted automatically"
 * (bybit-exchange.github.io/docs, Rate Limit). No Retry-After comes with it; ccxt maps
 * the 403 to RateLimitExceeded with the status in its message.
 */
const BYBIT_BAN = { pattern: / 403 |access too frequent/i, pauseMs: 600_000 };

/**
 * Liquidations from `allLiquidation.<SYM>`, never the `liquidation.<SYM>` topic that
 * Bybit deprecated on 2025-02-20 ("only pushes 1 liquidation per second"): pinned here
 * rather than left to ccxt's default.
 */
const BYBIT_CCXT_OPTIONS = { watchLiquidations: { method: 'allLiquidation' } };

/**
 * Open interest in base units, ONE side. Bybit's `openInterest` counts both sides (its
 * docs; ccxt issue #30014 shows it exactly 2 × `singleOpenInterest`), Binance's one, so
 * Bybit's figure is taken from `singleOpenInterest`, else halved.
 */
export function bybitOneSideOpenInterest(oi: {
  openInterestAmount?: number | undefined;
  info?: unknown;
}): number | undefined {
  const single = Number((oi.info as { singleOpenInterest?: unknown } | undefined)?.singleOpenInterest);
  if (Number.isFinite(single) && (oi.info as { singleOpenInterest?: unknown }).singleOpenInterest !== '')
    return single;
  return oi.openInterestAmount === undefined ? undefined : oi.openInterestAmount / 2;
}

/** Bybit v5, linear perpetuals: everything the ingest knows about it. */
export const bybit: IngestVenue = {
  id: 'bybit',
  // kline: at most 1000 rows; open-interest and funding history: at most 200.
  pageLimits: { ohlcv: 1000, openInterestHistory: 200, fundingHistory: 200 },
  // Every public request counts once against the IP's 600 per 5 s, whatever its rows.
  pageCosts: { ohlcv: { units: 5 }, openInterestHistory: { units: 5 }, fundingHistory: { units: 5 } },
  // 600 requests per 5 s per IP = 7200 per minute, at ccxt's 5 units a request.
  budget: {
    unitsPerMinute: 7200 * 5,
    cost: {
      fetchOHLCV: 5,
      fetchOpenInterest: 5,
      fetchFundingRates: 5,
      fetchFundingRateHistory: 5,
      fetchTime: 5,
    },
  },
  ban: BYBIT_BAN,
  ccxtOptions: BYBIT_CCXT_OPTIONS,
  // /v5/market/open-interest takes intervalTime 5min…1d (ccxt's default 1h): the 5-minute grid,
  // the finest, as the backfill pages it.
  currentOpenInterestParams: { interval: '5m' },
  liquidations: {
    subscription: 'per-symbol',
    subscriptionHash: /^liquidations::/,
    fromMessage: bybitLiquidations,
  },
  klines: bybitKlines,
  openInterestHistoryParams: bybitOpenInterestHistoryParams,
  oneSideOpenInterest: bybitOneSideOpenInterest,
};
