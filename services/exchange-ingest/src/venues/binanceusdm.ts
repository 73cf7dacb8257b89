import type { RawKline, RawLiquidation } from '../domain/normalize.js';
import type { IngestVenue } from './types.js';

/**
 * Binance USDⓈ-M `forceOrder` stream message:
 * `{"e":"forceOrder","E":…,"o":{"s":"BTCUSDT","S":"SELL","q":"0.014","p":"…","ap":"…","X":"FILLED","z":"0.014","T":…}}`.
 * `S` is the side of the liquidation ORDER: SELL closes a long position, BUY a short.
 * Price: the average fill price `ap` when present, else the order price `p`;
 * amount: the filled quantity `z`, else the order quantity `q`; time: trade time `T`.
 */
export function binanceLiquidations(message: unknown): { marketId: string; liquidation: RawLiquidation }[] {
  const o = (message as { o?: Record<string, unknown> } | null)?.o;
  if (!o || typeof o !== 'object') return [];
  const ap = Number(o.ap);
  const z = Number(o.z);
  return [
    {
      marketId: String(o.s ?? ''),
      liquidation: {
        side: String(o.S ?? ''),
        price: Number.isFinite(ap) && ap > 0 ? ap : Number(o.p),
        amount: Number.isFinite(z) && z > 0 ? z : Number(o.q),
        eventTimeMs: Number(o.T),
      },
    },
  ];
}

/**
 * Binance USDⓈ-M `<symbol>@kline_<interval>` message:
 * `{"e":"kline","E":…,"s":"BTCUSDT","k":{"t":…,"T":…,"s":"BTCUSDT","i":"1m","o":"…","c":"…","h":"…","l":"…","v":"…","x":false,…}}`.
 * `k.x` is true only on the one message that carries the candle's final values;
 * ccxt's parsed row drops it, which is why we read the wire message.
 */
export function binanceKlines(message: unknown): RawKline[] {
  const m = message as { e?: unknown; k?: Record<string, unknown> } | null;
  const k = m?.k;
  if (!k || typeof k !== 'object' || m?.e !== 'kline') return [];
  return [
    {
      marketId: String(k.s ?? ''),
      interval: String(k.i ?? ''),
      row: [Number(k.t), Number(k.o), Number(k.h), Number(k.l), Number(k.c), Number(k.v)],
      closed: k.x === true,
    },
  ];
}

/** Binance USDⓈ-M Futures: everything the ingest knows about it. */
export const binanceusdm: IngestVenue = {
  id: 'binanceusdm',
  // Binance weighs klines by limit (< 100: 1, < 500: 2, ≤ 1000: 5): 499 rows cost 2, so pages of
  // 499 fetch 20 % more candles per unit of weight than pages of 1000. openInterestHist: at
  // most 500 rows; fundingRate: at most 1000.
  pageLimits: { ohlcv: 499, openInterestHistory: 500, fundingHistory: 1000 },
  // klines of 100–499 rows weigh 2; openInterestHist weighs 0 but is limited to 1,000 calls
  // per 5 min; fundingRate weighs 1 and shares 500 calls per 5 min (Binance USDⓈ-M docs).
  pageCosts: {
    ohlcv: { units: 2 },
    openInterestHistory: { units: 0, callsPerMinute: 200 },
    fundingHistory: { units: 1, callsPerMinute: 100 },
  },
  // 2400 request weight per minute per IP; fundingRate shares 500 calls per 5 min per IP, of
  // which the live loop plans at most a fifth. Live kline polls ask for < 100 rows (weight 1);
  // the all-symbol premium index weighs 10.
  budget: {
    unitsPerMinute: 2400,
    callsPerMinute: { fetchFundingRateHistory: 100 },
    cost: {
      fetchOHLCV: 1,
      fetchOpenInterest: 1,
      fetchFundingRates: 10,
      fetchFundingRateHistory: 1,
      fetchTime: 1,
    },
  },
  // 418 "IP banned until …", usually with Retry-After.
  ban: { pattern: /418|banned/i, pauseMs: 120_000 },
  liquidations: {
    subscription: 'all-market',
    subscriptionHash: /forceOrder/,
    fromMessage: binanceLiquidations,
  },
  // Sent on every answer, its 429s and 418s included.
  usedWeight: (headers) => {
    const w = Number(headers['x-mbx-used-weight-1m'] ?? headers['X-MBX-USED-WEIGHT-1M']);
    return Number.isFinite(w) ? w : undefined;
  },
  klines: binanceKlines,
  // openInterestHist pages forward from startTime (not verified against a live answer with
  // both bounds: no recording found), so ccxt's own params do.
};
