import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { pointExchangeAt } from '@perpflow/venue-endpoints';
import ccxt from 'ccxt';
import { WebSocket } from 'ws';
import { createMarketModel, MINUTE_MS } from './market/index.js';
import type { Candle } from './market/types.js';
import { type SimServer, startSimServer } from './server.js';
import {
  HyperliquidLimiter,
  hourlyFunding,
  hyperliquidPx,
  hyperliquidSz,
  infoWeight,
} from './venues/hyperliquid.js';

/** Unmodified ccxt.pro.hyperliquid (default options: it also asks for spot and builder-dex markets). */

const SEED = 11;
const H = 3_600_000;
type Ex = InstanceType<typeof ccxt.pro.hyperliquid>;
const recorded = JSON.parse(
  readFileSync(new URL('./venues/recorded/hyperliquid.json', import.meta.url), 'utf8'),
) as Record<string, { response?: unknown; message?: unknown }>;

/** One recorded payload by key (fails the test if the file lacks it). */
function rec(key: string): { response?: unknown; message?: unknown } {
  const r = recorded[key];
  if (!r) throw new Error(`recorded/hyperliquid.json has no '${key}'`);
  return r;
}

async function client(sim: SimServer, extra: Record<string, unknown> = {}): Promise<Ex> {
  const ex = new ccxt.pro.hyperliquid({ enableRateLimit: false, timeout: 20_000, ...extra });
  await pointExchangeAt(ex, { restBaseUrl: sim.url, wsBaseUrl: sim.wsUrl });
  return ex;
}

const post = (sim: SimServer, body: unknown) =>
  fetch(`${sim.url}/api.hyperliquid.xyz/info`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** The venue's candle as ccxt parses it: prices rounded to Hyperliquid's 5 significant figures. */
const asVenue = (c: Candle, sz: number) => [
  c.openTimeMs,
  Number(hyperliquidPx(c.open, sz)),
  Number(hyperliquidPx(c.high, sz)),
  Number(hyperliquidPx(c.low, sz)),
  Number(hyperliquidPx(c.close, sz)),
  Number(hyperliquidSz(c.volume, sz)),
];

/** Field name → JSON type ('array', 'null' or typeof), to compare shapes with recorded payloads. */
const shape = (o: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v]),
  );

describe('ccxt hyperliquid against the simulator (frozen clock)', () => {
  let sim: SimServer;
  let ex: Ex;
  const truth = createMarketModel({ seed: SEED, symbolCount: 50 });
  // Mid-minute, frozen: mark, oracle and open interest are the model's at exactly T0.
  const T0 = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 7 * MINUTE_MS + 30_000;
  const openStart = T0 - 30_000;
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 50 },
      clock: { startMs: T0, speed: 0 },
      limits: { hyperliquid: { weightPerMinute: 1e9 } },
    });
    ex = await client(sim);
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  it('loadMarkets asks spotMeta, spotMetaAndAssetCtxs, metaAndAssetCtxs and perpDexs (4 POSTs) and finds the perps in USDC', async () => {
    const state = sim.state() as { requests: { byVenue: Record<string, number> } };
    assert.equal(state.requests.byVenue.hyperliquid, 4);
    const metrics = await sim.metrics.registry.metrics();
    for (const endpoint of ['spotMeta', 'spotMetaAndAssetCtxs', 'metaAndAssetCtxs', 'perpDexs'])
      assert.match(metrics, new RegExp(`venue="hyperliquid",endpoint="${endpoint}",status="200"[^}]*} 1\\n`));
    const swaps = Object.values(ex.markets ?? {}).filter((m) => m?.swap);
    assert.equal(swaps.length, 50);
    assert.equal(Object.values(ex.markets ?? {}).filter((m) => m?.spot).length, 0, 'spot answers empty');
    const btc = ex.market('BTC/USDC:USDC');
    assert.equal(btc.settle, 'USDC');
    assert.equal(btc.linear, true);
    assert.equal(btc.id, '0', "ccxt's market id is the asset index");
    assert.equal(btc.precision.amount, 10 ** -truth.spec('BTCUSDT').qtyDecimals);
  });

  it('fetchOHLCV pages forward from since and equals the model at five significant figures', async () => {
    const since = openStart - 1500 * MINUTE_MS;
    const first = (await ex.fetchOHLCV('BTC/USDC:USDC', '1m', since, 1000)) as number[][];
    assert.equal(first.length, 1000);
    const second = (await ex.fetchOHLCV(
      'BTC/USDC:USDC',
      '1m',
      (first.at(-1)?.[0] as number) + MINUTE_MS,
      400,
    )) as number[][];
    const sz = truth.spec('BTCUSDT').qtyDecimals;
    assert.deepEqual(
      [...first, ...second],
      truth.candles('BTCUSDT', MINUTE_MS, since, since + 1399 * MINUTE_MS).map((c) => asVenue(c, sz)),
    );
    // Five significant figures: BTC near 60 000 has no decimals left.
    for (const row of first) assert.equal(row[4], Math.round(row[4] as number));
  });

  it('candleSnapshot keeps only the most recent 5000 candles, the open one included and partial', async () => {
    const res = await post(sim, {
      type: 'candleSnapshot',
      req: { coin: 'ETH', interval: '1m', startTime: openStart - 6000 * MINUTE_MS, endTime: T0 },
    });
    const rows = (await res.json()) as { t: number; T: number; c: string; v: string }[];
    assert.equal(rows.length, 5000);
    assert.equal(rows[0]?.t, openStart - 4999 * MINUTE_MS);
    const last = rows.at(-1);
    assert.equal(last?.t, openStart);
    assert.equal(last?.T, openStart + MINUTE_MS - 1);
    const partial = truth.partialCandle('ETHUSDT', MINUTE_MS, openStart, T0);
    const sz = truth.spec('ETHUSDT').qtyDecimals;
    assert.equal(last?.c, hyperliquidPx(partial.close, sz));
    assert.equal(last?.v, hyperliquidSz(partial.volume, sz));
    // Through ccxt: a since older than the bound starts at the oldest candle kept.
    const viaCcxt = (await ex.fetchOHLCV(
      'ETH/USDC:USDC',
      '1m',
      openStart - 6000 * MINUTE_MS,
      5000,
    )) as number[][];
    assert.equal(viaCcxt.length, 5000);
    assert.equal(viaCcxt[0]?.[0], openStart - 4999 * MINUTE_MS);
    // A mid-minute startTime starts at the next open time; endTime bounds open times.
    const window = (await (
      await post(sim, {
        type: 'candleSnapshot',
        req: {
          coin: 'ETH',
          interval: '1m',
          startTime: openStart - 10 * MINUTE_MS + 30_000,
          endTime: openStart - 5 * MINUTE_MS,
        },
      })
    ).json()) as { t: number }[];
    assert.deepEqual(
      window.map((r) => r.t),
      [9, 8, 7, 6, 5].map((k) => openStart - k * MINUTE_MS),
    );
  });

  it("fetchOpenInterest(s) are the model's one-side open interest in coins; no timestamp, no value", async () => {
    const oi = await ex.fetchOpenInterest('SOL/USDC:USDC');
    assert.equal(oi.openInterestAmount, truth.openInterest('SOLUSDT', T0).openInterest);
    assert.equal(oi.openInterestValue, undefined);
    assert.equal(oi.timestamp, undefined);
    const all = await ex.fetchOpenInterests();
    assert.equal(Object.keys(all).length, 50);
    assert.equal(all['S007/USDC:USDC']?.openInterestAmount, truth.openInterest('S007USDT', T0).openInterest);
  });

  it('fetchFundingRates: funding is the hourly rate of the next hour, mark the model mark, index the oracle price', async () => {
    const rates = await ex.fetchFundingRates();
    assert.equal(Object.keys(rates).length, 50);
    for (const [symbol, id] of [
      ['ETH/USDC:USDC', 'ETHUSDT'],
      ['S012/USDC:USDC', 'S012USDT'],
    ] as const) {
      const r = rates[symbol];
      assert.ok(r, symbol);
      const sz = truth.spec(id).qtyDecimals;
      const p = truth.premiumIndex(id, T0);
      assert.equal(r.fundingRate, hourlyFunding(truth, id, Math.floor(T0 / H) * H + H).rate);
      assert.equal(r.markPrice, Number(hyperliquidPx(p.markPrice, sz)));
      assert.equal(r.indexPrice, Number(hyperliquidPx(p.indexPrice, sz)));
      assert.equal(r.interval, '1h');
    }
    const one = await ex.fetchFundingRate('BTC/USDC:USDC');
    assert.equal(one.fundingRate, hourlyFunding(truth, 'BTCUSDT', Math.floor(T0 / H) * H + H).rate);
  });

  it('fetchFundingRateHistory: hourly for every perp, a few ms after the hour, 500 per answer, paged from startTime', async () => {
    const since = T0 - 40 * 86_400_000;
    const first = await ex.fetchFundingRateHistory('BTC/USDC:USDC', since);
    assert.equal(first.length, 500);
    const firstHour = Math.ceil(since / H) * H;
    first.forEach((f, i) => {
      const hour = firstHour + i * H;
      const offset = (f.timestamp as number) - hour;
      assert.ok(offset > 0 && offset < 100, `time ${f.timestamp} is ${offset} ms after its hour`);
      assert.equal(f.fundingRate, hourlyFunding(truth, 'BTCUSDT', hour).rate);
    });
    const next = await ex.fetchFundingRateHistory('BTC/USDC:USDC', (first.at(-1)?.timestamp as number) + 1);
    assert.equal(Math.floor((next[0]?.timestamp as number) / H) * H, firstHour + 500 * H);
    // A symbol the model settles every 4 h pays a quarter of that settlement each hour.
    const settle = Math.floor(T0 / (4 * H)) * 4 * H;
    assert.equal(truth.spec('SOLUSDT').fundingIntervalMs, 4 * H);
    const sol = await ex.fetchFundingRateHistory('SOL/USDC:USDC', settle - 3 * H);
    assert.deepEqual(
      sol.slice(0, 4).map((f) => f.fundingRate),
      Array.from({ length: 4 }, () =>
        Number((truth.fundingSettlement('SOLUSDT', settle).rate / 4).toFixed(8)),
      ),
    );
  });

  it('has no open-interest history and no liquidations, in ccxt and in the simulator', async () => {
    assert.equal(ex.has.fetchOpenInterestHistory, false);
    assert.equal(ex.has.fetchLiquidations, false);
    assert.ok(!ex.has.watchLiquidations && !ex.has.watchLiquidationsForSymbols, 'no liquidation stream');
    assert.ok(!ex.has.watchOHLCVForSymbols, 'ccxt 4.5.84 offers watchOHLCV per symbol only');
    await assert.rejects(ex.fetchOpenInterestHistory('BTC/USDC:USDC', '1h'), ccxt.NotSupported);
    const unknown = await post(sim, { type: 'openInterestHistory', coin: 'BTC' });
    assert.equal(unknown.status, 422);
  });

  it('answers like the recorded payloads: same field names and value types', async () => {
    const candles = (await (
      await post(sim, {
        type: 'candleSnapshot',
        req: { coin: 'BTC', interval: '15m', startTime: openStart - 3 * H, endTime: T0 },
      })
    ).json()) as Record<string, unknown>[];
    const inline = (rec('candleSnapshotInline').response as Record<string, unknown>[])[0] ?? {};
    assert.deepEqual(shape(candles[0] ?? {}), shape(inline));
    // ccxt's static capture has the same field names (it writes t, T, n as strings).
    const captured = (rec('candleSnapshot').response as Record<string, unknown>[])[0] ?? {};
    assert.deepEqual(Object.keys(candles[0] ?? {}).sort(), Object.keys(captured).sort());

    const [meta, ctxs] = (await (await post(sim, { type: 'metaAndAssetCtxs' })).json()) as [
      { universe: Record<string, unknown>[] },
      Record<string, unknown>[],
    ];
    const [docMeta, docCtxs] = rec('metaAndAssetCtxs').response as [
      { universe: Record<string, unknown>[] },
      Record<string, unknown>[],
    ];
    const docUniverse = shape(docMeta.universe[0] ?? {});
    for (const [k, t] of Object.entries(docUniverse)) assert.equal(shape(meta.universe[0] ?? {})[k], t, k);
    assert.deepEqual(
      Object.fromEntries(Object.keys(shape(docCtxs[0] ?? {})).map((k) => [k, shape(ctxs[0] ?? {})[k]])),
      shape(docCtxs[0] ?? {}),
    );
    const withBase = rec('assetCtxWithBaseVolume').response as Record<string, unknown>;
    assert.equal(typeof ctxs[0]?.dayBaseVlm, typeof withBase.dayBaseVlm);

    const funding = (await (
      await post(sim, { type: 'fundingHistory', coin: 'ETH', startTime: T0 - 5 * H })
    ).json()) as Record<string, unknown>[];
    assert.equal(funding.length, 5);
    assert.deepEqual(
      shape(funding[0] ?? {}),
      shape((rec('fundingHistory').response as Record<string, unknown>[])[0] ?? {}),
    );

    assert.deepEqual(await (await post(sim, { type: 'perpDexs' })).json(), rec('perpDexs').response);
  });

  it('reads the JSON body: a body it cannot read is 422 text, bad JSON 400, a GET 405', async () => {
    const noType = await post(sim, { coin: 'BTC' });
    assert.equal(noType.status, 422);
    assert.match(noType.headers.get('content-type') ?? '', /text\/plain/);
    assert.equal(await noType.text(), 'Failed to deserialize the JSON body into the target type');
    const bad = await post(sim, '{"type": ');
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /request body is not JSON/);
    assert.equal((await fetch(`${sim.url}/api.hyperliquid.xyz/info`)).status, 405);
  });
});

describe('hyperliquid rate limit', () => {
  it('weighs info requests as the docs: 2, 20, 60, plus per 60 candles and per 20 funding rows', () => {
    const now = 1_750_000_020_000; // a minute boundary
    assert.equal(infoWeight({ type: 'exchangeStatus' }, now), 2);
    assert.equal(infoWeight({ type: 'metaAndAssetCtxs' }, now), 20);
    assert.equal(infoWeight({ type: 'userRole', user: '0x0' }, now), 60);
    const candles = (startTime: number) =>
      infoWeight(
        { type: 'candleSnapshot', req: { coin: 'BTC', interval: '1m', startTime, endTime: now } },
        now,
      );
    assert.equal(candles(now - 59 * MINUTE_MS), 21, '60 candles (the open one counted)');
    assert.equal(candles(0), 20 + Math.floor(5000 / 60), 'at most 5000 candles');
    assert.equal(infoWeight({ type: 'fundingHistory', coin: 'BTC', startTime: 0 }, now), 20 + 25);
  });

  it('counts weight per IP over a sliding minute and does not count a refused request', () => {
    const l = new HyperliquidLimiter({ weightPerMinute: 40 });
    assert.equal(l.check('a', 1_000, 20), true);
    assert.equal(l.check('a', 30_000, 20), true);
    assert.equal(l.check('a', 30_001, 2), false);
    assert.equal(l.check('b', 30_001, 20), true, 'per IP');
    assert.equal(l.check('a', 61_000, 20), true, 'the first request left the window');
    assert.equal(l.used('a', 61_000), 40);
  });

  it('past the weight answers HTTP 429 as plain text: ccxt raises RateLimitExceeded', async () => {
    const strict = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 5 },
      limits: { hyperliquid: { weightPerMinute: 100 } },
    });
    const ex = await client(strict);
    try {
      await ex.loadMarkets(); // 4 × 20
      await ex.fetchFundingRates(); // 20: 100 used
      await assert.rejects(ex.fetchFundingRates(), (err: unknown) => {
        assert.ok(err instanceof ccxt.RateLimitExceeded, String(err));
        assert.match(String((err as Error).message), /429/);
        return true;
      });
      const raw = await post(strict, { type: 'exchangeStatus' });
      assert.equal(raw.status, 429);
      assert.equal(await raw.text(), 'Too Many Requests');
      const counts = strict.state() as { faultCounts: Record<string, number> };
      assert.equal(counts.faultCounts.hyperliquid_429, 2);
    } finally {
      await ex.close();
      await strict.close();
    }
  });
});

describe('ccxt.pro hyperliquid websocket candles (60× speed)', () => {
  let sim: SimServer;
  let ex: Ex;
  const truth = createMarketModel({ seed: SEED, symbolCount: 10 });
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 10 },
      clock: { speed: 60 },
      pushIntervalMs: 100,
    });
    ex = await client(sim, { options: { fetchMarkets: { types: ['swap'] } } });
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  it('watchOHLCV receives the model candles; a closed candle ends with its final values', async () => {
    const sz = truth.spec('BTCUSDT').qtyDecimals;
    const deadline = Date.now() + 10_000;
    let closed: number[][] = [];
    while (closed.length < 3 && Date.now() < deadline) {
      await ex.watchOHLCV('BTC/USDC:USDC', '1m');
      // ccxt returns only the new updates; its cache holds every candle seen.
      const got = [...(ex.ohlcvs['BTC/USDC:USDC']?.['1m'] ?? [])] as number[][];
      const open = Math.floor(sim.clock.now() / MINUTE_MS) * MINUTE_MS;
      // Candles that closed after we subscribed (the first one seen may have been pushed open only).
      closed = got.slice(1).filter((c) => (c[0] as number) < open - MINUTE_MS);
    }
    assert.ok(closed.length >= 3, `only ${closed.length} closed candles`);
    for (const c of closed) assert.deepEqual(c, asVenue(truth.candle1m('BTCUSDT', c[0] as number), sz));
  });

  it('on the wire: subscriptionResponse echoes the subscription, ping gets pong, candles carry no closed flag', async () => {
    const ws = new WebSocket(`${sim.wsUrl}/api.hyperliquid.xyz/ws`);
    const messages: Record<string, unknown>[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const subscription = { type: 'candle', coin: 'ETH', interval: '1m' };
    ws.send(JSON.stringify({ method: 'subscribe', subscription }));
    ws.send(JSON.stringify({ method: 'ping' }));
    const candles = () =>
      messages.filter((m) => m.channel === 'candle').map((m) => m.data as Record<string, unknown>);
    const deadline = Date.now() + 10_000;
    while (new Set(candles().map((c) => c.t)).size < 4 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    ws.close();
    assert.deepEqual(messages[0], {
      channel: 'subscriptionResponse',
      data: { method: 'subscribe', subscription },
    });
    assert.ok(messages.some((m) => m.channel === 'pong' && Object.keys(m).length === 1));
    const wire = candles();
    const recordedPush = rec('wsCandle').message as { data: Record<string, unknown> };
    assert.deepEqual(shape(wire[0] ?? {}), shape(recordedPush.data));
    // Final values: the last push of a candle before the first push of a later one.
    const sz = truth.spec('ETHUSDT').qtyDecimals;
    const starts = [...new Set(wire.map((c) => c.t as number))];
    const finals = starts.slice(1, -1).map((t) => wire.filter((c) => c.t === t).at(-1));
    assert.ok(finals.length >= 2, `only ${finals.length} finished candles`);
    for (const f of finals) {
      const m = truth.candle1m('ETHUSDT', f?.t as number);
      assert.equal(f?.c, hyperliquidPx(m.close, sz));
      assert.equal(f?.v, hyperliquidSz(m.volume, sz));
      assert.equal(f?.T, (f?.t as number) + MINUTE_MS - 1);
    }
  });
});
