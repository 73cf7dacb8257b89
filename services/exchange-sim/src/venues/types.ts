import type { FaultInjector } from '../faults/faults.js';
import type { MarketModel } from '../market/model.js';
import type { Candle, LiquidationEvent } from '../market/types.js';

/** Every venue the simulator speaks, in the order it lists them. */
export const VENUE_IDS = ['binanceusdm', 'bybit', 'okx', 'hyperliquid'] as const;
export type VenueId = (typeof VENUE_IDS)[number];

/** What a venue's REST handler gets besides the request. */
export interface VenueContext {
  model: MarketModel;
  faults: FaultInjector;
  /** Simulated now. */
  nowMs: number;
  /** How far back open-interest history is kept. */
  openInterestRetentionMs: number;
}

export interface RestAnswer {
  status: number;
  body: unknown;
  /** Bounded label for metrics (the route, or 'unknown'). */
  endpoint: string;
}

/** A websocket subscription, venue-neutral. */
export type Topic =
  | { kind: 'kline'; raw: string; symbol: string; intervalMs: number }
  | { kind: 'liquidation'; raw: string; symbol: string | '*' };

export interface WsControl {
  subscribe?: Topic[];
  unsubscribe?: Topic[];
  /** Sent back at once (ack, pong, error); a string goes out as a text frame. */
  reply?: unknown;
  /** Several messages sent back at once, in order (OKX acks each subscribed channel). */
  replies?: unknown[];
}

/** One request as a venue's gate sees it. */
export interface GateRequest {
  ip: string;
  /** Wall time: limits count real time whatever the simulated clock's speed. */
  wallMs: number;
  /** Simulated now (the venue's clock, for time fields in a refusal's body). */
  nowMs: number;
  /** The path below the venue's host (e.g. /fapi/v1/klines). */
  path: string;
  query: URLSearchParams;
  /** The parsed JSON body of a POST; undefined for GET. */
  body: unknown;
}

/** A venue's "no": status, body (a string is sent as text/plain), headers, and the fault kind it is counted as. */
export interface Refusal {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** Counted in perpflow_sim_faults_injected_total{kind} (a constant of the venue's module). */
  kind: string;
}

/** A venue's rate limiting on one server: its own counting and its own way of saying no. */
export interface VenueGate {
  /** The headers the venue sends on every answer, and a refusal when the request is over a limit. */
  admit(req: GateRequest): { headers: Record<string, string>; refusal?: Refusal };
  /** How the venue answers an injected fault: a rate-limit storm, or a ban lasting retryAfterS. */
  injected(kind: 'rate_limited' | 'banned', retryAfterS: number, req: GateRequest): Refusal;
  /** For GET /__sim/state: the limits and each IP's use. */
  state(wallMs: number): Record<string, unknown>;
  reset(): void;
}

/**
 * One venue's wire format and limits (a "mapper", like tardis-node): everything about
 * the venue stays in its file, and the server, the streams and the faults only call
 * this interface. `LimitOptions` are the venue's own rate-limit options.
 */
export interface Venue<LimitOptions = unknown> {
  id: VenueId;
  /** The original REST host, the first path segment (e.g. fapi.binance.com). */
  restHost: string;
  /** The original WS host (e.g. fstream.binance.com). */
  wsHost: string;
  rest(path: string, query: URLSearchParams, ctx: VenueContext): RestAnswer;
  /** The venue's POST endpoints (a JSON body); undefined: the venue serves GET only. */
  post?(path: string, body: unknown, ctx: VenueContext): RestAnswer;
  /**
   * Its ban says how long it lasts (Retry-After): a client can wait it out, so an
   * injected ban without a venue named hits these venues.
   */
  banSaysHowLong?: boolean;
  /** A rate limiter for one server, counting per client IP. */
  createGate(options: LimitOptions | undefined): VenueGate;
  /** Topics named by the connection URL itself (e.g. Binance /ws/btcusdt@kline_1m, /stream?streams=a/b). */
  topicsFromPath(path: string, ctx: VenueContext, query?: URLSearchParams): Topic[];
  /** Wraps a pushed message for a connection opened as a combined stream (Binance /stream: {"stream","data"}); undefined: never. */
  combinedStream?(path: string): boolean;
  /** `message` is the parsed JSON, or the raw text when it is not JSON (OKX's "ping"); `path` the connection's. */
  control(message: unknown, ctx: VenueContext, connId: string, path?: string): WsControl;
  klineMessage(
    topic: Topic & { kind: 'kline' },
    candle: Candle,
    closed: boolean,
    nowMs: number,
    ctx: VenueContext,
  ): string;
  /**
   * Venues whose all-market liquidation feed is one topic per symbol (Bybit's
   * allLiquidation.<SYM>): the raw topic name a symbol's batch is pushed under. Undefined:
   * an all-market topic pushes as it is (Binance's !forceOrder@arr).
   */
  perSymbolLiquidationTopic?(symbol: string): string;
  /** Liquidations of one tick for one topic (one message each on Binance, one batch per symbol on Bybit). */
  liquidationMessages(
    topic: Topic & { kind: 'liquidation' },
    events: LiquidationEvent[],
    nowMs: number,
    ctx: VenueContext,
  ): string[];
}

export const INTERVALS_MS: Record<string, number> = {
  '1m': 60_000,
  '3m': 180_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '6h': 21_600_000,
  '8h': 28_800_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
};

/** Integer query param; undefined when absent; NaN when present but not an integer. */
export function intParam(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  return /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
}

/**
 * Selects candle open times in a venue's paging semantics: with a start, the
 * first `limit` from it (bounded by end); without, the last `limit` up to end.
 * Returns [from, to] open times to generate (inclusive).
 */
export function pageRange(
  startMs: number | undefined,
  endMs: number | undefined,
  limit: number,
  intervalMs: number,
  latestOpenMs: number,
): [number, number] | undefined {
  const last = Math.min(endMs ?? latestOpenMs, latestOpenMs);
  if (startMs !== undefined) {
    const first = Math.ceil(startMs / intervalMs) * intervalMs;
    const to = Math.min(last, first + (limit - 1) * intervalMs);
    return to < first ? undefined : [first, to];
  }
  const to = Math.floor(last / intervalMs) * intervalMs;
  return [to - (limit - 1) * intervalMs, to];
}

/**
 * Candles with open time in [from, to] as the venue serves them at `nowMs`:
 * closed candles from the model, plus the open candle (partial) when it is in range.
 */
export function servedCandles(
  model: MarketModel,
  symbol: string,
  intervalMs: number,
  from: number,
  to: number,
  nowMs: number,
): Candle[] {
  const openStart = Math.floor(nowMs / intervalMs) * intervalMs;
  const closedTo = Math.min(to, openStart - intervalMs);
  const out = closedTo >= from ? model.candles(symbol, intervalMs, from, closedTo) : [];
  if (openStart >= from && openStart <= to) {
    const missing = intervalMs === 60_000 && model.isMissingCandle(symbol, openStart);
    if (!missing) out.push(model.partialCandle(symbol, intervalMs, openStart, nowMs));
  }
  return out;
}
