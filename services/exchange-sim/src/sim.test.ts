import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pointExchangeAt } from '@perpflow/venue-endpoints';
import ccxt from 'ccxt';
import { MarketModel, MINUTE } from './market/model.js';
import { type Simulator, startSimulator } from './server.js';

const NOW = Date.UTC(2024, 5, 15, 12, 0, 30);
let clock = NOW;
const opts = {
  host: '127.0.0.1',
  port: 0,
  seed: 7,
  symbols: 500,
  launchMs: Date.UTC(2023, 0, 1),
  weightLimit: 2_400,
  oiHistoryDays: 30,
  missingCandleRate: 0,
  liquidationPushMs: 100,
  now: () => clock,
};

type Ex = InstanceType<typeof ccxt.pro.binanceusdm>;
function client(sim: Simulator): Ex {
  const ex = new ccxt.pro.binanceusdm({ enableRateLimit: false });
  pointExchangeAt(ex as unknown as { urls: { api: unknown } }, {
    restBaseUrl: sim.url,
    wsBaseUrl: sim.url.replace('http', 'ws'),
  });
  return ex;
}

describe('market model', () => {
  it('is deterministic, random-access and OHLC-valid', () => {
    const a = new MarketModel({ seed: 1 });
    const b = new MarketModel({ seed: 1 });
    const t = Date.UTC(2024, 0, 10, 5, 0);
    const later = b.klines('ETHUSDT', t + 500 * MINUTE, t + 600 * MINUTE, 100);
    const all = a.klines('ETHUSDT', t, t + 600 * MINUTE, 600);
    assert.deepEqual(all.slice(500), later);
    for (const k of all)
      assert.ok(
        k.high >= Math.max(k.open, k.close) &&
          k.low <= Math.min(k.open, k.close) &&
          k.low > 0 &&
          k.volume >= 0,
      );
    assert.notDeepEqual(new MarketModel({ seed: 2 }).kline('ETHUSDT', t), a.kline('ETHUSDT', t));
    // Continuity across a day boundary: the next day opens where the previous closed.
    const dayEnd = Date.UTC(2024, 0, 11);
    assert.ok(
      Math.abs(a.kline('ETHUSDT', dayEnd)!.open / a.kline('ETHUSDT', dayEnd - MINUTE)!.close - 1) < 0.01,
    );
  });
});

describe('exchange-sim with unmodified ccxt binanceusdm', { timeout: 60_000 }, () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator(opts);
  });
  after(async () => {
    await sim.close();
  });

  it('lists 500 perpetuals that ccxt parses as linear swaps', async () => {
    const ex = client(sim);
    const markets = await ex.loadMarkets();
    const swaps = Object.values(markets).filter((m) => m?.swap && m?.linear);
    assert.equal(swaps.length, 500);
    assert.ok(markets['BTC/USDT:USDT']);
    await ex.close();
  });

  it('serves klines equal to the model, paged by since, ending with the open candle shown as of now', async () => {
    const ex = client(sim);
    const since = NOW - 2_000 * MINUTE;
    const first = await ex.fetchOHLCV('BTC/USDT:USDT', '1m', since, 1000);
    const second = await ex.fetchOHLCV('BTC/USDT:USDT', '1m', (first.at(-1)![0] as number) + MINUTE, 1000);
    const rows = [...first, ...second];
    assert.equal(rows.length, 2000);
    assert.equal(rows[1998]![0], Math.floor(NOW / MINUTE) * MINUTE - MINUTE);
    const expected = sim.model.klines('BTCUSDT', since, NOW, 5000);
    assert.deepEqual(
      rows.slice(0, 5),
      expected.slice(0, 5).map((k) => [k.openTime, k.open, k.high, k.low, k.close, k.volume]),
    );
    const open = rows.at(-1)!;
    assert.equal(open[0], Math.floor(NOW / MINUTE) * MINUTE);
    assert.equal(open[4], sim.model.priceAt('BTCUSDT', NOW), 'the open candle shows a close from the future');
    await ex.close();
  });

  it('serves open interest (current and 5m history), bulk premium index and funding history', async () => {
    const ex = client(sim);
    const oi = await ex.fetchOpenInterest('ETH/USDT:USDT');
    assert.equal(oi.openInterestAmount, sim.model.openInterest('ETHUSDT', NOW));
    const hist = await ex.fetchOpenInterestHistory('ETH/USDT:USDT', '5m', NOW - 3_600_000, 500);
    assert.equal(hist.length, 12);
    assert.equal(hist[0]!.timestamp, NOW - 3_600_000 + (300_000 - ((NOW - 3_600_000) % 300_000)));
    const rates = await ex.fetchFundingRates();
    assert.equal(Object.keys(rates).length, 500);
    const next = Math.ceil(NOW / 28_800_000) * 28_800_000;
    assert.equal(rates['SOL/USDT:USDT']!.fundingTimestamp, next);
    const fh = await ex.fetchFundingRateHistory('SOL/USDT:USDT', NOW - 3 * 86_400_000, 1000);
    assert.equal(fh.length, 9);
    for (const f of fh) assert.equal(f.fundingRate, sim.model.fundingRate('SOLUSDT', f.timestamp!));
    await ex.close();
  });

  it('pushes the model liquidations on the all-market forceOrder stream', async () => {
    const ex = client(sim);
    await (ex as unknown as { loadHttpProxyAgent(): Promise<void> }).loadHttpProxyAgent();
    await ex.loadMarkets();
    const seen: unknown[] = [];
    const watching = (async () => {
      for (let i = 0; i < 3; i++) seen.push(...(await ex.watchLiquidationsForSymbols([])));
    })();
    // Move the clock over a volatile stretch until events flow.
    for (let i = 0; i < 200 && seen.length === 0; i++) {
      clock += 60_000;
      await new Promise((r) => setTimeout(r, 120));
    }
    await Promise.race([watching, new Promise((r) => setTimeout(r, 3_000))]);
    assert.ok(seen.length > 0, 'no liquidation arrived');
    const l = seen[0] as { symbol: string; price: number; timestamp: number };
    const truth = sim.model.liquidations(ccxtId(l.symbol), l.timestamp, l.timestamp + 1);
    assert.ok(
      truth.some((t) => t.price === l.price),
      'the event is not in the model',
    );
    clock = NOW;
    await ex.close();
  });

  it('answers 429 over the weight limit, then 418 when the client keeps calling; ccxt raises DDoSProtection', async () => {
    const small = await startSimulator({ ...opts, weightLimit: 5 });
    const ex = client(small);
    await ex.loadMarkets();
    let limited: unknown = null;
    for (let i = 0; i < 10 && !limited; i++)
      await ex.fetchOpenInterest('BTC/USDT:USDT').catch((e) => (limited = e));
    assert.ok(limited instanceof ccxt.DDoSProtection, String(limited));
    assert.equal(
      (ex as unknown as { last_http_response_status?: number }).last_http_response_status ?? 429,
      429,
    );
    const again = await ex.fetchOpenInterest('BTC/USDT:USDT').catch((e) => e);
    assert.ok(again instanceof ccxt.DDoSProtection);
    assert.match(String(again.message), /418|banned/i);
    await ex.close();
    await small.close();
  });

  it('injects 5xx and malformed answers on demand, counted in its metrics', async () => {
    const ex = client(sim);
    await ex.loadMarkets();
    const post = (body: unknown) =>
      fetch(`${sim.url}/__sim/faults`, { method: 'POST', body: JSON.stringify(body) });
    assert.equal((await post({ http5xxRate: 1 })).status, 200);
    await assert.rejects(
      ex.fetchOpenInterest('BTC/USDT:USDT'),
      (e) => e instanceof ccxt.ExchangeNotAvailable,
    );
    await post({ http5xxRate: 0, malformedRate: 1 });
    const broken = await ex.fetchOHLCV('BTC/USDT:USDT', '1m', NOW - 10 * MINUTE, 5).catch((e) => e);
    // ccxt does not throw on a malformed 200: it returns garbage or raises a parse error.
    assert.ok(
      broken instanceof Error ||
        (Array.isArray(broken) &&
          broken.every((r) => r.some((x: unknown) => x === undefined || x === null))) ||
        (Array.isArray(broken) && broken.length === 0),
      JSON.stringify(broken),
    );
    await post({ malformedRate: 0 });
    assert.equal((await post({ http5xxRate: 2 })).status, 400);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    assert.match(
      metrics,
      /perpflow_sim_faults_injected_total\{kind="http_5xx",service="exchange-sim"\} [1-9]/,
    );
    assert.match(
      metrics,
      /perpflow_sim_faults_injected_total\{kind="malformed_json",service="exchange-sim"\} [1-9]/,
    );
    await ex.close();
  });
});

function ccxtId(symbol: string): string {
  return symbol.replace('/USDT:USDT', 'USDT');
}
