import { hashString } from '../market/random.js';
import type { SymbolSpec } from '../market/symbols.js';
import { DAY_MS, HOUR_MS, type LiquidationEvent, MINUTE_MS } from '../market/types.js';
import { latestPerSymbolPerSecond } from './liquidation-snapshot.js';
import {
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
 * OKX v5, instType SWAP (USDT-settled linear perpetuals such as BTC-USDT-SWAP). REST under
 * www.okx.com/api/v5/*, public WS at ws.okx.com/ws/v5/public (liquidation-orders), candle
 * channels only on ws.okx.com/ws/v5/business. Every REST answer is the envelope
 * {"code":"0","msg":"","data":[...]}; numbers and times are strings; lists are newest first
 * and page backward: `after=X` means "earlier than X", `before=Y` "newer than Y", both
 * exclusive, and with both the newest `limit` rows between them. Other instTypes (SPOT,
 * FUTURES, OPTION, MARGIN) answer empty lists so ccxt's loadMarkets works unchanged.
 * Facts and their sources: okx.md beside this file.
 */

// ---- rate limiting ----

/** What a public endpoint's limit is keyed on besides the IP (OKX: "Rate limit rule"). */
type LimitKey = 'ip' | 'instId' | 'instType';

/**
 * Public REST limits, "N requests per 2 seconds", per endpoint, from each endpoint's
 * "Rate Limit" / "Rate limit rule" lines in www.okx.com/docs-v5/en/ (read 2026-07 copies of
 * the Public Data, Market Data and Trading Statistics sections; okx.md lists them).
 */
export const OKX_PUBLIC_LIMITS: Record<string, { perWindow: number; key: LimitKey }> = {
  '/api/v5/public/instruments': { perWindow: 20, key: 'instType' }, // "IP + Instrument Type"
  '/api/v5/market/candles': { perWindow: 40, key: 'ip' },
  '/api/v5/market/history-candles': { perWindow: 20, key: 'ip' },
  '/api/v5/public/open-interest': { perWindow: 20, key: 'instId' }, // "IP + Instrument ID"
  '/api/v5/rubik/stat/contracts/open-interest-history': { perWindow: 10, key: 'instId' },
  '/api/v5/rubik/stat/contracts/open-interest-volume': { perWindow: 5, key: 'ip' },
  '/api/v5/public/funding-rate': { perWindow: 10, key: 'instId' },
  '/api/v5/public/funding-rate-history': { perWindow: 10, key: 'instId' },
  '/api/v5/public/mark-price': { perWindow: 10, key: 'instId' },
  '/api/v5/market/index-tickers': { perWindow: 20, key: 'ip' },
  '/api/v5/public/time': { perWindow: 10, key: 'ip' },
};

export interface OkxLimitOptions {
  /** Every endpoint's limit is multiplied by this (tests that must not be limited raise it). Default 1. */
  factor?: number;
  /** The window the limits count in. Default 2000 ms (every public figure is "per 2 seconds"). */
  windowMs?: number;
}

/**
 * OKX's public REST limits: per IP and endpoint (and per instId or instType where the docs'
 * rule says so), counted over a sliding window of the last 2 s of accepted requests. Past a
 * limit the venue answers HTTP 429 {"msg":"Too Many Requests","code":"50011"} (docs "Error
 * Code → REST API → Public": `50011 | 429 | Too Many Requests`; "Rate Limits": "the system
 * returns error code 50011"). A refused request is not counted, no ban follows, and no
 * rate-limit header is sent (none is documented). Whether OKX's window slides or is fixed is
 * not documented; a sliding one is the stricter reading.
 */
export class OkxLimiter implements VenueGate {
  private readonly windows = new Map<string, number[]>();
  readonly factor: number;
  readonly windowMs: number;

  constructor(options: OkxLimitOptions = {}) {
    this.factor = options.factor ?? 1;
    this.windowMs = options.windowMs ?? 2000;
  }

  private keyOf(req: GateRequest): { key: string; limit: number } | undefined {
    const rule = OKX_PUBLIC_LIMITS[req.path];
    if (!rule) return undefined;
    const extra = rule.key === 'ip' ? '' : `|${req.query.get(rule.key) ?? ''}`;
    return { key: `${req.ip}|${req.path}${extra}`, limit: Math.floor(rule.perWindow * this.factor) };
  }

  admit(req: GateRequest): { headers: Record<string, string>; refusal?: Refusal } {
    const k = this.keyOf(req);
    if (!k) return { headers: {} };
    let times = this.windows.get(k.key);
    if (!times) {
      times = [];
      this.windows.set(k.key, times);
    }
    let drop = 0;
    while (drop < times.length && (times[drop] ?? 0) <= req.wallMs - this.windowMs) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length >= k.limit) return { headers: {}, refusal: tooManyRequests('okx_rate_limited_429') };
    times.push(req.wallMs);
    return { headers: {} };
  }

  /** OKX documents no IP ban for public endpoints: both injected kinds answer its 429. */
  injected(kind: 'rate_limited' | 'banned', _retryAfterS: number, _req: GateRequest): Refusal {
    return tooManyRequests(kind === 'banned' ? 'okx_banned_429' : 'okx_rate_limited_429');
  }

  state(wallMs: number): Record<string, unknown> {
    const used: Record<string, number> = {};
    for (const [key, times] of this.windows) {
      const n = times.filter((t) => t > wallMs - this.windowMs).length;
      if (n > 0) used[key] = n;
    }
    return { factor: this.factor, windowMs: this.windowMs, used };
  }

  reset(): void {
    this.windows.clear();
  }
}

const tooManyRequests = (kind: string): Refusal => ({
  status: 429,
  body: { msg: 'Too Many Requests', code: '50011' },
  headers: {},
  kind,
});

/** The OKX gate with documented defaults (see OkxLimitOptions). */
export function okxGate(options?: OkxLimitOptions): VenueGate {
  return new OkxLimiter(options);
}

// ---- instruments ----

/** BTCUSDT → BTC-USDT-SWAP. */
export function okxInstId(s: SymbolSpec): string {
  return `${s.base}-USDT-SWAP`;
}

function specOf(instId: string | null, ctx: VenueContext): SymbolSpec | undefined {
  const m = /^([A-Z0-9]+)-USDT-SWAP$/.exec(instId ?? '');
  const id = `${m?.[1] ?? ''}USDT`;
  return m && ctx.model.hasSymbol(id) ? ctx.model.spec(id) : undefined;
}

/**
 * Face value of one contract, in base coin. The simulator uses the symbol's quantity step,
 * so every model quantity is a whole number of contracts (the real venue picks round
 * values per coin: ctVal 0.01 for BTC-USDT-SWAP, the docs' example).
 */
export function okxContractValue(s: SymbolSpec): number {
  return 10 ** -s.qtyDecimals;
}

const contracts = (s: SymbolSpec, qty: number): string => String(Math.round(qty * 10 ** s.qtyDecimals));
const tick = (d: number) => (10 ** -d).toFixed(d);

function instrument(s: SymbolSpec, index: number): Record<string, unknown> {
  const family = `${s.base}-USDT`;
  return {
    alias: '',
    auctionEndTime: '',
    baseCcy: '',
    category: '1',
    contTdSwTime: '',
    ctMult: '1',
    ctType: 'linear',
    ctVal: tick(s.qtyDecimals),
    ctValCcy: s.base,
    expTime: '',
    futureSettlement: false,
    groupId: '2',
    instCategory: '1',
    instFamily: family,
    instId: okxInstId(s),
    instIdCode: 10_000 + index,
    instType: 'SWAP',
    lever: '100',
    listTime: String(s.onboardMs),
    lotSz: '1',
    maxIcebergSz: '100000000.0000000000000000',
    maxLmtAmt: '20000000',
    maxLmtSz: '100000000',
    maxMktAmt: '',
    maxMktSz: '12000',
    maxStopSz: '12000',
    maxTriggerSz: '100000000.0000000000000000',
    maxTwapSz: '100000000.0000000000000000',
    minSz: '1',
    openType: '',
    optType: '',
    preMktSwTime: '',
    quoteCcy: '',
    ruleType: 'normal',
    settleCcy: 'USDT',
    state: 'live',
    stk: '',
    tickSz: tick(s.priceDecimals),
    tradeQuoteCcyList: [],
    uly: family,
    upcChg: [],
  };
}

// ---- REST ----

/** Candle and open-interest bar sizes (UTC-aligned ones only; see okx.md). */
const BARS: Record<string, number> = {
  '1m': MINUTE_MS,
  '3m': 3 * MINUTE_MS,
  '5m': 5 * MINUTE_MS,
  '15m': 15 * MINUTE_MS,
  '30m': 30 * MINUTE_MS,
  '1H': HOUR_MS,
  '2H': 2 * HOUR_MS,
  '4H': 4 * HOUR_MS,
  '6Hutc': 6 * HOUR_MS,
  '12Hutc': 12 * HOUR_MS,
  '1Dutc': DAY_MS,
};

/** Rubik open-interest-volume periods and how far back each reaches (its docs). */
const OI_VOLUME_PERIODS: Record<string, { periodMs: number; reachMs: number }> = {
  '5m': { periodMs: 5 * MINUTE_MS, reachMs: 2 * DAY_MS },
  '1H': { periodMs: HOUR_MS, reachMs: 30 * DAY_MS },
  '1D': { periodMs: DAY_MS, reachMs: 180 * DAY_MS },
};

/** "This endpoint can retrieve the latest 1,440 data entries" (candles, open-interest-history). */
const LATEST_ENTRIES = 1440;
/** funding-rate-history: "This endpoint can return data up to three months." */
const FUNDING_HISTORY_REACH_MS = 90 * DAY_MS;

export function okxEnvelope(data: unknown, code = '0', msg = ''): unknown {
  return { code, msg, data };
}

const ok = (data: unknown, endpoint: string): RestAnswer => ({
  status: 200,
  body: okxEnvelope(data),
  endpoint,
});
/** 50014 | 400 | "Parameter {param0} can not be empty." */
const empty = (param: string, endpoint: string): RestAnswer => ({
  status: 400,
  body: okxEnvelope([], '50014', `Parameter ${param} can not be empty.`),
  endpoint,
});
/** 51000 | 400 | "Parameter {param0} error" */
const paramError = (param: string, endpoint: string): RestAnswer => ({
  status: 400,
  body: okxEnvelope([], '51000', `Parameter ${param} error`),
  endpoint,
});
/** 51001 | 200 | "Instrument ID, Instrument ID code or Spread ID doesn't exist." */
const noInstrument = (endpoint: string): RestAnswer => ({
  status: 200,
  body: okxEnvelope([], '51001', "Instrument ID, Instrument ID code or Spread ID doesn't exist."),
  endpoint,
});

/** Integer param: undefined when absent, NaN when not an integer. */
function intOf(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  return /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
}

/**
 * OKX's backward paging over a grid of times: the times t (multiples of stepMs between
 * earliest and latest) with before < t < after, of which the newest `limit`. Returns the
 * [from, to] range, oldest to newest, or undefined when empty.
 */
export function okxWindow(
  before: number | undefined,
  after: number | undefined,
  limit: number,
  stepMs: number,
  earliestMs: number,
  latestMs: number,
): [number, number] | undefined {
  let to = Math.floor(latestMs / stepMs) * stepMs;
  if (after !== undefined) to = Math.min(to, Math.ceil(after / stepMs) * stepMs - stepMs);
  let from = Math.ceil(earliestMs / stepMs) * stepMs;
  if (before !== undefined) from = Math.max(from, Math.floor(before / stepMs) * stepMs + stepMs);
  from = Math.max(from, to - (limit - 1) * stepMs);
  return from <= to ? [from, to] : undefined;
}

/** A page-size param: default when absent; more than the maximum answers the maximum. */
function limitOf(q: URLSearchParams, def: number, max: number): number | undefined {
  const v = intOf(q, 'limit');
  if (v === undefined) return def;
  if (Number.isNaN(v) || v < 1) return undefined;
  return Math.min(v, max);
}

function rest(path: string, q: URLSearchParams, ctx: VenueContext): RestAnswer {
  const { model, nowMs } = ctx;
  switch (path) {
    case '/api/v5/public/time':
      return ok([{ ts: String(nowMs) }], 'time');
    case '/api/v5/public/instruments': {
      const instType = q.get('instType');
      if (!instType) return empty('instType', 'instruments');
      if (instType !== 'SWAP') return ok([], 'instruments');
      const instId = q.get('instId');
      const family = q.get('instFamily') ?? q.get('uly');
      const list = model.symbols
        .map((s, i) => instrument(s, i))
        .filter((x) => (!instId || x.instId === instId) && (!family || x.instFamily === family));
      return ok(list, 'instruments');
    }
    case '/api/v5/market/candles':
    case '/api/v5/market/history-candles': {
      const endpoint = path.endsWith('history-candles') ? 'history-candles' : 'candles';
      const instId = q.get('instId');
      if (!instId) return empty('instId', endpoint);
      const s = specOf(instId, ctx);
      if (!s) return noInstrument(endpoint);
      const iv = BARS[q.get('bar') ?? '1m'];
      if (!iv) return paramError('bar', endpoint);
      // "The maximum is 300. The default is 100." (both endpoints' docs); a larger limit
      // answers 300 (measured against the live venue, kanso's okx_bars notes, 2026-09-30).
      const limit = limitOf(q, 100, 300);
      if (limit === undefined) return paramError('limit', endpoint);
      const after = intOf(q, 'after');
      const before = intOf(q, 'before');
      if (Number.isNaN(after)) return paramError('after', endpoint);
      if (Number.isNaN(before)) return paramError('before', endpoint);
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const openStart = Math.floor(symNow / iv) * iv;
      // market/candles keeps "the latest 1,440 data entries"; history-candles "recent years".
      const earliest = endpoint === 'candles' ? openStart - (LATEST_ENTRIES - 1) * iv : s.onboardMs;
      const range = okxWindow(before, after, limit, iv, earliest, openStart);
      const candles = range ? servedCandles(model, s.id, iv, range[0], range[1], symNow) : [];
      const d = s.priceDecimals;
      const rows = candles
        .map((c) => [
          String(c.openTimeMs),
          c.open.toFixed(d),
          c.high.toFixed(d),
          c.low.toFixed(d),
          c.close.toFixed(d),
          contracts(s, c.volume),
          c.volume.toFixed(s.qtyDecimals),
          c.quoteVolume.toFixed(4),
          c.openTimeMs === openStart ? '0' : '1',
        ])
        .reverse();
      return ok(ctx.faults.candlePage('okx', rows), endpoint);
    }
    case '/api/v5/public/open-interest': {
      const instType = q.get('instType');
      if (!instType) return empty('instType', 'open-interest');
      if (instType !== 'SWAP') return ok([], 'open-interest');
      const instId = q.get('instId');
      const specs = instId ? [specOf(instId, ctx)] : model.symbols;
      const data: unknown[] = [];
      for (const s of specs) {
        if (!s) return noInstrument('open-interest');
        const symNow = ctx.faults.symbolNow(s.id, nowMs);
        const oi = model.openInterest(s.id, symNow);
        data.push({
          instId: okxInstId(s),
          instType: 'SWAP',
          oi: contracts(s, oi.openInterest),
          oiCcy: oi.openInterest.toFixed(s.qtyDecimals),
          oiUsd: oi.openInterestValue.toFixed(2),
          ts: String(symNow),
        });
      }
      return ok(data, 'open-interest');
    }
    case '/api/v5/rubik/stat/contracts/open-interest-history': {
      const endpoint = 'open-interest-history';
      const instId = q.get('instId');
      if (!instId) return empty('instId', endpoint);
      const s = specOf(instId, ctx);
      if (!s) return noInstrument(endpoint);
      const periodMs = BARS[q.get('period') ?? '5m'];
      if (!periodMs || periodMs < 5 * MINUTE_MS) return paramError('period', endpoint);
      const limit = limitOf(q, 100, 100);
      if (limit === undefined) return paramError('limit', endpoint);
      const begin = intOf(q, 'begin');
      const end = intOf(q, 'end');
      if (Number.isNaN(begin)) return paramError('begin', endpoint);
      if (Number.isNaN(end)) return paramError('end', endpoint);
      const latest = Math.floor(ctx.faults.symbolNow(s.id, nowMs) / periodMs) * periodMs;
      const earliest = Math.max(latest - (LATEST_ENTRIES - 1) * periodMs, s.onboardMs);
      const range = okxWindow(begin, end, limit, periodMs, earliest, latest);
      const points = range ? model.openInterestHistory(s.id, periodMs, range[0], range[1]) : [];
      const rows = points
        .map((p) => [
          String(p.timeMs),
          contracts(s, p.openInterest),
          p.openInterest.toFixed(s.qtyDecimals),
          p.openInterestValue.toFixed(2),
        ])
        .reverse();
      return ok(rows, endpoint);
    }
    case '/api/v5/rubik/stat/contracts/open-interest-volume': {
      // What ccxt's fetchOpenInterestHistory calls: one currency over all its contracts (the
      // simulator lists one per coin, the USDT swap), [ts, oi in USD, volume in USD].
      const endpoint = 'open-interest-volume';
      const ccy = q.get('ccy');
      if (!ccy) return empty('ccy', endpoint);
      const period = OI_VOLUME_PERIODS[q.get('period') ?? '5m'];
      if (!period) return paramError('period', endpoint);
      const begin = intOf(q, 'begin');
      const end = intOf(q, 'end');
      if (Number.isNaN(begin)) return paramError('begin', endpoint);
      if (Number.isNaN(end)) return paramError('end', endpoint);
      if (!model.hasSymbol(`${ccy}USDT`)) return ok([], endpoint);
      const s = model.spec(`${ccy}USDT`);
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const p = period.periodMs;
      const latest = Math.floor(symNow / p) * p;
      const from = Math.max(
        Math.ceil((symNow - period.reachMs) / p) * p,
        begin === undefined ? 0 : Math.ceil(begin / p) * p,
      );
      const to = Math.min(latest, end === undefined ? latest : Math.floor(end / p) * p);
      const rows: string[][] = [];
      for (let t = to; t >= from; t -= p) {
        const oi = model.openInterest(s.id, t);
        const vol = servedCandles(model, s.id, p, t, t, symNow)[0]?.quoteVolume ?? 0;
        rows.push([String(t), oi.openInterestValue.toFixed(2), vol.toFixed(4)]);
      }
      return ok(rows, endpoint);
    }
    case '/api/v5/public/funding-rate': {
      const instId = q.get('instId');
      if (!instId) return empty('instId', 'funding-rate');
      const specs = instId === 'ANY' ? model.symbols : [specOf(instId, ctx)];
      const data: unknown[] = [];
      for (const s of specs) {
        if (!s) return noInstrument('funding-rate');
        data.push(currentFunding(s, ctx));
      }
      return ok(data, 'funding-rate');
    }
    case '/api/v5/public/funding-rate-history': {
      const endpoint = 'funding-rate-history';
      const instId = q.get('instId');
      if (!instId) return empty('instId', endpoint);
      const s = specOf(instId, ctx);
      if (!s) return noInstrument(endpoint);
      // "The maximum is 400; The default is 400" (its docs, 2026).
      const limit = limitOf(q, 400, 400);
      if (limit === undefined) return paramError('limit', endpoint);
      const after = intOf(q, 'after');
      const before = intOf(q, 'before');
      if (Number.isNaN(after)) return paramError('after', endpoint);
      if (Number.isNaN(before)) return paramError('before', endpoint);
      const interval = s.fundingIntervalMs;
      const symNow = ctx.faults.symbolNow(s.id, nowMs);
      const latest = Math.floor(symNow / interval) * interval;
      const earliest = Math.max(symNow - FUNDING_HISTORY_REACH_MS, s.onboardMs);
      const range = okxWindow(before, after, limit, interval, earliest, latest);
      const rows = range ? model.fundingHistory(s.id, range[0], range[1]) : [];
      const data = rows
        .map((f) => ({
          formulaType: 'noRate',
          fundingRate: predictedRate(s, f.fundingTimeMs, f.rate).toFixed(16),
          fundingTime: String(f.fundingTimeMs),
          instId: okxInstId(s),
          instType: 'SWAP',
          method: 'current_period',
          realizedRate: f.rate.toFixed(16),
        }))
        .reverse();
      return ok(data, endpoint);
    }
    case '/api/v5/public/mark-price': {
      // The docs mark instType required, yet ccxt's fetchMarkPrice sends instId alone and its
      // source quotes a live answer to that (okx.js fetchMarkPrice comment): instId suffices.
      const instType = q.get('instType');
      const instId = q.get('instId');
      if (!instType && !instId) return empty('instType', 'mark-price');
      if (instType && instType !== 'SWAP') return ok([], 'mark-price');
      const specs = instId ? [specOf(instId, ctx)] : model.symbols;
      const data: unknown[] = [];
      for (const s of specs) {
        if (!s) return noInstrument('mark-price');
        const now = ctx.faults.symbolNow(s.id, nowMs);
        const p = model.premiumIndex(s.id, now);
        data.push({
          instId: okxInstId(s),
          instType: 'SWAP',
          markPx: p.markPrice.toFixed(8),
          ts: String(now),
        });
      }
      return ok(data, 'mark-price');
    }
    case '/api/v5/market/index-tickers': {
      const instId = q.get('instId');
      const quoteCcy = q.get('quoteCcy');
      if (!instId && !quoteCcy) return empty('instId', 'index-tickers');
      const specs = instId
        ? model.symbols.filter((s) => `${s.base}-USDT` === instId)
        : quoteCcy === 'USDT'
          ? model.symbols
          : [];
      return ok(
        specs.map((s) => indexTicker(s, ctx)),
        'index-tickers',
      );
    }
    default:
      return { status: 404, body: { msg: 'Not Found', code: '404' }, endpoint: 'unknown' };
  }
}

/**
 * funding-rate-history carries the rate predicted for a settlement (`fundingRate`) beside
 * the rate actually settled (`realizedRate`), a hair apart on the real venue (the docs'
 * example: 0.0000746604960499 vs 0.0000746572360545). The model has one rate, the settled
 * one; the prediction differs from it by a deterministic 1e-8-ish amount so that a reader
 * of the wrong field is caught.
 */
function predictedRate(s: SymbolSpec, fundingTimeMs: number, settled: number): number {
  const jitter = ((hashString(`${s.id}|${fundingTimeMs}|predicted`) % 2001) - 1000) * 1e-11;
  return settled + (jitter === 0 ? 1e-11 : jitter);
}

function currentFunding(s: SymbolSpec, ctx: VenueContext): Record<string, unknown> {
  const now = ctx.faults.symbolNow(s.id, ctx.nowMs);
  const p = ctx.model.premiumIndex(s.id, now);
  const interval = s.fundingIntervalMs;
  const previous = ctx.model.fundingSettlement(s.id, p.nextFundingTimeMs - interval);
  return {
    formulaType: 'noRate',
    fundingRate: p.lastFundingRate.toFixed(16),
    fundingTime: String(p.nextFundingTimeMs),
    impactValue: '',
    instId: okxInstId(s),
    instType: 'SWAP',
    interestRate: '',
    maxFundingRate: '0.0075',
    method: 'current_period',
    minFundingRate: '-0.0075',
    nextFundingRate: '',
    nextFundingTime: String(p.nextFundingTimeMs + interval),
    premium: ((p.markPrice - p.indexPrice) / p.indexPrice).toFixed(16),
    settFundingRate: previous.rate.toFixed(16),
    settState: 'settled',
    ts: String(now),
  };
}

function indexTicker(s: SymbolSpec, ctx: VenueContext): Record<string, unknown> {
  const { model } = ctx;
  const now = ctx.faults.symbolNow(s.id, ctx.nowMs);
  const p = model.premiumIndex(s.id, now);
  const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const open24h = model.candle1m(s.id, minute - 1440 * MINUTE_MS).open;
  const day = Math.floor(now / DAY_MS) * DAY_MS;
  const sod8 = now - day >= 16 * HOUR_MS ? day + 16 * HOUR_MS : day - 8 * HOUR_MS;
  const d = s.priceDecimals;
  return {
    instId: `${s.base}-USDT`,
    idxPx: p.indexPrice.toFixed(d),
    high24h: Math.max(p.indexPrice, open24h).toFixed(d),
    sodUtc0: model.candle1m(s.id, day).open.toFixed(d),
    open24h: open24h.toFixed(d),
    low24h: Math.min(p.indexPrice, open24h).toFixed(d),
    sodUtc8: model.candle1m(s.id, sod8).open.toFixed(d),
    ts: String(now),
  };
}

// ---- websockets ----

/** Channels served on each WS path (OKX: candles only on /business, liquidations on /public). */
const PUBLIC_PATH = /\/ws\/v5\/public$/;
const BUSINESS_PATH = /\/ws\/v5\/business$/;

type Arg = { channel?: unknown; instId?: unknown; instType?: unknown };

function parseArg(arg: Arg, ctx: VenueContext, path: string): Topic | undefined {
  const channel = typeof arg.channel === 'string' ? arg.channel : '';
  if (channel === 'liquidation-orders') {
    if (!PUBLIC_PATH.test(path) || arg.instType !== 'SWAP') return undefined;
    return { kind: 'liquidation', raw: 'liquidation-orders:SWAP', symbol: '*' };
  }
  if (channel.startsWith('candle')) {
    const intervalMs = BARS[channel.slice('candle'.length)];
    const s = specOf(typeof arg.instId === 'string' ? arg.instId : null, ctx);
    if (!intervalMs || !s || !BUSINESS_PATH.test(path)) return undefined;
    return { kind: 'kline', raw: `${channel}:${okxInstId(s)}`, symbol: s.id, intervalMs };
  }
  return undefined;
}

const argOf = (topic: Topic): Record<string, string> => {
  const [channel = '', id = ''] = topic.raw.split(':');
  return channel === 'liquidation-orders' ? { channel, instType: id } : { channel, instId: id };
};

export const okx: Venue<OkxLimitOptions> = {
  id: 'okx',
  restHost: 'www.okx.com',
  wsHost: 'ws.okx.com',
  rest,
  createGate: okxGate,
  topicsFromPath: () => [],

  control(message, ctx, connId, path = ''): WsControl {
    // OKX's keep-alive is the text frame "ping", answered "pong" (ccxt pro okx.ping).
    if (message === 'ping') return { reply: 'pong' };
    const msg = message as { op?: unknown; args?: unknown; id?: unknown } | null;
    const id = msg && typeof msg === 'object' && typeof msg.id === 'string' ? { id: msg.id } : {};
    const op = msg && typeof msg === 'object' ? msg.op : undefined;
    if ((op !== 'subscribe' && op !== 'unsubscribe') || !Array.isArray(msg?.args) || msg.args.length === 0)
      return {
        reply: {
          ...id,
          event: 'error',
          code: '60012',
          msg: `Illegal request: ${typeof message === 'string' ? message : JSON.stringify(message)}`,
          connId,
        },
      };
    const topics: Topic[] = [];
    for (const a of msg.args as Arg[]) {
      const t = a && typeof a === 'object' ? parseArg(a, ctx, path) : undefined;
      if (!t)
        return {
          reply: {
            ...id,
            event: 'error',
            code: '60018',
            msg: `Wrong URL or channel:${String(a?.channel)},instId:${String(a?.instId ?? a?.instType)} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`,
            connId,
          },
        };
      topics.push(t);
    }
    const replies = topics.map((t) => ({ ...id, event: op, arg: argOf(t), connId }));
    return op === 'subscribe' ? { subscribe: topics, replies } : { unsubscribe: topics, replies };
  },

  klineMessage(topic, c, closed, _nowMs, ctx) {
    const s = ctx.model.spec(topic.symbol);
    const d = s.priceDecimals;
    return JSON.stringify({
      arg: argOf(topic),
      data: [
        [
          String(c.openTimeMs),
          c.open.toFixed(d),
          c.high.toFixed(d),
          c.low.toFixed(d),
          c.close.toFixed(d),
          contracts(s, c.volume),
          c.volume.toFixed(s.qtyDecimals),
          c.quoteVolume.toFixed(4),
          closed ? '1' : '0',
        ],
      ],
    });
  },

  /**
   * liquidation-orders, instType SWAP: every instrument's liquidations on one channel. The
   * docs warn it "doesn't represent the total number of liquidations on OKX"; the simulator
   * sends, per instrument, the latest liquidation of each second (a third-party reading, not
   * documented; okx.md). `side` is the liquidation ORDER's side (a long liquidated sells),
   * `posSide` the position's ("long"/"short" in hedge mode, "net" otherwise), `bkPx` the
   * bankruptcy price, `sz` in contracts.
   */
  liquidationMessages(topic, events: LiquidationEvent[], _nowMs, ctx) {
    const kept = latestPerSymbolPerSecond(events);
    if (kept.length === 0) return [];
    const data = kept.map((ev) => {
      const s = ctx.model.spec(ev.symbol);
      const net = hashString(`${ev.symbol}|${ev.timeMs}|posSide`) % 4 === 0;
      return {
        details: [
          {
            bkLoss: '0',
            bkPx: ev.price.toFixed(s.priceDecimals),
            ccy: '',
            posSide: net ? 'net' : ev.side === 'SELL' ? 'long' : 'short',
            side: ev.side === 'SELL' ? 'sell' : 'buy',
            sz: contracts(s, ev.qty),
            ts: String(ev.timeMs),
          },
        ],
        instFamily: `${s.base}-USDT`,
        instId: okxInstId(s),
        instType: 'SWAP',
        uly: `${s.base}-USDT`,
      };
    });
    return [JSON.stringify({ arg: argOf(topic), data })];
  },
};
