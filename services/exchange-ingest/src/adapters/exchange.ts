import { type ExchangeId, ExchangeRejected, ExchangeUnavailable, RateLimited } from '@perpflow/contracts';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '@perpflow/runtime';
import type ccxtRoot from 'ccxt';
import type { IngestMetrics } from '../metrics.js';
import { ingestVenue, INGEST_VENUES } from '../venues/index.js';
import { rewriteExchangeUrls } from '@perpflow/venue-endpoints';
import type { RawKline, RawLiquidation } from '../domain/normalize.js';

/** The slice of a ccxt pro exchange we use; typed loosely at this one boundary. */
export interface CcxtExchange {
  id: string;
  markets: Record<string, CcxtMarket>;
  last_response_headers?: Record<string, string> | undefined;
  rateLimit: number;
  /** ccxt's websocket clients by URL, with their subscription hashes. */
  clients?: Record<string, { subscriptions?: Record<string, unknown> }>;
  loadMarkets(reload?: boolean): Promise<Record<string, CcxtMarket>>;
  fetchTime(): Promise<number | undefined>;
  fetchOHLCV(symbol: string, timeframe: string, since?: number, limit?: number): Promise<unknown[][]>;
  fetchOpenInterest(symbol: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Every listed symbol's open interest in one answer, keyed by unified symbol (venues with `has.fetchOpenInterests`). */
  fetchOpenInterests?(
    symbols?: string[],
    params?: Record<string, unknown>,
  ): Promise<Record<string, Record<string, unknown>>>;
  fetchOpenInterestHistory(
    symbol: string,
    timeframe: string,
    since?: number,
    limit?: number,
    params?: Record<string, unknown>,
  ): Promise<Record<string, unknown>[]>;
  fetchFundingRates(symbols?: string[]): Promise<Record<string, Record<string, unknown>>>;
  fetchFundingRateHistory(
    symbol: string,
    since?: number,
    limit?: number,
    params?: Record<string, unknown>,
  ): Promise<Record<string, unknown>[]>;
  watchLiquidationsForSymbols(symbols: string[]): Promise<unknown>;
  watchLiquidations(symbol: string): Promise<unknown>;
  watchOHLCVForSymbols(symbolsAndTimeframes: [string, string][]): Promise<unknown>;
  watchOHLCV(symbol: string, timeframe: string): Promise<unknown>;
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
  /** Base units per contract (OKX ctVal); 1 or undefined where amounts are in base units. */
  contractSize?: number | undefined;
}

/**
 * ccxt one venue at a time: `import ccxt from 'ccxt'` evaluates all of its ~100
 * exchanges (~125 MB RSS, 45 MB of it module source strings in a heap snapshot of the
 * live service); one pro exchange module and the error classes are ~76 MB. ccxt's
 * package exports only its root, so the modules are imported by file URL from the
 * package's directory: the same URLs its root imports, hence the same module instances
 * (`instanceof` on its error classes holds whichever way a module was loaded).
 */
const CCXT_DIR = join(dirname(createRequire(import.meta.url).resolve('ccxt')), '..');
const ccxtModuleUrl = (path: string) => pathToFileURL(join(CCXT_DIR, 'js', 'src', path)).href;
type CcxtErrors = Pick<
  typeof ccxtRoot,
  | 'BadResponse'
  | 'DDoSProtection'
  | 'RateLimitExceeded'
  | 'RequestTimeout'
  | 'ExchangeNotAvailable'
  | 'OnMaintenance'
  | 'NullResponse'
  | 'NetworkError'
  | 'BadRequest'
  | 'BadSymbol'
  | 'NotSupported'
  | 'AuthenticationError'
  | 'PermissionDenied'
>;
const ccxt = (await import(ccxtModuleUrl('base/errors.js'))) as CcxtErrors;

type CcxtExchangeClass = new (config: Record<string, unknown>) => CcxtExchange;

/** The ccxt pro class of one exchange, loading only its module (and what it imports). */
export async function loadExchangeClass(id: ExchangeId): Promise<CcxtExchangeClass> {
  const mod = (await import(ccxtModuleUrl(`pro/${id}.js`)).catch((err: Error) => {
    throw new Error(`ccxt has no pro exchange "${id}" (${err.message})`);
  })) as { default?: CcxtExchangeClass };
  if (typeof mod.default !== 'function') throw new Error(`ccxt has no pro exchange "${id}"`);
  return mod.default;
}

/** ccxt's websocket client, as far as createExchange touches it. */
interface WsClient {
  send(message: unknown): Promise<unknown>;
}
/** Clients whose send promises are already marked handled (createExchange). */
const handledSends = new WeakSet<WsClient>();

export type LiquidationListener = (symbol: string, liquidation: RawLiquidation) => void;
export type KlineListener = (symbol: string, kline: RawKline) => void;

/**
 * A ccxt pro exchange, unmodified but for two things: its URLs may point at another
 * host (the simulator, a proxy), and its liquidation and kline handlers also hand
 * every raw message to our venue mappers — ccxt's watch* return values drop events
 * in bursts, and its parsed candles lose the exchange's "closed" flag.
 */
export async function createExchange(
  id: ExchangeId,
  options: {
    endpoint?: string | undefined;
    rateLimitMs?: number;
    onLiquidation: LiquidationListener;
    onKline?: KlineListener;
    /** A websocket connection closed or failed (ccxt reconnects on the next watch call). */
    onWebsocketClosed?: (url: string, error?: Error) => void;
    /** A websocket connection opened (ccxt has recorded its subscriptions on the client by then). */
    onWebsocketOpened?: (url: string) => void;
    /** Our clock, for the receive time of kline messages; default Date.now. */
    now?: () => number;
    logger: Logger;
  },
): Promise<CcxtExchange> {
  const Base = await loadExchangeClass(id);
  const venue = ingestVenue(id);
  const mapper = venue.liquidations.fromMessage;
  const klineMapper = venue.klines;
  const Hooked = class extends (Base as new (
    config: Record<string, unknown>,
  ) => CcxtExchange & {
    handleLiquidation(client: unknown, message: unknown): unknown;
    handleOHLCV(client: unknown, message: unknown): unknown;
    onClose(client: { url: string }, error: unknown): unknown;
    onError(client: { url: string }, error: unknown): unknown;
    onConnected(client: { url: string }, message?: unknown): unknown;
    client(url: string): WsClient;
    onRestResponse(
      statusCode: number,
      statusText: string,
      url: string,
      method: string,
      responseHeaders: unknown,
      responseBody: string,
      requestHeaders: unknown,
      requestBody: unknown,
    ): string;
    parseJson(jsonString: unknown): unknown;
  }) {
    /**
     * A 2xx whose body is not JSON (a truncated answer, a proxy's HTML page) is an error.
     * ccxt parses such a body to nothing and returns no rows without raising, which a
     * pager takes for the end of the data: a backfill would move its checkpoint past
     * candles it never fetched. BadResponse is classified `malformed` and retried.
     *
     * The check is ccxt's own parse, done here once: ccxt 4.5.84's fetch() calls
     * `parseJson` on what this returns, in the same turn of the event loop, and gets the
     * value parsed here instead of parsing the body a second time (a second `JSON.parse`
     * of every REST answer was 6.5 % of the ingest's samples in a backfill).
     */
    override onRestResponse(
      statusCode: number,
      statusText: string,
      url: string,
      method: string,
      responseHeaders: unknown,
      responseBody: string,
      requestHeaders: unknown,
      requestBody: unknown,
    ): string {
      const body = super.onRestResponse(
        statusCode,
        statusText,
        url,
        method,
        responseHeaders,
        responseBody,
        requestHeaders,
        requestBody,
      );
      this.parsedBody = undefined;
      if (statusCode >= 200 && statusCode < 300 && body !== '') {
        const parsed = super.parseJson(body);
        // undefined: not JSON, or JSON that is not an object or array (ccxt parses only those).
        if (parsed === undefined)
          try {
            JSON.parse(body);
          } catch {
            throw new ccxt.BadResponse(
              `${id} ${method} ${url.split('?')[0]}: HTTP ${statusCode} with a body that is not JSON (${body.length} bytes, starts ${JSON.stringify(body.slice(0, 40))})`,
            );
          }
        this.parsedBody = { text: body, value: parsed };
      }
      return body;
    }
    /** The body onRestResponse parsed, for the parseJson call that follows it. */
    private parsedBody: { text: string; value: unknown } | undefined;
    override parseJson(jsonString: unknown): unknown {
      const pending = this.parsedBody;
      this.parsedBody = undefined;
      if (pending !== undefined && pending.text === jsonString) return pending.value;
      return super.parseJson(jsonString);
    }
    /**
     * ccxt 4.5.84's watch() sends a subscription after its websocket throttle and drops the
     * promise `client.send` returns (Exchange.watch: `client.throttle(cost).then(() =>
     * client.send(message))`). When the socket closes between the two, that promise rejects
     * ("WebSocket is not open: readyState 3 (CLOSED)") with no handler, and Node ends the
     * process on an unhandled rejection: a venue dropping the connection at that moment would
     * stop the ingest. Each client's send promise is marked handled here; whoever awaits it
     * still gets the rejection, and the close resets the watch's own future, so the loop
     * watches again.
     */
    override client(url: string): WsClient {
      const c = super.client(url);
      if (!handledSends.has(c)) {
        const send = c.send.bind(c);
        c.send = (message: unknown) => {
          const sent = send(message);
          sent.catch(() => undefined);
          return sent;
        };
        handledSends.add(c);
      }
      return c;
    }
    override onClose(client: { url: string }, error: unknown): unknown {
      options.onWebsocketClosed?.(client.url, error instanceof Error ? error : undefined);
      return super.onClose(client, error);
    }
    override onConnected(client: { url: string }, message?: unknown): unknown {
      options.onWebsocketOpened?.(client.url);
      return super.onConnected(client, message);
    }
    override onError(client: { url: string }, error: unknown): unknown {
      options.onWebsocketClosed?.(client.url, error instanceof Error ? error : undefined);
      return super.onError(client, error);
    }
    override handleOHLCV(client: unknown, message: unknown): unknown {
      if (options.onKline)
        try {
          for (const kline of klineMapper?.(message, (options.now ?? Date.now)()) ?? []) {
            const marketId = venue.klineMarketId ? venue.klineMarketId(this, kline.marketId) : kline.marketId;
            const market = this.safeMarket(marketId, undefined, undefined, 'swap');
            options.onKline(market.symbol, kline);
          }
        } catch (err) {
          options.logger.warn({ err, exchange: id }, 'kline message not understood; counted as malformed');
        }
      return super.handleOHLCV(client, message);
    }
    override handleLiquidation(client: unknown, message: unknown): unknown {
      try {
        const contractSizeOf = (marketId: string) =>
          this.safeMarket(marketId, undefined, undefined, 'swap').contractSize;
        for (const { marketId, liquidation } of mapper?.(message, contractSizeOf) ?? []) {
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
  // rateLimit must be given to the constructor: ccxt builds its throttler there and
  // ignores later changes of ex.rateLimit.
  const ex = new Hooked({
    enableRateLimit: true,
    ...(options.rateLimitMs ? { rateLimit: options.rateLimitMs } : {}),
    // Candles come from the kline hook above, not from ccxt's per-symbol candle cache,
    // which would otherwise keep 1,000 parsed candles of every symbol (~80 MB at 500 symbols).
    options: { defaultType: 'swap', OHLCVLimit: 2, ...venue.ccxtOptions },
  });
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
    const ban = ingestVenue(exchange.id).ban;
    const banned = ban.pattern.test(e.message);
    return {
      kind: banned ? 'banned' : 'rate_limited',
      error: new RateLimited(message, retryAfterMs ?? (banned ? ban.pauseMs : 60_000), { cause: err }),
    };
  }
  if (
    err instanceof ccxt.BadRequest ||
    err instanceof ccxt.BadSymbol ||
    err instanceof ccxt.NotSupported ||
    err instanceof ccxt.AuthenticationError ||
    err instanceof ccxt.PermissionDenied
  )
    return { kind: 'rejected', error: new ExchangeRejected(message, { cause: err }) };
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
  gate?: { noteUsedWeight(used: number, limitPerMinute: number): boolean },
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
    const venue = INGEST_VENUES[ex.id as ExchangeId];
    const w = venue?.usedWeight?.(ex.last_response_headers ?? {});
    if (venue && w !== undefined) {
      metrics.rateLimitWeight.set({ exchange: ex.id }, w);
      if (gate) gate.noteUsedWeight(w, venue.budget.unitsPerMinute);
    }
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
