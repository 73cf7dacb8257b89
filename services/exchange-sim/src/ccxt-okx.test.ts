import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { pointExchangeAt } from '@perpflow/venue-endpoints';
import ccxt from 'ccxt';
import { WebSocket } from 'ws';
import { createMarketModel, HOUR_MS, MINUTE_MS } from './market/index.js';
import { type SimServer, startSimServer } from './server.js';
import { OkxLimiter, okxContractValue, okxWindow } from './venues/okx.js';

/** Unmodified ccxt.pro.okx (default options: it also asks for SPOT, FUTURES and OPTION instruments). */

const SEED = 7;
const N = 30;
type Ex = InstanceType<typeof ccxt.pro.okx>;
const recorded = JSON.parse(readFileSync(new URL('./venues/recorded/okx.json', import.meta.url), 'utf8')) as {
  rest: Record<string, { body: { data: unknown[] }; status?: number }>;
  ws: Record<string, { push: { data: unknown[] }; ack?: unknown }>;
};

async function client(sim: SimServer, extra: Record<string, unknown> = {}): Promise<Ex> {
  const ex = new ccxt.pro.okx({ enableRateLimit: false, timeout: 20_000, ...extra });
  await pointExchangeAt(ex, { restBaseUrl: sim.url, wsBaseUrl: sim.wsUrl });
  return ex;
}

/** Field names and value types, recursively (arrays of scalars by position, objects by key). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.every((x) => x === null || typeof x !== 'object') ? v.map(shape) : ['array'];
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, Array.isArray(x) ? 'array' : shape(x)]),
    );
  return typeof v;
}

async function getJson(
  sim: SimServer,
  path: string,
): Promise<{ status: number; body: { code: string; data: unknown[] } }> {
  const res = await fetch(`${sim.url}/www.okx.com${path}`);
  return { status: res.status, body: (await res.json()) as { code: string; data: unknown[] } };
}

describe('ccxt okx against the simulator', () => {
  let sim: SimServer;
  let ex: Ex;
  const truth = createMarketModel({ seed: SEED, symbolCount: N });
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: N },
      limits: { okx: { factor: 100 } },
    });
    ex = await client(sim);
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  it('loadMarkets asks public/instruments for SPOT, FUTURES, SWAP and two OPTION underlyings, and finds the USDT swaps', () => {
    assert.equal((sim.state().requests as { byVenue: Record<string, number> }).byVenue.okx, 5);
    const swaps = Object.values(ex.markets ?? {}).filter((m) => m?.swap && m.linear);
    assert.equal(swaps.length, N);
    const btc = ex.market('BTC/USDT:USDT');
    assert.equal(btc.id, 'BTC-USDT-SWAP');
    assert.equal(btc.settle, 'USDT');
    assert.equal(btc.contractSize, okxContractValue(truth.spec('BTCUSDT')));
    assert.equal(btc.precision.price, 10 ** -truth.spec('BTCUSDT').priceDecimals);
  });

  it('fetchOHLCV: a recent since goes to market/candles, a deep one to history-candles (≤ 300 rows); both equal the model', async () => {
    const now = Math.floor(sim.clock.now() / MINUTE_MS) * MINUTE_MS;
    const recent = now - 40 * MINUTE_MS;
    const asRows = (from: number, to: number) =>
      truth
        .candles('ETHUSDT', MINUTE_MS, from, to)
        .map((c) => [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume]);
    assert.deepEqual(
      await ex.fetchOHLCV('ETH/USDT:USDT', '1m', recent, 20),
      asRows(recent, recent + 19 * MINUTE_MS),
    );
    const deep = now - 3000 * MINUTE_MS;
    const page = await ex.fetchOHLCV('ETH/USDT:USDT', '1m', deep, 1000);
    assert.equal(page.length, 300, 'ccxt clamps to 300 and the venue serves 300');
    assert.deepEqual(page, asRows(deep, deep + 299 * MINUTE_MS));
    const hours = await ex.fetchOHLCV('ETH/USDT:USDT', '1h', now - 100 * HOUR_MS, 24);
    assert.deepEqual(
      hours,
      truth
        .candles('ETHUSDT', HOUR_MS, now - 100 * HOUR_MS, now - 76 * HOUR_MS - 1)
        .map((c) => [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume]),
    );
  });

  it('candles page backward: after = "earlier than", before = "newer than", newest first, the open candle confirm "0"', async () => {
    const now = sim.clock.now();
    const open = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const X = open - 50 * MINUTE_MS;
    const times = (rows: unknown[]) => rows.map((r) => Number((r as string[])[0]));
    const a = await getJson(sim, `/api/v5/market/candles?instId=BTC-USDT-SWAP&bar=1m&after=${X}&limit=5`);
    assert.deepEqual(
      times(a.body.data),
      [1, 2, 3, 4, 5].map((k) => X - k * MINUTE_MS),
    );
    assert.ok(a.body.data.every((r) => (r as string[])[8] === '1'));
    // `before` alone answers the newest rows (the docs: "The latest data will be returned").
    const b = await getJson(sim, `/api/v5/market/candles?instId=BTC-USDT-SWAP&bar=1m&before=${X}&limit=3`);
    const bt = times(b.body.data);
    assert.ok(bt[0] === open || bt[0] === open + MINUTE_MS, `newest row opens now, got ${bt[0]}`);
    assert.equal((b.body.data[0] as string[])[8], '0');
    const big = await getJson(sim, '/api/v5/market/history-candles?instId=BTC-USDT-SWAP&bar=1m&limit=1000');
    assert.equal(big.body.data.length, 300);
    // market/candles keeps only the latest 1,440 entries; history-candles reaches further.
    const old = open - 2000 * MINUTE_MS;
    assert.deepEqual(
      (await getJson(sim, `/api/v5/market/candles?instId=BTC-USDT-SWAP&after=${old}`)).body.data,
      [],
    );
    assert.equal(
      (await getJson(sim, `/api/v5/market/history-candles?instId=BTC-USDT-SWAP&after=${old}`)).body.data
        .length,
      100,
    );
    const bad = await getJson(sim, '/api/v5/market/candles?instId=BTC-USDT-SWAP&bar=1h');
    assert.deepEqual([bad.status, bad.body.code], [400, '51000']);
    const none = await getJson(sim, '/api/v5/market/candles?instId=NOPE-USDT-SWAP');
    assert.deepEqual([none.status, none.body.code], [200, '51001']);
  });

  it('fetchOpenInterest: openInterestAmount is in CONTRACTS (oi); the coin amount is info.oiCcy', async () => {
    const oi = await ex.fetchOpenInterest('SOL/USDT:USDT');
    const model = truth.openInterest('SOLUSDT', oi.timestamp as number);
    assert.equal(Number((oi.info as Record<string, string>).oiCcy), model.openInterest);
    assert.equal(
      oi.openInterestAmount,
      Math.round(model.openInterest / okxContractValue(truth.spec('SOLUSDT'))),
    );
    assert.equal(oi.openInterestValue, model.openInterestValue);
  });

  it('fetchOpenInterestHistory calls rubik open-interest-volume (per coin, in USD); open-interest-history pages backward by end', async () => {
    const since = sim.clock.now() - 6 * HOUR_MS;
    const hist = await ex.fetchOpenInterestHistory('BTC/USDT:USDT', '1h', since);
    assert.ok(hist.length >= 5);
    for (const h of hist) {
      const t = h.timestamp as number;
      assert.equal(t % HOUR_MS, 0);
      assert.ok(t >= since);
      assert.equal(h.openInterestValue, truth.openInterest('BTCUSDT', t).openInterestValue);
      assert.equal(h.openInterestAmount, undefined, 'ccxt gives no amount from this endpoint');
    }
    await assert.rejects(ex.fetchOpenInterestHistory('BTC/USDT:USDT', '15m'), ccxt.BadRequest);
    const E = Math.floor(sim.clock.now() / HOUR_MS) * HOUR_MS - 10 * HOUR_MS;
    const res = (await ex.publicGetRubikStatContractsOpenInterestHistory({
      instId: 'BTC-USDT-SWAP',
      period: '1H',
      end: E,
      limit: 5,
    })) as { data: string[][] };
    assert.deepEqual(
      res.data,
      [1, 2, 3, 4, 5].map((k) => {
        const p = truth.openInterest('BTCUSDT', E - k * HOUR_MS);
        const s = truth.spec('BTCUSDT');
        return [
          String(E - k * HOUR_MS),
          String(Math.round(p.openInterest * 10 ** s.qtyDecimals)),
          p.openInterest.toFixed(s.qtyDecimals),
          p.openInterestValue.toFixed(2),
        ];
      }),
    );
    const tooOld = E - 1500 * HOUR_MS;
    const gone = await getJson(
      sim,
      `/api/v5/rubik/stat/contracts/open-interest-history?instId=BTC-USDT-SWAP&period=1H&end=${tooOld}`,
    );
    assert.deepEqual(gone.body.data, [], 'only the latest 1,440 entries per period');
  });

  it('fetchFundingRate(s): fundingTime is the next settlement on the symbol grid, interval from nextFundingTime', async () => {
    const r = await ex.fetchFundingRate('SOL/USDT:USDT');
    const interval = truth.fundingIntervalMs('SOLUSDT');
    assert.equal(interval, 4 * HOUR_MS);
    const ts = Number((r.info as Record<string, string>).ts);
    const p = truth.premiumIndex('SOLUSDT', ts);
    assert.equal(r.fundingTimestamp, p.nextFundingTimeMs);
    assert.equal(r.nextFundingTimestamp, p.nextFundingTimeMs + interval);
    assert.equal(r.interval, '4h');
    assert.equal(r.fundingRate, p.lastFundingRate);
    const all = await ex.fetchFundingRates();
    assert.equal(Object.keys(all).length, N);
    assert.equal(all['BTC/USDT:USDT']?.interval, '8h');
  });

  it('fetchFundingRateHistory reads realizedRate and, like the venue, answers the NEWEST rows after since; `after` pages from since', async () => {
    const H8 = 8 * HOUR_MS;
    // The newest rows end at the latest 8 h slot: simulated time moves to the middle of a slot
    // first, so none ends between `latest` and the answer (~2e-8 of runs did).
    sim.clock.advanceToMiddleOf(H8);
    const since = sim.clock.now() - 5 * 86_400_000;
    const latest = Math.floor(sim.clock.now() / H8) * H8;
    const newest = await ex.fetchFundingRateHistory('BTC/USDT:USDT', since, 3);
    assert.deepEqual(
      newest.map((h) => [h.timestamp, h.fundingRate]),
      truth.fundingHistory('BTCUSDT', latest - 2 * H8, latest).map((f) => [f.fundingTimeMs, f.rate]),
    );
    for (const h of newest)
      assert.notEqual(
        Number((h.info as Record<string, string>).fundingRate),
        h.fundingRate,
        'predicted ≠ settled',
      );
    const fromSince = await ex.fetchFundingRateHistory('BTC/USDT:USDT', since, 3, { after: since + 3 * H8 });
    assert.deepEqual(
      fromSince.map((h) => [h.timestamp, h.fundingRate]),
      truth.fundingHistory('BTCUSDT', since, since + 3 * H8 - 1).map((f) => [f.fundingTimeMs, f.rate]),
    );
    const sol = await ex.fetchFundingRateHistory('SOL/USDT:USDT', undefined, 12);
    assert.equal(sol.length, 12);
    for (const h of sol) assert.equal((h.timestamp as number) % (4 * HOUR_MS), 0);
  });

  it('mark price (public/mark-price) and index (market/index-tickers) equal the model', async () => {
    const mark = await ex.fetchMarkPrice('BTC/USDT:USDT');
    const ts = Number((mark.info as Record<string, string>).ts);
    assert.equal(mark.markPrice, truth.premiumIndex('BTCUSDT', ts).markPrice);
    const idx = (await ex.publicGetMarketIndexTickers({ instId: 'BTC-USDT' })) as {
      data: Record<string, string>[];
    };
    const row = idx.data[0] as Record<string, string>;
    assert.equal(Number(row.idxPx), truth.premiumIndex('BTCUSDT', Number(row.ts)).indexPrice);
  });

  it('answers with the field names and value types of the recorded OKX payloads', async () => {
    const now = sim.clock.now();
    const cases: [string, string][] = [
      ['public/instruments', '/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP'],
      ['market/candles', '/api/v5/market/candles?instId=BTC-USDT-SWAP'],
      ['public/open-interest', '/api/v5/public/open-interest?instType=SWAP&instId=BTC-USDT-SWAP'],
      [
        'rubik/stat/contracts/open-interest-history',
        '/api/v5/rubik/stat/contracts/open-interest-history?instId=BTC-USDT-SWAP',
      ],
      [
        'rubik/stat/contracts/open-interest-volume',
        `/api/v5/rubik/stat/contracts/open-interest-volume?ccy=BTC&begin=${now - HOUR_MS}`,
      ],
      ['public/funding-rate', '/api/v5/public/funding-rate?instId=BTC-USDT-SWAP'],
      ['public/funding-rate-history', '/api/v5/public/funding-rate-history?instId=BTC-USDT-SWAP&limit=2'],
      ['public/mark-price', '/api/v5/public/mark-price?instType=SWAP&instId=BTC-USDT-SWAP'],
      ['market/index-tickers', '/api/v5/market/index-tickers?instId=BTC-USDT'],
      ['public/time', '/api/v5/public/time'],
    ];
    for (const [name, path] of cases) {
      const got = await getJson(sim, path);
      const want = recorded.rest[name]?.body;
      assert.ok(want, name);
      assert.deepEqual(Object.keys(got.body).sort(), Object.keys(want).sort(), `${name}: envelope`);
      assert.ok(got.body.data.length > 0, `${name}: no data`);
      assert.deepEqual(shape(got.body.data[0]), shape(want.data[0]), name);
    }
  });
});

describe('okx rate limits', () => {
  it('past an endpoint limit answers 429 {"code":"50011"}: ccxt raises RateLimitExceeded; the limit is per instId', async () => {
    const strict = await startSimServer({ port: 0, market: { seed: SEED, symbolCount: 5 } });
    const ex2 = await client(strict, { options: { fetchMarkets: { types: ['swap'] } } });
    try {
      await ex2.loadMarkets();
      const results = await Promise.allSettled(
        Array.from({ length: 25 }, () => ex2.fetchOpenInterest('BTC/USDT:USDT')),
      );
      const rejected = results.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
      assert.equal(
        results.length - rejected.length,
        20,
        'public/open-interest: 20 requests per 2 s per instId',
      );
      for (const x of rejected) {
        assert.ok(x.reason instanceof ccxt.RateLimitExceeded, String(x.reason));
        assert.match(String(x.reason.message), /"code":"50011"/);
        assert.match(String(x.reason.message), /Too Many Requests/);
      }
      const eth = await ex2.fetchOpenInterest('ETH/USDT:USDT');
      assert.ok(eth.openInterestAmount !== undefined, 'another instId has its own count');
      strict.applyFaults({ venue: 'okx', rateLimitedRate: 1 });
      await assert.rejects(ex2.fetchTime(), ccxt.RateLimitExceeded);
      assert.equal((strict.state().faultCounts as Record<string, number>).okx_rate_limited_429, 6);
    } finally {
      await ex2.close();
      await strict.close();
    }
  });

  it('the window slides over 2 s per IP, endpoint and key, and the refusal matches the recorded 50011', () => {
    const l = new OkxLimiter();
    const req = (wallMs: number, ip = 'a', instId = 'BTC-USDT-SWAP') => ({
      ip,
      wallMs,
      nowMs: wallMs,
      path: '/api/v5/public/funding-rate',
      query: new URLSearchParams({ instId }),
      body: undefined,
    });
    for (let i = 0; i < 10; i++) assert.equal(l.admit(req(1_000 + i * 100)).refusal, undefined);
    const no = l.admit(req(2_500)).refusal;
    assert.ok(no);
    assert.equal(no.status, recorded.rest['rate-limited']?.status);
    assert.deepEqual(no.body, recorded.rest['rate-limited']?.body);
    assert.equal(l.admit(req(2_500, 'b')).refusal, undefined, 'per IP');
    assert.equal(l.admit(req(2_500, 'a', 'ETH-USDT-SWAP')).refusal, undefined, 'per instId');
    assert.equal(l.admit(req(3_000)).refusal, undefined, 'the first request left the window');
    assert.ok(l.admit(req(3_050)).refusal);
    assert.equal(new OkxLimiter({ factor: 2 }).admit(req(0)).refusal, undefined);
  });

  it('okxWindow: exclusive bounds, newest `limit` between them', () => {
    assert.deepEqual(okxWindow(undefined, 1000, 3, 100, 0, 5000), [700, 900]);
    assert.deepEqual(okxWindow(250, undefined, 3, 100, 0, 5000), [4800, 5000]);
    assert.deepEqual(okxWindow(250, 700, 10, 100, 0, 5000), [300, 600]);
    assert.equal(okxWindow(600, 700, 10, 100, 0, 5000), undefined);
  });
});

describe('ccxt.pro okx websockets (60× speed)', () => {
  let sim: SimServer;
  let ex: Ex;
  const opts = { seed: SEED, symbolCount: 10, liquidationBurstsPerHour: 60 };
  const truth = createMarketModel(opts);
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: opts,
      clock: { speed: 60 },
      pushIntervalMs: 100,
      limits: { okx: { factor: 100 } },
    });
    ex = await client(sim, { options: { fetchMarkets: { types: ['swap'] } } });
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  /** Raw frames of one connection, until `done` holds or the deadline passes. */
  async function frames(
    path: string,
    subscribe: unknown,
    done: (msgs: unknown[]) => boolean,
  ): Promise<unknown[]> {
    const ws = new WebSocket(`${sim.wsUrl}/ws.okx.com${path}`);
    const msgs: unknown[] = [];
    ws.on('message', (d) => msgs.push(String(d) === 'pong' ? 'pong' : JSON.parse(String(d))));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('ping');
    ws.send(JSON.stringify(subscribe));
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && !done(msgs)) await new Promise((r) => setTimeout(r, 50));
    ws.close();
    return msgs;
  }

  it('watchOHLCV (candle1m on /ws/v5/business) receives a closed candle equal to the model', async () => {
    const deadline = Date.now() + 8000;
    let stored: number[][] = [];
    while (Date.now() < deadline && stored.length < 3) {
      await ex.watchOHLCV('ETH/USDT:USDT', '1m');
      stored = (ex.ohlcvs['ETH/USDT:USDT']?.['1m'] ?? []) as unknown as number[][];
    }
    assert.ok(stored.length >= 3, 'no closed candle in time');
    const closed = stored.at(-2) as number[];
    const [c] = truth.candles('ETHUSDT', MINUTE_MS, closed[0] as number, closed[0] as number);
    assert.deepEqual(closed, [c?.openTimeMs, c?.open, c?.high, c?.low, c?.close, c?.volume]);
    const multi = await ex.watchOHLCVForSymbols([
      ['BTC/USDT:USDT', '1m'],
      ['SOL/USDT:USDT', '5m'],
    ]);
    assert.ok(Object.keys(multi).length >= 1);
  });

  it('the candle push carries confirm "1" on the closed candle; candles are refused on /ws/v5/public', async () => {
    const isClosed = (m: unknown) =>
      typeof m === 'object' && m !== null && ((m as { data?: string[][] }).data?.[0]?.[8] ?? '') === '1';
    const msgs = await frames(
      '/ws/v5/business',
      { id: '7', op: 'subscribe', args: [{ channel: 'candle1m', instId: 'BTC-USDT-SWAP' }] },
      (m) => m.some(isClosed),
    );
    assert.equal(msgs[0], 'pong');
    assert.deepEqual(msgs[1], {
      id: '7',
      event: 'subscribe',
      arg: { channel: 'candle1m', instId: 'BTC-USDT-SWAP' },
      connId: (msgs[1] as { connId: string }).connId,
    });
    const push = msgs.find(isClosed) as { arg: unknown; data: string[][] };
    assert.ok(push, 'no closed candle pushed');
    assert.deepEqual(shape(push), shape(recorded.ws['business/candle']?.push));
    const row = push.data[0] as string[];
    const [c] = truth.candles('BTCUSDT', MINUTE_MS, Number(row[0]), Number(row[0]));
    assert.deepEqual(row.slice(1, 5).map(Number), [c?.open, c?.high, c?.low, c?.close]);
    assert.equal(Number(row[6]), c?.volume);
    const refused = await frames(
      '/ws/v5/public',
      { op: 'subscribe', args: [{ channel: 'candle1m', instId: 'BTC-USDT-SWAP' }] },
      (m) => m.length >= 2,
    );
    assert.equal((refused[1] as { event: string; code: string }).code, '60018');
  });

  it('liquidation-orders (instType SWAP, /ws/v5/public): bkPx and sz equal the model, side is the order side', async () => {
    // A second the model starts 6 liquidations of the 10 symbols within 2 min of (2 s of wall
    // time at 60×), so that two pushes come whatever the hour the test runs.
    sim.clock.advanceTo(truth.liquidationBurstStart(undefined, sim.clock.now() + 1000, 6, 2 * MINUTE_MS));
    const msgs = await frames(
      '/ws/v5/public',
      { op: 'subscribe', args: [{ channel: 'liquidation-orders', instType: 'SWAP' }] },
      (m) => m.filter((x) => typeof x === 'object' && x !== null && 'data' in x).length >= 2,
    );
    const pushes = msgs.filter((x) => typeof x === 'object' && x !== null && 'data' in x) as {
      data: { instId: string; details: Record<string, string>[] }[];
    }[];
    assert.ok(pushes.length >= 2, 'no liquidations pushed');
    assert.deepEqual(
      shape(pushes[0]?.data[0]),
      shape(recorded.ws['public/liquidation-orders']?.push.data[0]),
    );
    for (const p of pushes)
      for (const entry of p.data)
        for (const d of entry.details) {
          const id = entry.instId.replace('-USDT-SWAP', 'USDT');
          const t = Number(d.ts);
          // A second's latest liquidation is pushed: of two in one millisecond (two bursts),
          // the model's last (the first, taken before, was the other event in ~0.01 % of runs).
          const ev = truth.liquidations(id, t, t + 1).at(-1);
          assert.ok(ev, `no model event at ${t}`);
          const s = truth.spec(id);
          assert.equal(Number(d.bkPx), ev.price);
          assert.equal(Number(d.sz), Math.round(ev.qty / okxContractValue(s)));
          assert.equal(d.side, ev.side === 'SELL' ? 'sell' : 'buy');
          assert.ok(d.posSide === 'net' || d.posSide === (ev.side === 'SELL' ? 'long' : 'short'));
        }
  });

  it('watchLiquidations (emulated over liquidation-orders) gives the model events in contracts at bkPx', async () => {
    // As above, BTCUSDT alone: 0.65 % of 480 s spans at this seed held fewer than 2.
    sim.clock.advanceTo(truth.liquidationBurstStart('BTCUSDT', sim.clock.now() + 1000, 2, 2 * MINUTE_MS));
    const got = [] as { timestamp?: number; price?: number; contracts?: number; side?: string }[];
    const deadline = Date.now() + 20_000;
    while (got.length < 2 && Date.now() < deadline)
      got.push(...(await ex.watchLiquidations('BTC/USDT:USDT')));
    assert.ok(got.length >= 2, `only ${got.length}`);
    const s = truth.spec('BTCUSDT');
    for (const l of got) {
      // The model's last at that millisecond, as above.
      const ev = truth.liquidations('BTCUSDT', l.timestamp as number, (l.timestamp as number) + 1).at(-1);
      assert.ok(ev, `no model event at ${l.timestamp}`);
      assert.equal(l.price, ev.price);
      assert.equal(l.contracts, Math.round(ev.qty / okxContractValue(s)));
      assert.equal(l.side, ev.side === 'SELL' ? 'sell' : 'buy');
    }
  });
});
