import type { SymbolSpec } from '../market/symbols.js';
import { hashString } from '../market/random.js';
import { latestPerSymbolPerSecond } from './liquidation-snapshot.js';
import {
  type Candle,
  FUNDING_INTERVAL_MS,
  type LiquidationEvent,
  MINUTE_MS,
  OPEN_INTEREST_PERIOD_MS,
} from '../market/types.js';
import {
  INTERVALS_MS,
  intParam,
  pageRange,
  type GateRequest,
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
 * Binance USDⓈ-M Futures: REST under fapi.binance.com (/fapi/v1/*, /futures/data/*),
 * WS under fstream.binance.com (ccxt connects to /market/ws/<n> and SUBSCRIBEs).
 * Numbers are strings where Binance sends strings; times are integers.
 */

const err = (status: number, code: number, msg: string, endpoint: string): RestAnswer => ({
  status,
  body: { code, msg },
  endpoint,
});

const mandatory = (key: string, endpoint: string) =>
  err(400, -1102, `Mandatory parameter '${key}' was not sent, was empty/null, or malformed.`, endpoint);
const invalid = (key: string, endpoint: string) =>
  err(400, -1130, `Data sent for parameter '${key}' is not valid.`, endpoint);

/**
 * How late Binance stamps a settlement: `fundingTime` is a few ms after the slot (ccxt's
 * PRs record +9 ms; a recorded ETHUSDT answer has 1768953600001). Deterministic per symbol
 * and slot, 1–15 ms.
 */
export function fundingTimeLagMs(id: string, slotMs: number): number {
  return 1 + (hashString(`${id}|${slotMs}`) % 15);
}

/** Request weight as Binance counts it (GET /fapi/v1/klines by limit, premiumIndex 10 without symbol, …). */
export function binanceWeight(path: string, q: URLSearchParams): number {
  switch (path) {
    case '/fapi/v1/klines':
    case '/fapi/v1/markPriceKlines':
    case '/fapi/v1/indexPriceKlines': {
      const limit = Number(q.get('limit') ?? 500);
      return limit < 100 ? 1 : limit < 500 ? 2 : limit <= 1000 ? 5 : 10;
    }
    case '/fapi/v1/premiumIndex':
      return q.get('symbol') ? 1 : 10;
    case '/fapi/v1/ping':
    case '/fapi/v1/time':
    case '/fapi/v1/exchangeInfo':
    case '/fapi/v1/openInterest':
    case '/fapi/v1/fundingRate':
      return 1;
    // "Weight: 0", sharing fundingRate's 500 requests / 5 min per IP.
    case '/fapi/v1/fundingInfo':
      return 0;
    // Binance's docs: "Weight: 0" — it counts only against its own 1000 requests / 5 min IP limit.
    case '/futures/data/openInterestHist':
      return 0;
    default:
      return 1;
  }
}

/** The separate 5-minute limits some endpoints also count against. */
export function binanceBucket(path: string): 'fundingRate' | 'openInterestHist' | undefined {
  if (path === '/fapi/v1/fundingRate' || path === '/fapi/v1/fundingInfo') return 'fundingRate';
  if (path === '/futures/data/openInterestHist') return 'openInterestHist';
  return undefined;
}

const tick = (d: number) => (10 ** -d).toFixed(d);

function symbolInfo(s: SymbolSpec): Record<string, unknown> {
  const step = tick(s.qtyDecimals);
  return {
    symbol: s.id,
    pair: s.id,
    contractType: 'PERPETUAL',
    deliveryDate: 4133404800000,
    onboardDate: s.onboardMs,
    status: 'TRADING',
    maintMarginPercent: '2.5000',
    requiredMarginPercent: '5.0000',
    baseAsset: s.base,
    quoteAsset: 'USDT',
    marginAsset: 'USDT',
    pricePrecision: s.priceDecimals,
    quantityPrecision: s.qtyDecimals,
    baseAssetPrecision: 8,
    quotePrecision: 8,
    underlyingType: 'COIN',
    underlyingSubType: [],
    settlePlan: 0,
    triggerProtect: '0.0500',
    liquidationFee: '0.012500',
    marketTakeBound: '0.05',
    maxMoveOrderLimit: 10000,
    filters: [
      {
        filterType: 'PRICE_FILTER',
        minPrice: tick(s.priceDecimals),
        maxPrice: '10000000',
        tickSize: tick(s.priceDecimals),
      },
      { filterType: 'LOT_SIZE', stepSize: step, maxQty: '100000000', minQty: step },
      { filterType: 'MARKET_LOT_SIZE', stepSize: step, maxQty: '10000000', minQty: step },
      { filterType: 'MAX_NUM_ORDERS', limit: 200 },
      { filterType: 'MAX_NUM_ALGO_ORDERS', limit: 10 },
      { filterType: 'MIN_NOTIONAL', notional: '5' },
      {
        filterType: 'PERCENT_PRICE',
        multiplierUp: '1.0500',
        multiplierDown: '0.9500',
        multiplierDecimal: '4',
      },
    ],
    orderTypes: [
      'LIMIT',
      'MARKET',
      'STOP',
      'STOP_MARKET',
      'TAKE_PROFIT',
      'TAKE_PROFIT_MARKET',
      'TRAILING_STOP_MARKET',
    ],
    timeInForce: ['GTC', 'IOC', 'FOK', 'GTX', 'GTD'],
  };
}

/** A kline row: [openTime, "o", "h", "l", "c", "vol", closeTime, "quoteVol", trades, "takerBase", "takerQuote", "0"]. */
export function klineRow(s: SymbolSpec, c: Candle): unknown[] {
  const d = s.priceDecimals;
  const q = s.qtyDecimals;
  return [
    c.openTimeMs,
    c.open.toFixed(d),
    c.high.toFixed(d),
    c.low.toFixed(d),
    c.close.toFixed(d),
    c.volume.toFixed(q),
    c.openTimeMs + c.intervalMs - 1,
    c.quoteVolume.toFixed(4),
    c.trades,
    c.takerBuyVolume.toFixed(q),
    c.takerBuyQuoteVolume.toFixed(4),
    '0',
  ];
}

function rest(path: string, q: URLSearchParams, ctx: VenueContext): RestAnswer {
  const { model, nowMs } = ctx;
  const symbolParam = q.get('symbol');
  const spec = (endpoint: string): SymbolSpec | RestAnswer => {
    if (!symbolParam) return mandatory('symbol', endpoint);
    if (!model.hasSymbol(symbolParam)) return err(400, -1121, 'Invalid symbol.', endpoint);
    return model.spec(symbolParam);
  };
  const isAnswer = (x: unknown): x is RestAnswer => typeof x === 'object' && x !== null && 'endpoint' in x;

  switch (path) {
    case '/fapi/v1/ping':
      return { status: 200, body: {}, endpoint: 'ping' };
    case '/fapi/v1/time':
      return { status: 200, body: { serverTime: nowMs }, endpoint: 'time' };
    case '/fapi/v1/exchangeInfo':
      return {
        status: 200,
        endpoint: 'exchangeInfo',
        body: {
          timezone: 'UTC',
          serverTime: nowMs,
          futuresType: 'U_MARGINED',
          rateLimits: [
            { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 },
            { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
            { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 300 },
          ],
          exchangeFilters: [],
          assets: [{ asset: 'USDT', marginAvailable: true, autoAssetExchange: '-10000' }],
          symbols: model.symbols.map(symbolInfo),
        },
      };
    case '/fapi/v1/klines': {
      const s = spec('klines');
      if (isAnswer(s)) return s;
      const interval = q.get('interval');
      if (!interval) return mandatory('interval', 'klines');
      const intervalMs = INTERVALS_MS[interval];
      if (!intervalMs) return err(400, -1120, 'Invalid interval.', 'klines');
      const limit = intParam(q, 'limit') ?? 500;
      if (!(limit >= 1 && limit <= 1500)) return invalid('limit', 'klines');
      const start = intParam(q, 'startTime');
      const end = intParam(q, 'endTime');
      if (Number.isNaN(start)) return invalid('startTime', 'klines');
      if (Number.isNaN(end)) return invalid('endTime', 'klines');
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const range = pageRange(start, end, limit, intervalMs, Math.floor(symNow / intervalMs) * intervalMs);
      const candles = range ? servedCandles(model, s.id, intervalMs, range[0], range[1], symNow) : [];
      const rows = candles.map((c) => klineRow(s, c));
      return { status: 200, endpoint: 'klines', body: ctx.faults.candlePage('binanceusdm', rows) };
    }
    case '/fapi/v1/openInterest': {
      const s = spec('openInterest');
      if (isAnswer(s)) return s;
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const oi = model.openInterest(s.id, symNow);
      return {
        status: 200,
        endpoint: 'openInterest',
        body: { symbol: s.id, openInterest: oi.openInterest.toFixed(s.qtyDecimals), time: symNow },
      };
    }
    case '/futures/data/openInterestHist': {
      const s = spec('openInterestHist');
      if (isAnswer(s)) return s;
      const period = q.get('period');
      if (!period) return mandatory('period', 'openInterestHist');
      const periodMs = INTERVALS_MS[period];
      if (!periodMs || periodMs < OPEN_INTEREST_PERIOD_MS) return invalid('period', 'openInterestHist');
      const limit = intParam(q, 'limit') ?? 30;
      if (!(limit >= 1 && limit <= 500)) return invalid('limit', 'openInterestHist');
      const start = intParam(q, 'startTime');
      const end = intParam(q, 'endTime');
      if (Number.isNaN(start) || Number.isNaN(end)) return invalid('startTime', 'openInterestHist');
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const oldest = Math.ceil((nowMs - ctx.openInterestRetentionMs) / periodMs) * periodMs;
      if (start !== undefined && end !== undefined && end < oldest)
        return { status: 200, endpoint: 'openInterestHist', body: [] };
      const range = pageRange(
        start === undefined ? undefined : Math.max(start, oldest),
        end,
        limit,
        periodMs,
        Math.floor(symNow / periodMs) * periodMs,
      );
      const points = range
        ? model.openInterestHistory(s.id, periodMs, Math.max(range[0], oldest), range[1])
        : [];
      return {
        status: 200,
        endpoint: 'openInterestHist',
        body: points.map((p) => ({
          symbol: s.id,
          sumOpenInterest: p.openInterest.toFixed(8),
          sumOpenInterestValue: `${p.openInterestValue.toFixed(2)}000000`,
          CMCCirculatingSupply: '0',
          timestamp: p.timeMs,
        })),
      };
    }
    case '/fapi/v1/premiumIndex': {
      const one = (s: SymbolSpec) => {
        const p = model.premiumIndex(s.id, ctx.faults.symbolNow(s.id, nowMs));
        return {
          symbol: s.id,
          markPrice: p.markPrice.toFixed(8),
          indexPrice: p.indexPrice.toFixed(8),
          estimatedSettlePrice: p.estimatedSettlePrice.toFixed(8),
          lastFundingRate: p.lastFundingRate.toFixed(8),
          interestRate: p.interestRate.toFixed(8),
          nextFundingTime: p.nextFundingTimeMs,
          time: p.timeMs,
        };
      };
      if (symbolParam) {
        const s = spec('premiumIndex');
        if (isAnswer(s)) return s;
        return { status: 200, endpoint: 'premiumIndex', body: one(s) };
      }
      return { status: 200, endpoint: 'premiumIndex', body: model.symbols.map(one) };
    }
    case '/fapi/v1/fundingInfo': {
      // Only the symbols whose cap, floor or interval Binance adjusted (its docs: "Query
      // funding rate info for symbols that had FundingRateCap/ FundingRateFloor /
      // fundingIntervalHours adjustment"); here, those not settling every 8 h.
      const body = model.symbols
        .filter((s) => s.fundingIntervalMs !== FUNDING_INTERVAL_MS)
        .map((s) => ({
          symbol: s.id,
          adjustedFundingRateCap: '0.02000000',
          adjustedFundingRateFloor: '-0.02000000',
          fundingIntervalHours: s.fundingIntervalMs / 3_600_000,
          disclaimer: false,
        }));
      return { status: 200, endpoint: 'fundingInfo', body };
    }
    case '/fapi/v1/fundingRate': {
      const limit = intParam(q, 'limit') ?? 100;
      if (!(limit >= 1 && limit <= 1000)) return invalid('limit', 'fundingRate');
      const start = intParam(q, 'startTime');
      const end = intParam(q, 'endTime');
      if (Number.isNaN(start) || Number.isNaN(end)) return invalid('startTime', 'fundingRate');
      const symbols = symbolParam ? [spec('fundingRate')] : model.symbols;
      const out: unknown[] = [];
      for (const s of symbols) {
        if (isAnswer(s)) return s;
        const symNow = ctx.faults.symbolNow(s.id, nowMs);
        const interval = s.fundingIntervalMs;
        const range = pageRange(start, end, limit, interval, Math.floor(symNow / interval) * interval);
        if (!range) continue;
        const rows = model.fundingHistory(s.id, range[0], range[1]).map((f) => ({
          symbol: s.id,
          fundingTime: f.fundingTimeMs + fundingTimeLagMs(s.id, f.fundingTimeMs),
          fundingRate: f.rate.toFixed(8),
          markPrice: f.markPrice.toFixed(8),
        }));
        out.push(...(symbolParam ? rows : rows.slice(-1)));
      }
      return { status: 200, endpoint: 'fundingRate', body: out };
    }
    default:
      return err(404, -5000, `Path ${path}, Method GET is invalid`, 'unknown');
  }
}

function parseStream(raw: string, ctx: VenueContext): Topic | undefined {
  if (raw === '!forceOrder@arr') return { kind: 'liquidation', raw, symbol: '*' };
  const m = /^([a-z0-9]+)@(kline_([0-9]+[mhd])|forceOrder)$/.exec(raw);
  if (!m) return undefined;
  const symbol = (m[1] ?? '').toUpperCase();
  if (!ctx.model.hasSymbol(symbol)) return undefined;
  if (m[2] === 'forceOrder') return { kind: 'liquidation', raw, symbol };
  const intervalMs = INTERVALS_MS[m[3] ?? ''];
  return intervalMs ? { kind: 'kline', raw, symbol, intervalMs } : undefined;
}

/**
 * Binance's limits, counted per client IP on the wall clock (pure state: the caller
 * passes `nowMs` and the request's weight).
 */
export type LimitVerdict =
  | { ok: true; usedWeight: number }
  | {
      ok: false;
      status: 429 | 418;
      retryAfterS: number;
      usedWeight: number;
      bannedUntilMs?: number;
      reason: string;
    };

export interface BinanceLimitOptions {
  /** Request weight per minute per IP (REQUEST_WEIGHT, 1 MINUTE). Default 2400. */
  weightPerMinute?: number;
  /** /fapi/v1/fundingRate: requests per 5 minutes per IP (shared). Default 500. */
  fundingRatePer5m?: number;
  /** /futures/data/openInterestHist: requests per 5 minutes per IP. Default 1000. */
  openInterestHistPer5m?: number;
  /** Requests answered 429 in a row before the IP is banned (418). Default 5. */
  banAfterRejected?: number;
  /** First ban length; each further ban doubles it, up to 3 days. Default 120 000 (2 min). */
  banBaseMs?: number;
}

interface Window {
  startMs: number;
  used: number;
}

interface IpState {
  weight: Window;
  funding: Window;
  oiHist: Window;
  rejectedInRow: number;
  bannedUntilMs: number;
  bans: number;
}

const MAX_BAN_MS = 3 * 86_400_000;

/** Which separate limit an endpoint also counts against. */
export type BinanceBucket = 'fundingRate' | 'openInterestHist' | undefined;

export class BinanceLimiter {
  private readonly ips = new Map<string, IpState>();
  readonly options: Required<BinanceLimitOptions>;

  constructor(options: BinanceLimitOptions = {}) {
    this.options = {
      weightPerMinute: options.weightPerMinute ?? 2400,
      fundingRatePer5m: options.fundingRatePer5m ?? 500,
      openInterestHistPer5m: options.openInterestHistPer5m ?? 1000,
      banAfterRejected: options.banAfterRejected ?? 5,
      banBaseMs: options.banBaseMs ?? 120_000,
    };
  }

  reset(): void {
    this.ips.clear();
  }

  usedWeight(ip: string, nowMs: number): number {
    const s = this.ips.get(ip);
    return s ? this.roll(s.weight, nowMs, 60_000).used : 0;
  }

  private roll(w: Window, nowMs: number, lengthMs: number): Window {
    const start = Math.floor(nowMs / lengthMs) * lengthMs;
    if (w.startMs !== start) {
      w.startMs = start;
      w.used = 0;
    }
    return w;
  }

  check(ip: string, nowMs: number, weight: number, bucket: BinanceBucket): LimitVerdict {
    let s = this.ips.get(ip);
    if (!s) {
      s = {
        weight: { startMs: 0, used: 0 },
        funding: { startMs: 0, used: 0 },
        oiHist: { startMs: 0, used: 0 },
        rejectedInRow: 0,
        bannedUntilMs: 0,
        bans: 0,
      };
      this.ips.set(ip, s);
    }
    const w = this.roll(s.weight, nowMs, 60_000);
    if (nowMs < s.bannedUntilMs) {
      return {
        ok: false,
        status: 418,
        retryAfterS: Math.ceil((s.bannedUntilMs - nowMs) / 1000),
        usedWeight: w.used,
        bannedUntilMs: s.bannedUntilMs,
        reason: `Way too much request weight used; IP banned until ${s.bannedUntilMs}. Please use WebSocket Streams for live updates to avoid bans.`,
      };
    }
    // Requests refused with 429 still count (the real venue counts them too).
    w.used += weight;
    let over: { windowEndMs: number; reason: string } | undefined;
    if (w.used > this.options.weightPerMinute) {
      over = {
        windowEndMs: w.startMs + 60_000,
        reason: `Too many requests; current limit of IP(${ip}) request weight per minute is ${this.options.weightPerMinute}. Please use WebSocket Streams for live updates to avoid polling the API.`,
      };
    }
    if (!over && bucket) {
      const b = this.roll(bucket === 'fundingRate' ? s.funding : s.oiHist, nowMs, 300_000);
      const limit =
        bucket === 'fundingRate' ? this.options.fundingRatePer5m : this.options.openInterestHistPer5m;
      b.used += 1;
      if (b.used > limit)
        over = {
          windowEndMs: b.startMs + 300_000,
          reason: `Too many requests; current limit of IP(${ip}) for ${bucket} is ${limit} requests per 5 minutes.`,
        };
    }
    if (!over) {
      s.rejectedInRow = 0;
      return { ok: true, usedWeight: w.used };
    }
    s.rejectedInRow += 1;
    if (s.rejectedInRow > this.options.banAfterRejected) {
      const length = Math.min(MAX_BAN_MS, this.options.banBaseMs * 2 ** s.bans);
      s.bans += 1;
      s.rejectedInRow = 0;
      s.bannedUntilMs = nowMs + length;
      return {
        ok: false,
        status: 418,
        retryAfterS: Math.ceil(length / 1000),
        usedWeight: w.used,
        bannedUntilMs: s.bannedUntilMs,
        reason: `Way too much request weight used; IP banned until ${s.bannedUntilMs}. Please use WebSocket Streams for live updates to avoid bans.`,
      };
    }
    return {
      ok: false,
      status: 429,
      retryAfterS: Math.max(1, Math.ceil((over.windowEndMs - nowMs) / 1000)),
      usedWeight: w.used,
      reason: over.reason,
    };
  }

  snapshot(nowMs: number): Record<string, { usedWeight: number; bannedUntilMs: number; bans: number }> {
    const out: Record<string, { usedWeight: number; bannedUntilMs: number; bans: number }> = {};
    for (const [ip, s] of this.ips)
      out[ip] = {
        usedWeight: this.roll(s.weight, nowMs, 60_000).used,
        bannedUntilMs: s.bannedUntilMs,
        bans: s.bans,
      };
    return out;
  }
}

const BAN_MESSAGE = (untilMs: number) =>
  `Way too much request weight used; IP banned until ${untilMs}. Please use WebSocket Streams for live updates to avoid bans.`;

/**
 * Binance's gate: the weight headers on every answer (its 429s and 418s included), 429
 * with Retry-After to the window's end past a limit, 418 with Retry-After once banned.
 */
export function binanceGate(options?: BinanceLimitOptions): VenueGate {
  const limiter = new BinanceLimiter(options);
  const weightHeaders = (used: number) => ({
    'x-mbx-used-weight-1m': String(used),
    'x-mbx-used-weight': String(used),
  });
  const refusal = (status: 429 | 418, msg: string, headers: Record<string, string>): Refusal => ({
    status,
    body: { code: -1003, msg },
    headers,
    kind: status === 418 ? 'banned_418' : 'rate_limited_429',
  });
  return {
    admit(req: GateRequest) {
      const v = limiter.check(
        req.ip,
        req.wallMs,
        binanceWeight(req.path, req.query),
        binanceBucket(req.path),
      );
      const headers = weightHeaders(v.usedWeight);
      if (v.ok) return { headers };
      return {
        headers,
        refusal: refusal(v.status, v.reason, { ...headers, 'retry-after': String(v.retryAfterS) }),
      };
    },
    injected(kind, retryAfterS, req) {
      const headers = {
        ...weightHeaders(limiter.usedWeight(req.ip, req.wallMs)),
        'retry-after': String(retryAfterS),
      };
      return kind === 'banned'
        ? refusal(418, BAN_MESSAGE(req.wallMs + retryAfterS * 1000), headers)
        : refusal(
            429,
            'Too many requests; current limit of IP request weight per minute is exceeded (injected). Please use WebSocket Streams for live updates to avoid polling the API.',
            headers,
          );
    },
    state: (wallMs) => ({ ...limiter.options, ips: limiter.snapshot(wallMs) }),
    reset: () => limiter.reset(),
  };
}

export const binanceusdm: Venue<BinanceLimitOptions> = {
  id: 'binanceusdm',
  restHost: 'fapi.binance.com',
  wsHost: 'fstream.binance.com',
  rest,
  createGate: binanceGate,
  banSaysHowLong: true,

  topicsFromPath(path, ctx, query) {
    // /stream?streams=a/b/c: a combined stream, every message wrapped as {"stream","data"}
    if (/\/stream$/.test(path))
      return (query?.get('streams') ?? '')
        .split('/')
        .filter(Boolean)
        .flatMap((raw) => {
          const t = parseStream(raw, ctx);
          return t ? [t] : [];
        });
    // /ws/<stream>: one raw stream named in the URL
    const m = /\/ws\/([^/]+@[^/]+)$/.exec(path);
    if (!m) return [];
    const t = parseStream(m[1] ?? '', ctx);
    return t ? [t] : [];
  },

  combinedStream: (path) => /\/stream$/.test(path),

  control(message, ctx): WsControl {
    const msg = message as { method?: unknown; params?: unknown; id?: unknown };
    const id = msg && typeof msg === 'object' ? (msg.id ?? null) : null;
    const bad = { reply: { error: { code: 2, msg: 'Invalid request' }, id } };
    if (!msg || typeof msg !== 'object' || typeof msg.method !== 'string') return bad;
    if (msg.method === 'LIST_SUBSCRIPTIONS') return { reply: { result: [], id } };
    if (msg.method !== 'SUBSCRIBE' && msg.method !== 'UNSUBSCRIBE') return bad;
    if (!Array.isArray(msg.params)) return bad;
    const topics: Topic[] = [];
    for (const p of msg.params) {
      const t = typeof p === 'string' ? parseStream(p, ctx) : undefined;
      if (!t)
        return { reply: { error: { code: 2, msg: `Invalid request: unknown stream ${String(p)}` }, id } };
      topics.push(t);
    }
    return msg.method === 'SUBSCRIBE'
      ? { subscribe: topics, reply: { result: null, id } }
      : { unsubscribe: topics, reply: { result: null, id } };
  },

  klineMessage(topic, c, closed, nowMs, ctx) {
    const s = ctx.model.spec(topic.symbol);
    const d = s.priceDecimals;
    const q = s.qtyDecimals;
    const interval = Object.keys(INTERVALS_MS).find((k) => INTERVALS_MS[k] === topic.intervalMs) ?? '1m';
    const firstTrade = Math.floor(c.openTimeMs / MINUTE_MS) * 1000;
    return JSON.stringify({
      e: 'kline',
      E: nowMs,
      s: s.id,
      k: {
        t: c.openTimeMs,
        T: c.openTimeMs + topic.intervalMs - 1,
        s: s.id,
        i: interval,
        f: firstTrade,
        L: firstTrade + Math.max(0, c.trades - 1),
        o: c.open.toFixed(d),
        c: c.close.toFixed(d),
        h: c.high.toFixed(d),
        l: c.low.toFixed(d),
        v: c.volume.toFixed(q),
        n: c.trades,
        x: closed,
        q: c.quoteVolume.toFixed(4),
        V: c.takerBuyVolume.toFixed(q),
        Q: c.takerBuyQuoteVolume.toFixed(4),
        B: '0',
      },
    });
  },

  liquidationMessages(_topic, events: LiquidationEvent[], nowMs, ctx) {
    // "Only the latest one liquidation order within 1000ms will be pushed as the snapshot."
    return latestPerSymbolPerSecond(events).map((ev) => {
      const s = ctx.model.spec(ev.symbol);
      const qty = ev.qty.toFixed(s.qtyDecimals);
      return JSON.stringify({
        e: 'forceOrder',
        E: Math.max(nowMs, ev.timeMs),
        o: {
          s: s.id,
          S: ev.side,
          o: 'LIMIT',
          f: 'IOC',
          q: qty,
          p: ev.price.toFixed(s.priceDecimals),
          ap: ev.averagePrice.toFixed(s.priceDecimals),
          X: 'FILLED',
          l: qty,
          z: qty,
          T: ev.timeMs,
        },
      });
    });
  },
};
