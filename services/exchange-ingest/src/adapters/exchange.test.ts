import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSimServer } from '@perpflow/exchange-sim';
import { createLogger } from '@perpflow/runtime';
import ccxt from 'ccxt';
import { classifyExchangeError, createExchange, loadExchangeClass } from './exchange.js';

const logger = createLogger({ service: 'test', level: 'fatal' });
type RestHook = {
  onRestResponse(
    s: number,
    t: string,
    u: string,
    m: string,
    h: unknown,
    b: string,
    rh: unknown,
    rb: unknown,
  ): string;
};

const exchanges = {
  binanceusdm: await createExchange('binanceusdm', { onLiquidation: () => {}, logger }),
  bybit: await createExchange('bybit', { onLiquidation: () => {}, logger }),
  hyperliquid: await createExchange('hyperliquid', { onLiquidation: () => {}, logger }),
};

describe('createExchange: answers that are not JSON', () => {
  for (const id of ['binanceusdm', 'bybit', 'hyperliquid'] as const) {
    const ex = exchanges[id] as unknown as RestHook;
    const url = 'http://127.0.0.1:1/fapi/v1/klines?symbol=BTCUSDT';
    const respond = (status: number, body: string) => () =>
      ex.onRestResponse(status, 'OK', url, 'GET', {}, body, {}, undefined);

    it(`${id}: a 200 with truncated JSON raises BadResponse, classified malformed (retried), naming the endpoint`, () => {
      assert.throws(respond(200, '[[1795424460000,"46127.7","46127.8","4612'), (err: Error) => {
        assert.ok(err instanceof ccxt.BadResponse);
        assert.match(
          err.message,
          /GET http:\/\/127\.0\.0\.1:1\/fapi\/v1\/klines: HTTP 200 with a body that is not JSON/,
        );
        assert.equal(classifyExchangeError(err, ex as never).kind, 'malformed');
        return true;
      });
    });

    it(`${id}: a 200 with an HTML page raises BadResponse`, () => {
      assert.throws(respond(200, '<!DOCTYPE html><html><body>cloudflare</body></html>'), ccxt.BadResponse);
    });

    it(`${id}: well-formed JSON, an empty list (a real end of data) and non-2xx bodies pass through`, () => {
      assert.equal(respond(200, ' [] ')(), '[]');
      assert.equal(
        respond(200, '{"retCode":0,"result":{"list":[]}}')(),
        '{"retCode":0,"result":{"list":[]}}',
      );
      // ccxt's own status handling turns these into its errors (5xx: ExchangeNotAvailable).
      assert.equal(respond(502, '<html>Bad gateway</html>')(), '<html>Bad gateway</html>');
    });
  }
});

describe('createExchange: a REST answer parsed once', () => {
  for (const id of ['binanceusdm', 'bybit', 'hyperliquid'] as const) {
    it(`${id}: fetchOHLCV against the simulator parses each body once and returns its candles`, async () => {
      const sim = await startSimServer({ port: 0, market: { seed: 7, symbolCount: 2 } });
      const ex = await createExchange(id, { endpoint: sim.url, logger, onLiquidation: () => {} });
      const parse = JSON.parse;
      try {
        await ex.loadMarkets();
        const symbol = Object.keys(ex.markets).find((s) => ex.markets[s]?.swap === true) as string;
        const parsed = new Map<string, number>();
        JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
          if (typeof text === 'string' && text.length > 200) parsed.set(text, (parsed.get(text) ?? 0) + 1);
          return parse(text, reviver);
        }) as typeof JSON.parse;
        const since = Date.now() - 3 * 3_600_000;
        const candles = await ex.fetchOHLCV(symbol, '1m', since, 50);
        JSON.parse = parse;
        assert.equal(candles.length, 50);
        assert.ok(parsed.size >= 1, 'the klines body was parsed');
        for (const [text, n] of parsed) assert.equal(n, 1, `parsed ${n} times: ${text.slice(0, 60)}`);
      } finally {
        JSON.parse = parse;
        await ex.close();
        await sim.close();
      }
    });
  }
});

describe('loadExchangeClass: one venue module instead of all of ccxt', () => {
  it("gives ccxt's own pro class (same module instance as ccxt's root), and refuses an unknown id", async () => {
    assert.equal(await loadExchangeClass('binanceusdm'), ccxt.pro.binanceusdm);
    assert.equal(await loadExchangeClass('bybit'), ccxt.pro.bybit);
    await assert.rejects(loadExchangeClass('nosuchvenue' as never), /ccxt has no pro exchange "nosuchvenue"/);
  });
});

describe('createExchange: a subscription sent on a socket that has closed', () => {
  it('rejects to whoever awaits it and leaves no unhandled rejection (ccxt 4.5.84 drops that promise in watch())', async () => {
    const sim = await startSimServer({ port: 0, market: { seed: 7, symbolCount: 2 } });
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', note);
    try {
      const ex = (await createExchange('binanceusdm', { onLiquidation: () => {}, logger })) as unknown as {
        client(url: string): {
          connect(backoffDelay?: number): Promise<unknown>;
          send(message: unknown): Promise<unknown>;
          connection: { readyState: number };
        };
        close(): Promise<void>;
        loadHttpProxyAgent(): Promise<void>;
      };
      await ex.loadHttpProxyAgent(); // ccxt's condition for a ws:// (not wss://) url
      const client = ex.client(`${sim.wsUrl}/fstream.binance.com/ws`);
      await client.connect(0);
      await sim.close();
      for (let i = 0; i < 200 && client.connection.readyState !== 3; i++)
        await new Promise((r) => setTimeout(r, 25));
      assert.equal(client.connection.readyState, 3, 'the socket closed with the server');
      // As ccxt's watch() does after its throttle: send, and drop the promise.
      const sent = client.send({ method: 'SUBSCRIBE', params: ['btcusdt@kline_1m'], id: 1 });
      // ws reports the failure on the next tick; Node reports an unhandled rejection once the
      // microtasks after it have run: two turns of the event loop cover both.
      for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
      await assert.rejects(sent, /WebSocket is not open/);
      await ex.close();
    } finally {
      process.off('unhandledRejection', note);
    }
  });
});

describe("createExchange: ccxt's own candle cache stays bounded", () => {
  it('hands every closed kline to the hook and keeps at most 2 candles per symbol in ccxt', async () => {
    const opens: number[] = [];
    const ex = (await createExchange('binanceusdm', {
      onLiquidation: () => {},
      onKline: (_symbol, k) => opens.push(k.row[0]!),
      logger,
    })) as unknown as {
      handleOHLCV(client: unknown, message: unknown): void;
      ohlcvs: Record<string, Record<string, unknown[]>>;
    };
    const client = { url: 'wss://fstream.binance.com/ws', resolve: () => {} };
    const t0 = 1_700_000_040_000;
    for (let i = 0; i < 10; i++) {
      const t = t0 + i * 60_000;
      ex.handleOHLCV(client, {
        e: 'kline',
        E: t + 60_000,
        s: 'BTCUSDT',
        k: {
          t,
          T: t + 59_999,
          s: 'BTCUSDT',
          i: '1m',
          o: '1',
          c: '2',
          h: '3',
          l: '0.5',
          v: '10',
          n: 1,
          x: true,
        },
      });
    }
    assert.deepEqual(
      opens,
      Array.from({ length: 10 }, (_, i) => t0 + i * 60_000),
    );
    const cached = Object.values(ex.ohlcvs).map((byTf) => byTf['1m']?.length);
    assert.deepEqual(cached, [2], 'one symbol, its last 2 candles (ccxt would keep 1,000)');
  });
});

describe('classifyExchangeError: bans as each venue signals them', () => {
  // The messages ccxt builds from the status line (handleHttpStatusCode): the simulator's
  // 403 gives exactly this shape (services/exchange-sim/src/ccxt-bybit.test.ts).
  const bybit403 = new ccxt.RateLimitExceeded(
    'bybit GET https://api.bybit.com/v5/market/open-interest?symbol=BTCUSDT 403 Forbidden access too frequent',
  );
  it('Bybit 403 "access too frequent" is a ban: the gate stays closed 10 minutes (no Retry-After comes)', () => {
    const { kind, error } = classifyExchangeError(bybit403, exchanges.bybit as never);
    assert.equal(kind, 'banned');
    assert.equal((error as { retryAfterMs?: number }).retryAfterMs, 600_000);
  });
  it('Bybit retCode 10006 (the per-UID API limit) is a rate limit, 60 s', () => {
    const err = new ccxt.RateLimitExceeded('bybit {"retCode":10006,"retMsg":"Too many visits!"}');
    const { kind, error } = classifyExchangeError(err, exchanges.bybit as never);
    assert.equal(kind, 'rate_limited');
    assert.equal((error as { retryAfterMs?: number }).retryAfterMs, 60_000);
  });
  it('Binance 418 is a ban (2 min without Retry-After), 429 a rate limit', () => {
    const ban = new ccxt.DDoSProtection(
      'binanceusdm GET https://fapi.binance.com/fapi/v1/klines 418  {"code":-1003}',
    );
    assert.equal(classifyExchangeError(ban, exchanges.binanceusdm as never).kind, 'banned');
    const limited = new ccxt.RateLimitExceeded(
      'binanceusdm GET https://fapi.binance.com/fapi/v1/klines 429  {}',
    );
    assert.equal(classifyExchangeError(limited, exchanges.binanceusdm as never).kind, 'rate_limited');
  });
});

describe('classifyExchangeError: Hyperliquid', () => {
  it('HTTP 429 closes the gate a minute (the budget is a minute of weight; no Retry-After, no ban documented)', () => {
    const err = new ccxt.RateLimitExceeded(
      'hyperliquid POST https://api.hyperliquid.xyz/info 429 Too Many Requests ',
    );
    const { kind, error } = classifyExchangeError(err, exchanges.hyperliquid as never);
    assert.equal(kind, 'banned');
    assert.equal((error as { retryAfterMs?: number }).retryAfterMs, 60_000);
  });
});

describe('createExchange: venue options', () => {
  it('Bybit liquidations come from allLiquidation, pinned (the deprecated liquidation.<SYM> pushes 1 per second)', () => {
    const options = (exchanges.bybit as unknown as { options: { watchLiquidations?: { method?: string } } })
      .options;
    assert.equal(options.watchLiquidations?.method, 'allLiquidation');
    assert.equal(options.watchLiquidations && Object.keys(options.watchLiquidations).length, 1);
  });
});

describe('backfill jobs: errors that retrying cannot help fail the job at once', () => {
  it('a request the exchange rejects (bad symbol) is classified rejected and becomes UnrecoverableError', async () => {
    const { jobError } = await import('../backfill/queue.js');
    const { UnrecoverableError } = await import('bullmq');
    const { kind, error } = classifyExchangeError(
      new ccxt.BadSymbol('bybit does not have market symbol FOO/USDT:USDT'),
      exchanges.bybit as never,
    );
    assert.equal(kind, 'rejected');
    const job = jobError(error);
    assert.ok(job instanceof UnrecoverableError);
    assert.match(
      job.message,
      /^EXCHANGE_REJECTED: bybit: bybit does not have market symbol FOO\/USDT:USDT \(not retried/,
    );
  });
  it('retriable errors and unknown ones stay retried (BullMQ attempts with backoff)', async () => {
    const { jobError } = await import('../backfill/queue.js');
    const { UnrecoverableError } = await import('bullmq');
    const timeout = classifyExchangeError(
      new ccxt.RequestTimeout('timed out'),
      exchanges.bybit as never,
    ).error;
    assert.ok(!(jobError(timeout) instanceof UnrecoverableError));
    assert.ok(!(jobError(new Error('something else')) instanceof UnrecoverableError));
    assert.equal(jobError('text').message, 'text');
  });
});
