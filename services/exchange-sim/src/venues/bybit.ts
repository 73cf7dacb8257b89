import type { SymbolSpec } from '../market/symbols.js';
import { DAY_MS, type LiquidationEvent, MINUTE_MS } from '../market/types.js';
import { latestPerSymbolPerSecond } from './liquidation-snapshot.js';
import {
  intParam,
  pageRange,
  type Refusal,
  type RestAnswer,
  servedCandles,
  type Topic,
  type Venue,
  type VenueContext,
  type VenueGate,
  type WsControl,
} from './types.js';

/**
 * Bybit v5, category=linear: REST under api.bybit.com (/v5/market/*), public WS at
 * stream.bybit.com/v5/public/linear (op subscribe/ping). Every REST answer is the
 * {retCode, retMsg, result, retExtInfo, time} envelope; lists are newest first.
 * Other categories (spot, inverse, option) answer empty lists so ccxt's
 * loadMarkets works without changes.
 */

const INTERVALS: Record<string, number> = {
  '1': 60_000,
  '3': 180_000,
  '5': 300_000,
  '15': 900_000,
  '30': 1_800_000,
  '60': 3_600_000,
  '120': 7_200_000,
  '240': 14_400_000,
  '360': 21_600_000,
  '720': 43_200_000,
  D: DAY_MS,
};

const OI_INTERVALS: Record<string, number> = {
  '5min': 300_000,
  '15min': 900_000,
  '30min': 1_800_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': DAY_MS,
};

export function bybitEnvelope(result: unknown, nowMs: number, retCode = 0, retMsg = 'OK'): unknown {
  return { retCode, retMsg, result, retExtInfo: {}, time: nowMs };
}

const ok = (result: unknown, ctx: VenueContext, endpoint: string): RestAnswer => ({
  status: 200,
  body: bybitEnvelope(result, ctx.nowMs),
  endpoint,
});
const paramErr = (msg: string, ctx: VenueContext, endpoint: string): RestAnswer => ({
  status: 200,
  body: bybitEnvelope({}, ctx.nowMs, 10001, msg),
  endpoint,
});

const tick = (d: number) => (10 ** -d).toFixed(d);

function instrument(s: SymbolSpec): Record<string, unknown> {
  return {
    symbol: s.id,
    contractType: 'LinearPerpetual',
    status: 'Trading',
    baseCoin: s.base,
    quoteCoin: 'USDT',
    launchTime: String(s.onboardMs),
    deliveryTime: '0',
    deliveryFeeRate: '',
    priceScale: String(s.priceDecimals),
    leverageFilter: { minLeverage: '1', maxLeverage: '50.00', leverageStep: '0.01' },
    priceFilter: { minPrice: tick(s.priceDecimals), maxPrice: '1999999.80', tickSize: tick(s.priceDecimals) },
    lotSizeFilter: {
      maxOrderQty: '1000000',
      minOrderQty: tick(s.qtyDecimals),
      qtyStep: tick(s.qtyDecimals),
      postOnlyMaxOrderQty: '1000000',
      maxMktOrderQty: '100000',
      minNotionalValue: '5',
    },
    unifiedMarginTrade: true,
    fundingInterval: s.fundingIntervalMs / 60_000,
    settleCoin: 'USDT',
    copyTrading: 'both',
    upperFundingRate: '0.0075',
    lowerFundingRate: '-0.0075',
    isPreListing: false,
    preListingInfo: null,
  };
}

function rest(path: string, q: URLSearchParams, ctx: VenueContext): RestAnswer {
  const { model, nowMs } = ctx;
  const category = q.get('category');
  const symbolParam = q.get('symbol');
  const linear = category === 'linear';
  const known = (endpoint: string): SymbolSpec | RestAnswer => {
    if (!symbolParam) return paramErr('params error: symbol is required', ctx, endpoint);
    if (!linear) return paramErr('params error: Category is invalid', ctx, endpoint);
    if (!model.hasSymbol(symbolParam)) return paramErr('params error: symbol invalid', ctx, endpoint);
    return model.spec(symbolParam);
  };
  const isAnswer = (x: unknown): x is RestAnswer => typeof x === 'object' && x !== null && 'endpoint' in x;

  switch (path) {
    case '/v5/market/time':
      return ok({ timeSecond: String(Math.floor(nowMs / 1000)), timeNano: `${nowMs}000000` }, ctx, 'time');
    case '/v5/market/instruments-info': {
      if (!linear || q.get('status') === 'PreLaunch')
        return ok({ category: category ?? '', list: [], nextPageCursor: '' }, ctx, 'instruments-info');
      const limit = Math.min(1000, Math.max(1, intParam(q, 'limit') || 500));
      const offset = Number(q.get('cursor') ?? 0) || 0;
      const all = symbolParam ? model.symbols.filter((s) => s.id === symbolParam) : model.symbols;
      const page = all.slice(offset, offset + limit);
      const next = offset + limit < all.length ? String(offset + limit) : '';
      return ok(
        { category: 'linear', list: page.map(instrument), nextPageCursor: next },
        ctx,
        'instruments-info',
      );
    }
    case '/v5/market/kline': {
      const s = known('kline');
      if (isAnswer(s)) return s;
      const intervalMs = INTERVALS[q.get('interval') ?? ''];
      if (!intervalMs) return paramErr('params error: invalid interval', ctx, 'kline');
      const limit = intParam(q, 'limit') ?? 200;
      if (!(limit >= 1 && limit <= 1000)) return paramErr('params error: limit invalid', ctx, 'kline');
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const range = pageRange(
        intParam(q, 'start'),
        intParam(q, 'end'),
        limit,
        intervalMs,
        Math.floor(symNow / intervalMs) * intervalMs,
      );
      const candles = range ? servedCandles(model, s.id, intervalMs, range[0], range[1], symNow) : [];
      const d = s.priceDecimals;
      const rows = candles
        .map((c) => [
          String(c.openTimeMs),
          c.open.toFixed(d),
          c.high.toFixed(d),
          c.low.toFixed(d),
          c.close.toFixed(d),
          c.volume.toFixed(s.qtyDecimals),
          c.quoteVolume.toFixed(4),
        ])
        .reverse();
      return ok(
        { symbol: s.id, category: 'linear', list: ctx.faults.candlePage('bybit', rows) },
        ctx,
        'kline',
      );
    }
    case '/v5/market/open-interest': {
      const s = known('open-interest');
      if (isAnswer(s)) return s;
      const periodMs = OI_INTERVALS[q.get('intervalTime') ?? ''];
      if (!periodMs) return paramErr('params error: intervalTime invalid', ctx, 'open-interest');
      const limit = intParam(q, 'limit') ?? 50;
      if (!(limit >= 1 && limit <= 200)) return paramErr('params error: limit invalid', ctx, 'open-interest');
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const cursorEnd = intParam(q, 'cursor');
      const end = cursorEnd !== undefined && !Number.isNaN(cursorEnd) ? cursorEnd : intParam(q, 'endTime');
      // End-anchored, newest first: the latest `limit` points at or before endTime (now
      // without one). A lone startTime is ignored; with an end it only bounds from below.
      // So `startTime=S&endTime=S+5h&limit=5` (1h) gives S+5h … S+1h, never S: the live
      // endpoint's answers recorded in ccxt PR #30016 (2026-08-21).
      const start = end === undefined ? undefined : intParam(q, 'startTime');
      const anchored = pageRange(undefined, end, limit, periodMs, Math.floor(symNow / periodMs) * periodMs);
      const [first, last] = anchored ?? [0, -1];
      const from = start === undefined ? first : Math.max(first, Math.ceil(start / periodMs) * periodMs);
      const range: [number, number] | undefined = from <= last ? [from, last] : undefined;
      const points = range ? model.openInterestHistory(s.id, periodMs, range[0], range[1]) : [];
      const list = points
        // Bybit counts both sides: openInterest is twice the one-side figure it also sends as
        // singleOpenInterest (the docs; ccxt issue #30014's capture: "54656.19300000" beside
        // "27328.097"). The model's open interest is one side, as Binance reports it.
        .map((p) => ({
          openInterest: (2 * p.openInterest).toFixed(8),
          singleOpenInterest: p.openInterest.toFixed(s.qtyDecimals),
          timestamp: String(p.timeMs),
        }))
        .reverse();
      const oldest = points[0];
      const nextPageCursor =
        oldest && range && points.length === limit ? String(oldest.timeMs - periodMs) : '';
      return ok({ symbol: s.id, category: 'linear', list, nextPageCursor }, ctx, 'open-interest');
    }
    case '/v5/market/funding/history': {
      const s = known('funding/history');
      if (isAnswer(s)) return s;
      const limit = intParam(q, 'limit') ?? 200;
      if (!(limit >= 1 && limit <= 200))
        return paramErr('params error: limit invalid', ctx, 'funding/history');
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const start = intParam(q, 'startTime');
      const end = intParam(q, 'endTime');
      const interval = s.fundingIntervalMs;
      const latest = Math.floor(symNow / interval) * interval;
      // Bybit pages newest-first: with both bounds, the latest `limit` inside them.
      const range =
        start !== undefined && end !== undefined
          ? pageRange(undefined, end, limit, interval, latest)
          : pageRange(start, end, limit, interval, latest);
      const from = range ? Math.max(range[0], start ?? range[0]) : 0;
      const rows = range ? model.fundingHistory(s.id, from, range[1]) : [];
      const list = rows
        .map((f) => ({
          symbol: s.id,
          fundingRate: f.rate.toFixed(8),
          fundingRateTimestamp: String(f.fundingTimeMs),
        }))
        .reverse();
      return ok({ category: 'linear', list }, ctx, 'funding/history');
    }
    case '/v5/market/tickers': {
      if (!linear) return ok({ category: category ?? '', list: [] }, ctx, 'tickers');
      const specs = symbolParam ? [known('tickers')] : model.symbols;
      const list: unknown[] = [];
      for (const s of specs) {
        if (isAnswer(s)) return s;
        list.push(ticker(s, ctx));
      }
      return ok({ category: 'linear', list }, ctx, 'tickers');
    }
    default:
      return { status: 404, body: { retCode: 10404, retMsg: 'Not Found' }, endpoint: 'unknown' };
  }
}

function ticker(s: SymbolSpec, ctx: VenueContext): Record<string, unknown> {
  const { model } = ctx;
  const now = ctx.faults.symbolNow(s.id, ctx.nowMs);
  const p = model.premiumIndex(s.id, now);
  const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const last = model.partialCandle(s.id, MINUTE_MS, minute, now).close;
  const prev1h = model.candle1m(s.id, minute - 60 * MINUTE_MS).close;
  const prev24h = model.candle1m(s.id, minute - 1440 * MINUTE_MS).close;
  const oi = model.openInterest(s.id, now);
  const d = s.priceDecimals;
  return {
    symbol: s.id,
    lastPrice: last.toFixed(d),
    indexPrice: p.indexPrice.toFixed(d),
    markPrice: p.markPrice.toFixed(d),
    prevPrice24h: prev24h.toFixed(d),
    price24hPcnt: (last / prev24h - 1).toFixed(6),
    highPrice24h: Math.max(last, prev24h).toFixed(d),
    lowPrice24h: Math.min(last, prev24h).toFixed(d),
    prevPrice1h: prev1h.toFixed(d),
    openInterest: oi.openInterest.toFixed(s.qtyDecimals),
    openInterestValue: oi.openInterestValue.toFixed(2),
    turnover24h: (s.volumePerMinute * 1440 * last).toFixed(4),
    volume24h: (s.volumePerMinute * 1440).toFixed(s.qtyDecimals),
    fundingRate: p.lastFundingRate.toFixed(8),
    nextFundingTime: String(p.nextFundingTimeMs),
    fundingIntervalHour: String(s.fundingIntervalMs / 3_600_000),
    fundingCap: '0.005',
    predictedDeliveryPrice: '',
    basisRate: '',
    deliveryFeeRate: '',
    deliveryTime: '0',
    ask1Size: '1',
    bid1Price: last.toFixed(d),
    ask1Price: last.toFixed(d),
    bid1Size: '1',
    basis: '',
  };
}

function parseTopic(raw: string, ctx: VenueContext): Topic | undefined {
  const parts = raw.split('.');
  if (parts.length !== 3 && !(parts.length === 2 && parts[0]?.toLowerCase().includes('liquidation')))
    return undefined;
  const symbol = parts.at(-1) ?? '';
  if (!ctx.model.hasSymbol(symbol)) return undefined;
  if (parts[0] === 'allLiquidation' || parts[0] === 'liquidation')
    return { kind: 'liquidation', raw, symbol };
  if (parts[0] === 'kline') {
    const intervalMs = INTERVALS[parts[1] ?? ''];
    return intervalMs ? { kind: 'kline', raw, symbol, intervalMs } : undefined;
  }
  return undefined;
}

export interface BybitLimitOptions {
  /**
   * The IP limit as a per-second rate: requestsPerSecond × 5 requests in any 5-second
   * window. Default 120 (600 per 5 s, the documented IP limit of api.bybit.com).
   */
  requestsPerSecond?: number;
  /** How long an IP over the limit is answered 403. Default 10 min (the docs: "wait for at least 10 minutes"). */
  banMs?: number;
}

export type BybitVerdict = {
  ok: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
  /** Set when the IP is banned: every request until then answers 403. */
  bannedUntilMs?: number;
};

/**
 * Bybit's public IP limit: at most 600 requests in any 5-second window per IP; past it
 * the venue answers HTTP 403 "access too frequent" and bans the IP for at least 10
 * minutes (bybit-exchange.github.io/docs, "Rate Limit": "If you encounter the error
 * '403, access too frequent' … wait for at least 10 minutes. The ban will be lifted
 * automatically"). retCode 10006 is the per-UID API limit of private endpoints, not this.
 * The window here is a sliding one over the last 5 s of request times.
 */
export class BybitLimiter {
  private readonly ips = new Map<string, { times: number[]; bannedUntilMs: number }>();
  readonly requestsPerSecond: number;
  readonly banMs: number;

  constructor(options: BybitLimitOptions = {}) {
    this.requestsPerSecond = options.requestsPerSecond ?? 120;
    this.banMs = options.banMs ?? 600_000;
  }

  reset(): void {
    this.ips.clear();
  }

  check(ip: string, nowMs: number): BybitVerdict {
    const limit = this.requestsPerSecond * 5;
    let st = this.ips.get(ip);
    if (!st) {
      st = { times: [], bannedUntilMs: 0 };
      this.ips.set(ip, st);
    }
    if (nowMs < st.bannedUntilMs)
      return { ok: false, limit, remaining: 0, resetMs: st.bannedUntilMs, bannedUntilMs: st.bannedUntilMs };
    let drop = 0;
    while (drop < st.times.length && st.times[drop]! <= nowMs - 5_000) drop++;
    if (drop > 0) st.times.splice(0, drop);
    if (st.times.length >= limit) {
      st.bannedUntilMs = nowMs + this.banMs;
      st.times.length = 0;
      return { ok: false, limit, remaining: 0, resetMs: st.bannedUntilMs, bannedUntilMs: st.bannedUntilMs };
    }
    st.times.push(nowMs);
    return { ok: true, limit, remaining: limit - st.times.length, resetMs: (st.times[0] ?? nowMs) + 5_000 };
  }
}

/**
 * Bybit's gate: the x-bapi-limit headers on every answer; over the IP limit a plain-text
 * 403 and a ban (no JSON envelope, no Retry-After). An injected storm answers retCode
 * 10006 in an HTTP 200 envelope (what its per-UID limit sends), an injected ban the 403.
 */
export function bybitGate(options?: BybitLimitOptions): VenueGate {
  const limiter = new BybitLimiter(options);
  const banned: Refusal = {
    status: 403,
    body: 'access too frequent',
    headers: {},
    kind: 'bybit_ip_ban_403',
  };
  return {
    admit(req) {
      const v = limiter.check(req.ip, req.wallMs);
      const headers = {
        'x-bapi-limit': String(v.limit),
        'x-bapi-limit-status': String(v.remaining),
        'x-bapi-limit-reset-timestamp': String(v.resetMs),
      };
      return v.ok ? { headers } : { headers, refusal: banned };
    },
    injected(kind, _retryAfterS, req) {
      if (kind === 'banned') return banned;
      return {
        status: 200,
        body: bybitEnvelope({}, req.nowMs, 10006, 'Too many visits. Exceeded the API Rate Limit.'),
        headers: {},
        kind: 'bybit_10006',
      };
    },
    state: () => ({ requestsPerSecond: limiter.requestsPerSecond, banMs: limiter.banMs }),
    reset: () => limiter.reset(),
  };
}

export const bybit: Venue<BybitLimitOptions> = {
  id: 'bybit',
  restHost: 'api.bybit.com',
  wsHost: 'stream.bybit.com',
  rest,
  createGate: bybitGate,
  topicsFromPath: () => [],
  perSymbolLiquidationTopic: (symbol) => `allLiquidation.${symbol}`,

  control(message, ctx, connId): WsControl {
    const msg = message as { op?: unknown; args?: unknown; req_id?: unknown };
    const reqId = msg && typeof msg === 'object' && msg.req_id !== undefined ? String(msg.req_id) : '';
    const op = msg && typeof msg === 'object' ? msg.op : undefined;
    if (op === 'ping')
      return { reply: { success: true, ret_msg: 'pong', conn_id: connId, req_id: reqId, op: 'ping' } };
    if ((op === 'subscribe' || op === 'unsubscribe') && Array.isArray(msg.args)) {
      const topics: Topic[] = [];
      for (const a of msg.args) {
        const t = typeof a === 'string' ? parseTopic(a, ctx) : undefined;
        if (!t)
          return {
            reply: {
              success: false,
              ret_msg: `error:handler not found,topic:${String(a)}`,
              conn_id: connId,
              req_id: reqId,
              op,
            },
          };
        topics.push(t);
      }
      const reply = { success: true, ret_msg: '', conn_id: connId, req_id: reqId, op };
      return op === 'subscribe' ? { subscribe: topics, reply } : { unsubscribe: topics, reply };
    }
    return {
      reply: { success: false, ret_msg: 'error:request not supported', conn_id: connId, req_id: reqId, op },
    };
  },

  klineMessage(topic, c, closed, nowMs, ctx) {
    const s = ctx.model.spec(topic.symbol);
    const d = s.priceDecimals;
    const interval = Object.keys(INTERVALS).find((k) => INTERVALS[k] === topic.intervalMs) ?? '1';
    return JSON.stringify({
      topic: topic.raw,
      data: [
        {
          start: c.openTimeMs,
          end: c.openTimeMs + topic.intervalMs - 1,
          interval,
          open: c.open.toFixed(d),
          close: c.close.toFixed(d),
          high: c.high.toFixed(d),
          low: c.low.toFixed(d),
          volume: c.volume.toFixed(s.qtyDecimals),
          turnover: c.quoteVolume.toFixed(4),
          confirm: closed,
          timestamp: nowMs,
        },
      ],
      ts: nowMs,
      type: 'snapshot',
    });
  },

  /**
   * Bybit's side is the POSITION side: "Buy" = a long was liquidated, i.e. the
   * liquidation order SELLs (model side SELL ↔ Bybit "Buy").
   */
  liquidationMessages(topic, events: LiquidationEvent[], nowMs, ctx) {
    if (events.length === 0) return [];
    const s = ctx.model.spec(topic.symbol === '*' ? (events[0]?.symbol ?? '') : topic.symbol);
    const side = (ev: LiquidationEvent) => (ev.side === 'SELL' ? 'Buy' : 'Sell');
    if (topic.raw.startsWith('allLiquidation.')) {
      return [
        JSON.stringify({
          topic: topic.raw,
          type: 'snapshot',
          ts: nowMs,
          data: events.map((ev) => ({
            T: ev.timeMs,
            s: s.id,
            S: side(ev),
            v: ev.qty.toFixed(s.qtyDecimals),
            p: ev.price.toFixed(s.priceDecimals),
          })),
        }),
      ];
    }
    // The deprecated `liquidation.<SYM>` topic (Bybit changelog, 2025-02-20: replaced by
    // allLiquidation, it "only pushes 1 liquidation per second"): the last event of each
    // second of event time, so a client that regressed to it sees fewer events.
    return latestPerSymbolPerSecond(events).map((ev) =>
      JSON.stringify({
        topic: topic.raw,
        type: 'snapshot',
        ts: Math.max(nowMs, ev.timeMs),
        data: {
          price: ev.price.toFixed(s.priceDecimals),
          side: side(ev),
          size: ev.qty.toFixed(s.qtyDecimals),
          symbol: s.id,
          updatedTime: ev.timeMs,
        },
      }),
    );
  },
};
