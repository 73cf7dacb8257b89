import type { MarketModel } from '../market/model.js';
import type { SymbolSpec } from '../market/symbols.js';
import { type Candle, HOUR_MS, MINUTE_MS } from '../market/types.js';
import {
  type GateRequest,
  INTERVALS_MS,
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
 * Hyperliquid perpetuals (the first perp dex only): every REST read is
 * `POST https://api.hyperliquid.xyz/info` with a JSON body `{"type": …}`, the public
 * websocket is `wss://api.hyperliquid.xyz/ws` (`{"method":"subscribe","subscription":…}`).
 * The model's `BTCUSDT` is the coin `BTC` (ccxt: `BTC/USDC:USDC`, perps settle in USDC);
 * spot answers empty. Facts and their sources: hyperliquid.md beside this file.
 *
 * What Hyperliquid has NOT, so the simulator has not either: an open-interest history
 * endpoint (ccxt 4.5.84 `has.fetchOpenInterestHistory: false`) and a public liquidation
 * stream (ccxt: `has.fetchLiquidations: false`, no `watchLiquidations`).
 */

/** A response holds at most this many candles, and only the most recent 5000 exist (docs, info endpoint, "Candle snapshot"; ccxt `features.fetchOHLCV.limit: 5000`). */
export const HYPERLIQUID_MAX_CANDLES = 5000;
/** "Responses that take a time range will only return 500 elements" (docs, info endpoint, "Pagination"). */
export const HYPERLIQUID_MAX_FUNDING_ROWS = 500;
/** Funding is paid every hour on every perp (ccxt 4.5.84 parseFundingRate: interval '1h'). */
export const HYPERLIQUID_FUNDING_INTERVAL_MS = HOUR_MS;
/** The interest part of funding, 0.01 % per 8 h (not verified here): only the simulator's `premium` uses it. */
const INTEREST_PER_8H = 0.0001;

/** Candle intervals the simulator serves (Hyperliquid also has 3d, 1w, 1M, calendar-aligned: not modelled). */
const INTERVALS: Record<string, number> = Object.fromEntries(
  ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '8h', '12h', '1d'].map((k) => [
    k,
    INTERVALS_MS[k] as number,
  ]),
);

/** The coin of a model symbol: `BTCUSDT` → `BTC`. */
export function coinOf(symbol: string): string {
  return symbol.endsWith('USDT') ? symbol.slice(0, -4) : symbol;
}

function specOfCoin(model: MarketModel, coin: unknown): SymbolSpec | undefined {
  if (typeof coin !== 'string') return undefined;
  const id = `${coin}USDT`;
  return model.hasSymbol(id) ? model.spec(id) : undefined;
}

/** A decimal as Hyperliquid writes it: no trailing zeros, but at least one decimal ("69483.0", "0.020729"). */
function decimalString(x: number, decimals: number): string {
  const fixed = x.toFixed(Math.max(0, decimals));
  if (!fixed.includes('.')) return `${fixed}.0`;
  const trimmed = fixed.replace(/0+$/, '');
  return trimmed.endsWith('.') ? `${trimmed}0` : trimmed;
}

/**
 * A perp price as Hyperliquid has it: at most 5 significant figures (an integer price is
 * always allowed) and at most 6 − szDecimals decimals (ccxt 4.5.84 calculatePricePrecision). The
 * simulator rounds the model's price so; tests compare ccxt's numbers with this of the model.
 */
export function hyperliquidPx(price: number, szDecimals: number): string {
  if (price === 0) return '0.0';
  const intDigits = Math.floor(Math.log10(Math.abs(price))) + 1;
  const decimals = Math.max(0, Math.min(6 - szDecimals, 5 - intDigits));
  return decimalString(price, decimals);
}

/** A size in coins, with the coin's szDecimals. */
export function hyperliquidSz(size: number, szDecimals: number): string {
  return decimalString(size, szDecimals);
}

/** One hourly funding record of Hyperliquid, derived from the model. */
export interface HourlyFunding {
  /** The hour the payment closes (a multiple of 1 h). */
  hourMs: number;
  /** The venue's `time`: a few milliseconds after the hour, as recorded answers show. */
  timeMs: number;
  /** The hourly rate (8 decimals, as Hyperliquid writes it). */
  rate: number;
  /** The simulator's premium: the 8-h-equivalent rate less the 0.01 % interest (not the venue's impact-price average). */
  premium: number;
}

/**
 * Funding paid at the end of hour `hourMs`: the model's settlement that hour belongs to,
 * spread evenly over the hours of the symbol's interval (an 8 h symbol pays 1/8 each
 * hour, a 1 h symbol its rate), rounded to 8 decimals. `time` lands 1–99 ms after the
 * hour (ccxt's recorded fundingHistory row: 1704290400031, 31 ms after 14:00 UTC).
 */
export function hourlyFunding(model: MarketModel, symbol: string, hourMs: number): HourlyFunding {
  const s = model.spec(symbol);
  const interval = s.fundingIntervalMs;
  const settle = Math.ceil(hourMs / interval) * interval;
  const rate = Number(((model.fundingSettlement(symbol, settle).rate * HOUR_MS) / interval).toFixed(8));
  const premium = Number((rate * 8 - INTEREST_PER_8H).toFixed(8));
  const offset = 1 + ((((s.key ^ Math.imul(hourMs / HOUR_MS, 0x9e3779b1)) >>> 0) % 99) >>> 0);
  return { hourMs, timeMs: hourMs + offset, rate, premium };
}

/** A body Hyperliquid cannot read: 422 text/plain (the venue's axum-style deserialization error). */
const unreadable = (endpoint: string): RestAnswer => ({
  status: 422,
  body: 'Failed to deserialize the JSON body into the target type',
  endpoint,
});
const ok = (body: unknown, endpoint: string): RestAnswer => ({ status: 200, body, endpoint });
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

function universe(model: MarketModel): Record<string, unknown>[] {
  return model.symbols.map((s) => ({
    szDecimals: s.qtyDecimals,
    name: coinOf(s.id),
    maxLeverage: 50,
    marginTableId: 50,
  }));
}

function assetCtx(s: SymbolSpec, ctx: VenueContext): Record<string, unknown> {
  const { model } = ctx;
  const now = ctx.faults.symbolNow(s.id, ctx.nowMs);
  const sz = s.qtyDecimals;
  const p = model.premiumIndex(s.id, now);
  const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const mid = model.partialCandle(s.id, MINUTE_MS, minute, now).close;
  const prevDay = model.candle1m(s.id, minute - 1440 * MINUTE_MS).close;
  const nextHour = Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS;
  const markPx = hyperliquidPx(p.markPrice, sz);
  const oraclePx = hyperliquidPx(p.indexPrice, sz);
  return {
    funding: decimalString(hourlyFunding(model, s.id, nextHour).rate, 8),
    openInterest: hyperliquidSz(model.openInterest(s.id, now).openInterest, sz),
    prevDayPx: hyperliquidPx(prevDay, sz),
    dayNtlVlm: decimalString(s.volumePerMinute * 1440 * mid, 6),
    premium: decimalString(Number(markPx) / Number(oraclePx) - 1, 8),
    oraclePx,
    markPx,
    midPx: hyperliquidPx(mid, sz),
    impactPxs: [hyperliquidPx(mid * 0.9999, sz), hyperliquidPx(mid * 1.0001, sz)],
    dayBaseVlm: hyperliquidSz(s.volumePerMinute * 1440, sz),
  };
}

function candleRow(s: SymbolSpec, c: Candle, interval: string): Record<string, unknown> {
  const sz = s.qtyDecimals;
  return {
    t: c.openTimeMs,
    T: c.openTimeMs + c.intervalMs - 1,
    s: coinOf(s.id),
    i: interval,
    o: hyperliquidPx(c.open, sz),
    c: hyperliquidPx(c.close, sz),
    h: hyperliquidPx(c.high, sz),
    l: hyperliquidPx(c.low, sz),
    v: hyperliquidSz(c.volume, sz),
    n: c.trades,
  };
}

const USDC_TOKEN = {
  name: 'USDC',
  szDecimals: 8,
  weiDecimals: 8,
  index: 0,
  tokenId: '0x6d1e7cde53ba9467b783cb7c530ce054',
  isCanonical: true,
  evmContract: null,
  fullName: null,
};

function info(path: string, body: unknown, ctx: VenueContext): RestAnswer {
  if (path !== '/info') return { status: 404, body: 'Not Found', endpoint: 'unknown' };
  const b = body as Record<string, unknown> | null;
  const type = b && typeof b === 'object' && typeof b.type === 'string' ? b.type : undefined;
  const { model, nowMs } = ctx;
  switch (type) {
    case 'meta':
      return ok({ universe: universe(model), marginTables: [] }, 'meta');
    case 'metaAndAssetCtxs':
      // Only the first perp dex ("" or absent); a builder dex the simulator does not list.
      if (b?.dex !== undefined && b.dex !== '' && b.dex !== null) return unreadable('metaAndAssetCtxs');
      return ok(
        [{ universe: universe(model), marginTables: [] }, model.symbols.map((s) => assetCtx(s, ctx))],
        'metaAndAssetCtxs',
      );
    case 'perpDexs':
      // Index 0 is the first perp dex (null); no builder-deployed dexes.
      return ok([null], 'perpDexs');
    case 'spotMeta':
      return ok({ tokens: [USDC_TOKEN], universe: [] }, 'spotMeta');
    case 'spotMetaAndAssetCtxs':
      return ok([{ tokens: [USDC_TOKEN], universe: [] }, []], 'spotMetaAndAssetCtxs');
    case 'exchangeStatus':
      return ok({ specialStatuses: null, time: String(nowMs) }, 'exchangeStatus');
    case 'candleSnapshot': {
      const req = (b?.req ?? {}) as Record<string, unknown>;
      const s = specOfCoin(model, req.coin);
      const intervalMs = INTERVALS[String(req.interval)];
      const end = req.endTime === undefined || req.endTime === null ? nowMs : req.endTime;
      if (!isInt(req.startTime) || !isInt(end) || !intervalMs || typeof req.coin !== 'string')
        return unreadable('candleSnapshot');
      // An unknown coin answers an empty list (no error), like a coin with no candles.
      if (!s) return ok([], 'candleSnapshot');
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const range = candleRange(req.startTime, end, intervalMs, symNow);
      const candles = range ? servedCandles(model, s.id, intervalMs, range[0], range[1], symNow) : [];
      const rows = candles.map((c) => candleRow(s, c, String(req.interval)));
      return ok(ctx.faults.candlePage('hyperliquid', rows), 'candleSnapshot');
    }
    case 'fundingHistory': {
      const s = specOfCoin(model, b?.coin);
      const end = b?.endTime === undefined || b?.endTime === null ? nowMs : b.endTime;
      if (!isInt(b?.startTime) || !isInt(end) || typeof b?.coin !== 'string')
        return unreadable('fundingHistory');
      if (!s) return ok([], 'fundingHistory');
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const rows = fundingRows(model, s, b.startTime as number, Math.min(end, symNow)).map((f) => ({
        coin: coinOf(s.id),
        fundingRate: decimalString(f.rate, 8),
        premium: decimalString(f.premium, 8),
        time: f.timeMs,
      }));
      return ok(rows, 'fundingHistory');
    }
    default:
      return unreadable('unknown');
  }
}

/**
 * Candle open times served for [startTime, endTime]: open time inside both bounds
 * (ccxt's recorded answers: since mid-minute starts at the next minute; the open candle
 * up to endTime is included, partial), and only the most recent 5000 candles exist, the
 * open one counted. So a window never yields more than 5000 and a deep startTime yields
 * the oldest available; page forward from the last open time.
 */
export function candleRange(
  startMs: number,
  endMs: number,
  intervalMs: number,
  nowMs: number,
): [number, number] | undefined {
  const openStart = Math.floor(nowMs / intervalMs) * intervalMs;
  const oldest = openStart - (HYPERLIQUID_MAX_CANDLES - 1) * intervalMs;
  const from = Math.max(Math.ceil(startMs / intervalMs) * intervalMs, oldest);
  const to = Math.min(Math.floor(endMs / intervalMs) * intervalMs, openStart);
  return to < from ? undefined : [from, to];
}

/** Hourly funding records with `time` in [startMs, endMs], oldest first, at most 500 (paged from startTime). */
export function fundingRows(
  model: MarketModel,
  s: SymbolSpec,
  startMs: number,
  endMs: number,
): HourlyFunding[] {
  const out: HourlyFunding[] = [];
  let h = Math.max(Math.floor(startMs / HOUR_MS) * HOUR_MS, Math.ceil(s.onboardMs / HOUR_MS) * HOUR_MS);
  for (; out.length < HYPERLIQUID_MAX_FUNDING_ROWS; h += HOUR_MS) {
    const f = hourlyFunding(model, s.id, h);
    if (f.timeMs > endMs) break;
    if (f.timeMs >= startMs) out.push(f);
  }
  return out;
}

// ---- rate limits ----

export interface HyperliquidLimitOptions {
  /**
   * Aggregated weight per IP per minute (a sliding 60 s window here). Default 1200:
   * "REST requests share an aggregated weight limit of 1200 per minute"
   * (hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits).
   */
  weightPerMinute?: number;
}

/** Info types of weight 2, and of weight 60; every other documented info request weighs 20 (docs, "Rate limits and user limits"). */
const WEIGHT_2 = new Set([
  'l2Book',
  'allMids',
  'clearinghouseState',
  'orderStatus',
  'spotClearinghouseState',
  'exchangeStatus',
]);
const WEIGHT_60 = new Set(['userRole']);
/**
 * The weight of one info request. candleSnapshot adds weight per 60 items answered,
 * fundingHistory (with recentTrades, userFills, … not served here) per 20 items (docs,
 * same page). The per-items part is counted from the request (the
 * slots its window can answer, at most a page), since the gate decides before the answer:
 * a window over missing candles is counted as if full. "Per 60 items" is read as
 * floor(items / 60) (the docs do not say whether a part counts).
 */
export function infoWeight(body: unknown, nowMs: number): number {
  const b = body as Record<string, unknown> | null;
  const type = b && typeof b === 'object' ? String(b.type) : '';
  const base = WEIGHT_2.has(type) ? 2 : WEIGHT_60.has(type) ? 60 : 20;
  if (type === 'candleSnapshot') {
    const req = (b?.req ?? {}) as Record<string, unknown>;
    const iv = INTERVALS[String(req.interval)];
    const end = isInt(req.endTime) ? Math.min(req.endTime, nowMs) : nowMs;
    const range = iv && isInt(req.startTime) ? candleRange(req.startTime, end, iv, nowMs) : undefined;
    const items = range && iv ? (range[1] - range[0]) / iv + 1 : 0;
    return base + Math.floor(items / 60);
  }
  if (type === 'fundingHistory') {
    const end = isInt(b?.endTime) ? Math.min(b.endTime, nowMs) : nowMs;
    const start = isInt(b?.startTime) ? b.startTime : end;
    const items = Math.min(
      HYPERLIQUID_MAX_FUNDING_ROWS,
      Math.max(0, Math.floor((end - start) / HOUR_MS) + 1),
    );
    return base + Math.floor(items / 20);
  }
  // Other per-20-items types (recentTrades, userFills, …) are not served here: base weight.
  return base;
}

/** Per IP: the weights admitted in the last 60 s of wall time. */
export class HyperliquidLimiter {
  readonly weightPerMinute: number;
  private readonly ips = new Map<string, { atMs: number; weight: number }[]>();

  constructor(options: HyperliquidLimitOptions = {}) {
    this.weightPerMinute = options.weightPerMinute ?? 1200;
  }

  used(ip: string, wallMs: number): number {
    const list = this.ips.get(ip) ?? [];
    let drop = 0;
    while (drop < list.length && (list[drop]?.atMs ?? 0) <= wallMs - 60_000) drop++;
    if (drop) list.splice(0, drop);
    return list.reduce((sum, x) => sum + x.weight, 0);
  }

  /** Admits and counts the weight, or refuses (a refused request is not counted). */
  check(ip: string, wallMs: number, weight: number): boolean {
    if (this.used(ip, wallMs) + weight > this.weightPerMinute) return false;
    const list = this.ips.get(ip) ?? [];
    list.push({ atMs: wallMs, weight });
    this.ips.set(ip, list);
    return true;
  }

  reset(): void {
    this.ips.clear();
  }
}

/**
 * Hyperliquid over its IP limit: HTTP 429. No rate-limit headers are documented, nor a
 * Retry-After, nor a ban; the 429 comes from the venue's proxy in front of the API, so
 * the body here is plain text (not JSON: a JSON body with an `error` field would make
 * ccxt's handleErrors raise ExchangeError before it looks at the status). The exact
 * body is not verified.
 */
export const HYPERLIQUID_429: Refusal = {
  status: 429,
  body: 'Too Many Requests',
  headers: {},
  kind: 'hyperliquid_429',
};

export function hyperliquidGate(options?: HyperliquidLimitOptions): VenueGate {
  const limiter = new HyperliquidLimiter(options);
  return {
    admit(req: GateRequest) {
      const weight = req.body === undefined ? 0 : infoWeight(req.body, req.nowMs);
      return limiter.check(req.ip, req.wallMs, weight)
        ? { headers: {} }
        : { headers: {}, refusal: HYPERLIQUID_429 };
    },
    // No ban is documented: an injected ban answers the same 429 as a storm.
    injected: () => HYPERLIQUID_429,
    state: () => ({ weightPerMinute: limiter.weightPerMinute }),
    reset: () => limiter.reset(),
  };
}

// ---- websocket ----

function candleTopic(sub: unknown, ctx: VenueContext): (Topic & { kind: 'kline' }) | undefined {
  const s = sub as Record<string, unknown> | null;
  if (!s) return undefined;
  if (s.type !== 'candle') return undefined;
  const spec = specOfCoin(ctx.model, s.coin);
  const intervalMs = INTERVALS[String(s.interval)];
  if (!spec || !intervalMs) return undefined;
  return {
    kind: 'kline',
    raw: `candle:${coinOf(spec.id)}:${String(s.interval)}`,
    symbol: spec.id,
    intervalMs,
  };
}

export const hyperliquid: Venue<HyperliquidLimitOptions> = {
  id: 'hyperliquid',
  restHost: 'api.hyperliquid.xyz',
  wsHost: 'api.hyperliquid.xyz',
  // Every read is a POST to /info; a GET is not served.
  rest: () => ({ status: 405, body: 'Method Not Allowed', endpoint: 'unknown' }),
  post: info,
  createGate: hyperliquidGate,
  topicsFromPath: () => [],

  control(message, ctx): WsControl {
    const m = message as Record<string, unknown> | null;
    if (!m || typeof m !== 'object')
      return {
        reply: {
          channel: 'error',
          data: `Error parsing JSON into valid websocket request: ${String(message)}`,
        },
      };
    if (m.method === 'ping') return { reply: { channel: 'pong' } };
    if (m.method === 'subscribe' || m.method === 'unsubscribe') {
      const topic = candleTopic(m.subscription, ctx);
      if (!topic)
        return {
          reply: {
            channel: 'error',
            data: `Invalid subscription ${JSON.stringify(m.subscription ?? null)} (the simulator serves candle only)`,
          },
        };
      // The venue acks by echoing the subscription (ccxt's handleSubscriptionResponse).
      const reply = {
        channel: 'subscriptionResponse',
        data: { method: m.method, subscription: m.subscription },
      };
      return m.method === 'subscribe' ? { subscribe: [topic], reply } : { unsubscribe: [topic], reply };
    }
    return {
      reply: {
        channel: 'error',
        data: `Error parsing JSON into valid websocket request: ${JSON.stringify(m)}`,
      },
    };
  },

  /**
   * `{"channel":"candle","data":{t,T,s,i,o,c,h,l,v,n}}` (ccxt pro handleOHLCV's recorded
   * message). There is no "closed" field: the simulator pushes the open candle each tick
   * and, once its interval is over, its final values once more (after T); a client tells
   * a final candle by its close time T being past, or by a later candle arriving.
   */
  klineMessage(topic, c, _closed, _nowMs, ctx) {
    const s = ctx.model.spec(topic.symbol);
    const interval = topic.raw.split(':')[2] ?? '1m';
    return JSON.stringify({ channel: 'candle', data: candleRow(s, c, interval) });
  },

  // Hyperliquid has no public liquidation stream: no topic ever asks for one.
  liquidationMessages: () => [],
};
