import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pointExchangeAt } from '@perpflow/venue-endpoints';
import ccxt from 'ccxt';
import { createMarketModel, MINUTE_MS } from './market/index.js';
import { BybitLimiter } from './venues/bybit.js';
import { type SimServer, startSimServer } from './server.js';
import { bybit } from './venues/bybit.js';

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
      limits: { bybit: { requestsPerSecond: 1000 } },
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
    // Bybit counts both sides: ccxt's amount is twice the model's one side, which comes as singleOpenInterest.
    const oi = await ex.fetchOpenInterest('SOL/USDT:USDT');
    const oneSide = truth.openInterest('SOLUSDT', oi.timestamp as number).openInterest;
    assert.equal(Number(oi.info.singleOpenInterest), oneSide);
    assert.equal(oi.openInterestAmount, Number((2 * oneSide).toFixed(8)));
    const since = Math.floor(sim.clock.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000;
    // ccxt sends endTime = since + 24 h: the venue answers the 24 points ending there,
    // so the point at `since` itself is not among them (ccxt PR #30016's live answers).
    const hist = await ex.fetchOpenInterestHistory('SOL/USDT:USDT', '1h', since, 24);
    assert.deepEqual(
      hist.map((h) => [h.timestamp, Number(h.info.singleOpenInterest), h.openInterestAmount]),
      truth
        .openInterestHistory('SOLUSDT', 3_600_000, since + 3_600_000, since + 24 * 3_600_000)
        .map((p) => [p.timeMs, p.openInterest, Number((2 * p.openInterest).toFixed(8))]),
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

  it('settles a 4 h symbol every 4 h: instruments fundingInterval, tickers fundingIntervalHour, history on the grid', async () => {
    // Bybit v5: instruments-info `fundingInterval` (minutes, a number), tickers
    // `fundingIntervalHour` (a string: "fundingIntervalHour":"8" in a recorded BTCUSDT ticker).
    const market = ex.market('SOL/USDT:USDT') as { info: Record<string, unknown> };
    assert.equal(market.info.fundingInterval, 240);
    assert.equal((ex.market('BTC/USDT:USDT') as { info: Record<string, unknown> }).info.fundingInterval, 480);
    const r = await ex.fetchFundingRate('SOL/USDT:USDT');
    assert.equal((r.info as Record<string, unknown>).fundingIntervalHour, '4');
    assert.equal(r.interval, '4h');
    const since = sim.clock.now() - 3 * 86_400_000;
    const fh = await ex.fetchFundingRateHistory('SOL/USDT:USDT', since, 10);
    assert.deepEqual(
      fh.map((h) => [h.timestamp, h.fundingRate]),
      truth
        .fundingHistory('SOLUSDT', since, since + 10 * 4 * 3_600_000 - 1)
        .map((f) => [f.fundingTimeMs, f.rate]),
    );
    for (const h of fh) assert.equal((h.timestamp as number) % (4 * 3_600_000), 0);
  });

  it('open-interest history is end-anchored and newest first, as the live endpoint answered in ccxt PR #30016', async () => {
    const H = 3_600_000;
    // A lone startTime answers back from the newest hour: simulated time moves to the middle
    // of an hour first, so none ends between `latest` and the answer (~3e-7 of runs did).
    sim.clock.advanceToMiddleOf(H);
    const latest = Math.floor(sim.clock.now() / H) * H;
    const S = latest - 100 * H;
    const times = async (query: string) => {
      const res = await fetch(
        `${sim.url}/api.bybit.com/v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=1h&${query}`,
      );
      const body = (await res.json()) as { retCode: number; result: { list: { timestamp: string }[] } };
      assert.equal(body.retCode, 0, query);
      return body.result.list.map((r) => Number(r.timestamp));
    };
    const span = (from: number, to: number) => {
      const out: number[] = [];
      for (let t = to; t >= from; t -= H) out.push(t);
      return out;
    };
    // The PR's four rows: a lone startTime is ignored (the page ends now); endTime alone ends there;
    // start + 5 h with limit 5 gives S+5h … S+1h; start + 50 h with limit 50 gives S+50h … S+1h.
    assert.deepEqual(await times(`startTime=${S}`), span(latest - 49 * H, latest));
    assert.deepEqual(await times(`endTime=${S}`), span(S - 49 * H, S));
    assert.deepEqual(await times(`startTime=${S}&endTime=${S + 5 * H}&limit=5`), span(S + H, S + 5 * H));
    assert.deepEqual(await times(`startTime=${S}&endTime=${S + 50 * H}&limit=50`), span(S + H, S + 50 * H));
    // A start inside the page bounds it from below.
    assert.deepEqual(
      await times(`startTime=${S + 3 * H}&endTime=${S + 5 * H}&limit=5`),
      span(S + 3 * H, S + 5 * H),
    );
  });

  it('over its IP limit answers 403 "access too frequent" and keeps the IP banned: ccxt raises RateLimitExceeded', async () => {
    const strict = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 5 },
      limits: { bybit: { requestsPerSecond: 3, banMs: 600_000 } }, // 15 requests per 5 s
    });
    const ex2 = await client(strict, { options: { fetchMarkets: { types: ['linear'] } } });
    try {
      await ex2.loadMarkets(); // 2 requests (Trading + PreLaunch)
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, () => ex2.fetchOpenInterest('BTC/USDT:USDT')),
      );
      const rejected = results.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
      assert.equal(results.length - rejected.length, 13, 'requests 3–15 of the window pass');
      for (const x of rejected) {
        assert.ok(x.reason instanceof ccxt.RateLimitExceeded, String(x.reason));
        assert.match(String(x.reason.message), / 403 .*access too frequent/);
      }
      // Banned: the raw answer is a plain 403 with no JSON envelope and no Retry-After.
      const res = await fetch(`${strict.url}/api.bybit.com/v5/market/time`);
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('retry-after'), null);
      assert.equal(await res.text(), 'access too frequent');
    } finally {
      await ex2.close();
      await strict.close();
    }
  });

  it('the IP window slides over 5 s and a ban lasts banMs', () => {
    const l = new BybitLimiter({ requestsPerSecond: 2, banMs: 60_000 });
    for (let i = 0; i < 10; i++) assert.equal(l.check('a', 1_000 + i * 100).ok, true);
    assert.equal(l.check('b', 1_500).ok, true, 'per IP');
    assert.equal(l.check('a', 6_000).ok, true, 'the first request left the window');
    const over = l.check('a', 6_050);
    assert.equal(over.ok, false);
    assert.equal(over.bannedUntilMs, 66_050);
    assert.equal(l.check('a', 66_049).ok, false);
    assert.equal(l.check('a', 66_050).ok, true);
  });
});

describe('bybit liquidation topics', () => {
  const model = createMarketModel({ seed: SEED, symbolCount: 5 });
  const ctx = { model } as unknown as Parameters<typeof bybit.liquidationMessages>[3];
  const ev = (timeMs: number, qty: number) =>
    ({ symbol: 'BTCUSDT', timeMs, side: 'SELL', price: 61_000, averagePrice: 61_010, qty }) as const;
  const events = [ev(1_000, 1), ev(1_400, 2), ev(1_999, 3), ev(2_000, 4), ev(4_500, 5)];
  it('allLiquidation.<SYM> carries every event', () => {
    const msgs = bybit.liquidationMessages(
      { kind: 'liquidation', raw: 'allLiquidation.BTCUSDT', symbol: 'BTCUSDT' },
      events,
      5_000,
      ctx,
    );
    const data = msgs.flatMap((m) => (JSON.parse(m) as { data: { T: number }[] }).data.map((d) => d.T));
    assert.deepEqual(data, [1_000, 1_400, 1_999, 2_000, 4_500]);
  });
  it('the deprecated liquidation.<SYM> pushes at most one event per second (the last), so a regression to it loses events', () => {
    const msgs = bybit.liquidationMessages(
      { kind: 'liquidation', raw: 'liquidation.BTCUSDT', symbol: 'BTCUSDT' },
      events,
      5_000,
      ctx,
    );
    const data = msgs.map((m) => JSON.parse(m) as { data: { updatedTime: number; size: string } });
    assert.deepEqual(
      data.map((d) => [d.data.updatedTime, Number(d.data.size)]),
      [
        [1_999, 3],
        [2_000, 4],
        [4_500, 5],
      ],
    );
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
    // Simulated time jumps to a second the model starts 3 BTCUSDT liquidations within 2 min
    // of (2 s of wall time at 60×): how many fall in the next seconds otherwise depends on
    // the hour the test runs (at this seed 1.4 % of 480 s spans held fewer than 3).
    sim.clock.advanceTo(truth.liquidationBurstStart('BTCUSDT', sim.clock.now() + 1000, 3, 2 * MINUTE_MS));
    const got = [] as { timestamp?: number; price?: number; contracts?: number; side?: string }[];
    const deadline = Date.now() + 20_000;
    while (got.length < 3 && Date.now() < deadline)
      got.push(...(await ex.watchLiquidations('BTC/USDT:USDT')));
    assert.ok(got.length >= 3, `only ${got.length}`);
    for (const l of got) {
      const m = truth
        .liquidations('BTCUSDT', l.timestamp as number, (l.timestamp as number) + 1)
        .find((e) => e.price === l.price);
      assert.ok(m, `no model event at ${l.timestamp} priced ${l.price}`);
      assert.equal(l.contracts, m.qty);
      assert.equal(l.side, m.side === 'SELL' ? 'buy' : 'sell');
    }
  });
});
