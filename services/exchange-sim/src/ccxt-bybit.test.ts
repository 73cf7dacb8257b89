import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pointExchangeAt } from '@perpflow/venue-endpoints';
import ccxt from 'ccxt';
import { createMarketModel, MINUTE_MS } from './market/index.js';
import { type SimServer, startSimServer } from './server.js';

/** Unmodified ccxt.pro.bybit (default options: it also asks for spot, inverse and option markets). */

const SEED = 7;
type Ex = InstanceType<typeof ccxt.pro.bybit>;

async function client(sim: SimServer, extra: Record<string, unknown> = {}): Promise<Ex> {
  const ex = new ccxt.pro.bybit({ enableRateLimit: false, timeout: 20_000, ...extra });
  await pointExchangeAt(ex, { restBaseUrl: sim.url, wsBaseUrl: sim.wsUrl });
  return ex;
}

describe('ccxt bybit against the simulator', () => {
  let sim: SimServer;
  let ex: Ex;
  const truth = createMarketModel({ seed: SEED, symbolCount: 500 });
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 500 },
      bybitLimits: { requestsPerSecond: 1000 },
    });
    ex = await client(sim);
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  it('loadMarkets finds the 500 linear perpetuals (other categories are empty)', () => {
    const swaps = Object.values(ex.markets ?? {}).filter((m) => m?.swap && m.linear);
    assert.equal(swaps.length, 500);
    assert.equal(ex.market('ETH/USDT:USDT').precision.price, 10 ** -truth.spec('ETHUSDT').priceDecimals);
  });

  it('fetchOHLCV pages forward from since and equals the model', async () => {
    const since = Math.floor(sim.clock.now() / MINUTE_MS) * MINUTE_MS - 1500 * MINUTE_MS;
    const first = (await ex.fetchOHLCV('BTC/USDT:USDT', '1m', since, 1000)) as number[][];
    const second = (await ex.fetchOHLCV(
      'BTC/USDT:USDT',
      '1m',
      (first.at(-1)?.[0] as number) + MINUTE_MS,
      400,
    )) as number[][];
    const got = [...first, ...second];
    const expected = truth.candles('BTCUSDT', MINUTE_MS, since, since + 1399 * MINUTE_MS);
    assert.deepEqual(
      got,
      expected.map((c) => [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume]),
    );
  });

  it('fetchOpenInterest, fetchOpenInterestHistory, fetchFundingRates and fetchFundingRateHistory equal the model', async () => {
    const oi = await ex.fetchOpenInterest('SOL/USDT:USDT');
    assert.equal(oi.openInterestAmount, truth.openInterest('SOLUSDT', oi.timestamp as number).openInterest);
    const since = Math.floor(sim.clock.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000;
    const hist = await ex.fetchOpenInterestHistory('SOL/USDT:USDT', '1h', since, 24);
    assert.deepEqual(
      hist.map((h) => [h.timestamp, h.openInterestAmount]),
      truth
        .openInterestHistory('SOLUSDT', 3_600_000, since, since + 23 * 3_600_000)
        .map((p) => [p.timeMs, p.openInterest]),
    );
    const rates = await ex.fetchFundingRates();
    assert.equal(Object.keys(rates).length, 500);
    const r = rates['S042/USDT:USDT'];
    assert.ok(r);
    const p = truth.premiumIndex('S042USDT', r.timestamp as number);
    assert.equal(r.fundingRate, p.lastFundingRate);
    assert.equal(r.fundingTimestamp, p.nextFundingTimeMs);
    assert.equal(r.interval, '8h');
    const fsince = sim.clock.now() - 5 * 86_400_000;
    const fh = await ex.fetchFundingRateHistory('BTC/USDT:USDT', fsince, 10);
    assert.deepEqual(
      fh.map((h) => [h.timestamp, h.fundingRate]),
      truth
        .fundingHistory('BTCUSDT', fsince, fsince + 10 * 8 * 3_600_000 - 1)
        .map((f) => [f.fundingTimeMs, f.rate]),
    );
  });

  it('answers retCode 10006 over its per-second limit: ccxt raises RateLimitExceeded', async () => {
    const strict = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 5 },
      bybitLimits: { requestsPerSecond: 3 },
    });
    const ex2 = await client(strict, { options: { fetchMarkets: { types: ['linear'] } } });
    try {
      await ex2.loadMarkets(); // 2 requests (Trading + PreLaunch)
      const results = await Promise.allSettled(
        [1, 2, 3, 4].map(() => ex2.fetchOpenInterest('BTC/USDT:USDT')),
      );
      const rejected = results.filter((x) => x.status === 'rejected');
      assert.ok(rejected.length >= 1);
      for (const x of rejected)
        assert.ok((x as PromiseRejectedResult).reason instanceof ccxt.RateLimitExceeded);
    } finally {
      await ex2.close();
      await strict.close();
    }
  });
});

describe('ccxt.pro bybit websockets (60× speed)', () => {
  let sim: SimServer;
  let ex: Ex;
  const truth = createMarketModel({ seed: SEED, symbolCount: 10, liquidationBurstsPerHour: 60 });
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 10, liquidationBurstsPerHour: 60 },
      clock: { speed: 60 },
      pushIntervalMs: 100,
    });
    ex = await client(sim, { options: { fetchMarkets: { types: ['linear'] } } });
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  it('watchOHLCV (kline.1.<SYM>) receives a confirmed candle equal to the model', async () => {
    const deadline = Date.now() + 8000;
    let rows: number[][] = [];
    while (Date.now() < deadline && rows.length < 3)
      rows = (await ex.watchOHLCV('ETH/USDT:USDT', '1m')) as number[][];
    const stored = ex.ohlcvs['ETH/USDT:USDT']?.['1m'] as unknown as number[][];
    assert.ok(stored.length >= 3, 'no closed candle in time');
    const closed = stored.at(-2) as number[];
    const [c] = truth.candles('ETHUSDT', MINUTE_MS, closed[0] as number, closed[0] as number);
    assert.deepEqual(closed, [c!.openTimeMs, c!.open, c!.high, c!.low, c!.close, c!.volume]);
  });

  it("watchLiquidations (allLiquidation.<SYM>) receives the model's events, Bybit side = position side", async () => {
    const got = [] as { timestamp?: number; price?: number; contracts?: number; side?: string }[];
    const deadline = Date.now() + 8000;
    while (got.length < 3 && Date.now() < deadline)
      got.push(...(await ex.watchLiquidations('BTC/USDT:USDT')));
    assert.ok(got.length >= 3, `only ${got.length}`);
    const expected = truth.liquidations(
      'BTCUSDT',
      sim.clock.now() - 60 * MINUTE_MS,
      sim.clock.now() + MINUTE_MS,
    );
    for (const l of got) {
      const m = expected.find((e) => e.timeMs === l.timestamp);
      assert.ok(m, `no model event at ${l.timestamp}`);
      assert.equal(l.price, m.price);
      assert.equal(l.contracts, m.qty);
      assert.equal(l.side, m.side === 'SELL' ? 'buy' : 'sell');
    }
  });
});
