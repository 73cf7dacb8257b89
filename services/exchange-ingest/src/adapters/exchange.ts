import { type ExchangeId, ExchangeUnavailable, RateLimited } from '@perpflow/contracts';
import type { Logger } from '@perpflow/runtime';
import ccxt from 'ccxt';
import type { IngestMetrics } from '../metrics.js';
import { LIQUIDATION_MAPPERS } from '../venues/index.js';
import { rewriteExchangeUrls } from '@perpflow/venue-endpoints';
import type { RawLiquidation } from '../domain/normalize.js';

/** The slice of a ccxt pro exchange we use; typed loosely at this one boundary. */
export interface CcxtExchange {
  id: string;
  markets: Record<string, CcxtMarket>;
  last_response_headers?: Record<string, string> | undefined;
  rateLimit: number;
  loadMarkets(reload?: boolean): Promise<Record<string, CcxtMarket>>;
  fetchTime(): Promise<number | undefined>;
  fetchOHLCV(symbol: string, timeframe: string, since?: number, limit?: number): Promise<unknown[][]>;
  fetchOpenInterest(symbol: string): Promise<Record<string, unknown>>;
  fetchOpenInterestHistory(
    symbol: string,
    timeframe: string,
    since?: number,
    limit?: number,
  ): Promise<Record<string, unknown>[]>;
  fetchFundingRates(symbols?: string[]): Promise<Record<string, Record<string, unknown>>>;
  fetchFundingRateHistory(symbol: string, since?: number, limit?: number): Promise<Record<string, unknown>[]>;
  watchLiquidationsForSymbols(symbols: string[]): Promise<unknown>;
  watchLiquidations(symbol: string): Promise<unknown>;
  safeMarket(marketId: string, market?: unknown, delimiter?: string, type?: string): CcxtMarket;
  close(): Promise<void>;
  /** ccxt refuses plain ws:// until this has run (see shared notes). */
  loadHttpProxyAgent?(): Promise<unknown>;
}

export interface CcxtMarket {
  symbol: string;
  id: string;
  active?: boolean | undefined;
  swap?: boolean | undefined;
  linear?: boolean | undefined;
  settle?: string | undefined;
}

export type LiquidationListener = (symbol: string, liquidation: RawLiquidation) => void;

/**
 * A ccxt pro exchange, unmodified but for two things: its URLs may point at another
 * host (the simulator, a proxy), and its liquidation handler also hands every raw
 * message to our venue mapper — ccxt's watch* return values drop events in bursts.
 */
export function createExchange(
  id: ExchangeId,
  options: {
    endpoint?: string | undefined;
    rateLimitMs?: number;
    onLiquidation: LiquidationListener;
    logger: Logger;
  },
): CcxtExchange {
  const pro = ccxt.pro as unknown as Record<string, new (config: Record<string, unknown>) => CcxtExchange>;
  const Base = pro[id];
  if (!Base) throw new Error(`ccxt has no pro exchange "${id}"`);
  const mapper = LIQUIDATION_MAPPERS[id];
  const Hooked = class extends (Base as new (
    config: Record<string, unknown>,
  ) => CcxtExchange & {
    handleLiquidation(client: unknown, message: unknown): unknown;
  }) {
    override handleLiquidation(client: unknown, message: unknown): unknown {
      try {
        for (const { marketId, liquidation } of mapper?.(message) ?? []) {
          const market = this.safeMarket(marketId, undefined, undefined, 'swap');
          options.onLiquidation(market.symbol, liquidation);
        }
      } catch (err) {
        options.logger.warn(
          { err, exchange: id },
          'liquidation message not understood; counted as malformed',
        );
      }
      return super.handleLiquidation(client, message);
    }
  };
  const ex = new Hooked({ enableRateLimit: true, options: { defaultType: 'swap' } });
  if (options.rateLimitMs) ex.rateLimit = options.rateLimitMs;
  if (options.endpoint) {
    const ws = options.endpoint.replace(/^http/, 'ws');
    rewriteExchangeUrls(ex as unknown as { urls: { api: unknown }; hostname?: string }, {
      restBaseUrl: options.endpoint,
      wsBaseUrl: ws,
    });
  }
  return ex;
}

/** ccxt's error classes → our typed errors (kind label for metrics, retriable flag, Retry-After). */
export function classifyExchangeError(err: unknown, exchange: CcxtExchange): { kind: string; error: Error } {
  const e = err as Error;
  const name = e?.constructor?.name ?? 'Error';
  const headers = exchange.last_response_headers ?? {};
  const retryAfterS = Number(headers['retry-after'] ?? headers['Retry-After']);
  const retryAfterMs = Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : null;
  const message = `${exchange.id}: ${e?.message ?? String(err)}`;
  if (err instanceof ccxt.DDoSProtection || err instanceof ccxt.RateLimitExceeded) {
    const banned = /418|banned/i.test(e.message);
    return {
      kind: banned ? 'banned' : 'rate_limited',
      error: new RateLimited(message, retryAfterMs ?? (banned ? 120_000 : 60_000), { cause: err }),
    };
  }
  if (err instanceof ccxt.RequestTimeout)
    return { kind: 'timeout', error: new ExchangeUnavailable(message, { cause: err }) };
  if (err instanceof ccxt.ExchangeNotAvailable || err instanceof ccxt.OnMaintenance)
    return { kind: 'unavailable', error: new ExchangeUnavailable(message, { cause: err }) };
  if (err instanceof ccxt.BadResponse || err instanceof ccxt.NullResponse || err instanceof SyntaxError)
    return { kind: 'malformed', error: new ExchangeUnavailable(message, { cause: err }) };
  if (err instanceof ccxt.NetworkError)
    return { kind: 'network', error: new ExchangeUnavailable(message, { cause: err }) };
  return {
    kind: name === 'Error' ? 'other' : `other`,
    error: e instanceof Error ? e : new Error(String(err)),
  };
}

/** Wraps one REST call: counts it, maps its error, records the weight the exchange reports. */
export async function callExchange<T>(
  ex: CcxtExchange,
  method: string,
  metrics: IngestMetrics,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    const out = await fn();
    metrics.requests.inc({ exchange: ex.id, method, outcome: 'ok' });
    return out;
  } catch (err) {
    const { kind, error } = classifyExchangeError(err, ex);
    metrics.requests.inc({ exchange: ex.id, method, outcome: kind });
    metrics.errors.inc({ exchange: ex.id, kind });
    throw error;
  } finally {
    const w = Number(
      ex.last_response_headers?.['x-mbx-used-weight-1m'] ??
        ex.last_response_headers?.['X-MBX-USED-WEIGHT-1M'],
    );
    if (Number.isFinite(w)) metrics.rateLimitWeight.set({ exchange: ex.id }, w);
  }
}

/**
 * Loads the exchange's markets, insisting on a usable answer: ccxt accepts a
 * malformed 200 as "no markets" without throwing, after which every call fails
 * with BadSymbol. Retries (reloading) with backoff until at least one market parses.
 */
export async function loadMarketsStrict(
  ex: CcxtExchange,
  metrics: IngestMetrics,
  logger: Logger,
  attempts = 8,
): Promise<CcxtMarket[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const markets = Object.values(
        await callExchange(ex, 'loadMarkets', metrics, () => ex.loadMarkets(attempt > 1)),
      );
      if (markets.length > 0) return markets;
      throw new ExchangeUnavailable(`${ex.id}: loadMarkets parsed no markets (malformed answer?)`);
    } catch (err) {
      if (attempt >= attempts) throw err;
      const delay = Math.min(10_000, 250 * 2 ** attempt);
      logger.warn(
        { exchange: ex.id, attempt, delayMs: delay, err: (err as Error).message },
        'loading markets failed; retrying',
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
