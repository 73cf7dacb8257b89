/**
 * OKX history paged as the backfill pages it (pagesOf, unmodified ccxt.pro.okx) against the
 * simulator, whose OKX endpoints page backward like the venue's (newest first, `after` /
 * `before` / `end` exclusive): the instrument's own 5-minute open interest in coins, and
 * funding settlements from `since` rather than the newest ones.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMarketModel, type SimServer, startSimServer } from '@perpflow/exchange-sim';
import { pointExchangeAt } from '@perpflow/venue-endpoints';
import ccxt from 'ccxt';
import type { CcxtExchange } from '../adapters/exchange.js';
import { pagesOf } from '../domain/paging.js';
import { okx } from './okx.js';

const SEED = 13;
const FIVE_MIN = 300_000;
const HOUR = 3_600_000;

describe('OKX history paging', () => {
  let sim: SimServer;
  let ex: InstanceType<typeof ccxt.pro.okx>;
  const truth = createMarketModel({ seed: SEED, symbolCount: 5 });
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 5 },
      limits: { okx: { factor: 100 } },
    });
    ex = new ccxt.pro.okx({ enableRateLimit: false, timeout: 20_000, options: okx.ccxtOptions });
    await pointExchangeAt(ex, { restBaseUrl: sim.url, wsBaseUrl: sim.wsUrl });
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  it("open interest: every 5-minute point of a 2.5-page range once, in coins, the instrument's own", async () => {
    const fetchHistory = okx.fetchOpenInterestHistory;
    assert.ok(fetchHistory);
    const to = Math.floor(sim.clock.now() / FIVE_MIN) * FIVE_MIN - 10 * FIVE_MIN;
    const from = to - 250 * FIVE_MIN;
    const rows: Record<string, unknown>[] = [];
    const spec = {
      fetch: (since: number, limit: number) =>
        fetchHistory(ex as unknown as CcxtExchange, 'BTC/USDT:USDT', since, limit),
      timeOf: (r: Record<string, unknown>) => (typeof r.timestamp === 'number' ? r.timestamp : null),
      limit: okx.pageLimits.openInterestHistory,
      stepMs: FIVE_MIN,
    };
    for await (const page of pagesOf(spec, from, to)) rows.push(...page.rows);
    const expected = truth.openInterestHistory('BTCUSDT', FIVE_MIN, from, to - FIVE_MIN);
    assert.equal(expected.length, 250);
    assert.deepEqual(
      rows.map((r) => [r.timestamp, r.openInterestAmount]),
      expected.map((p) => [p.timeMs, Number(p.openInterest.toFixed(truth.spec('BTCUSDT').qtyDecimals))]),
    );
    assert.ok(
      rows.every((r) => okx.oneSideOpenInterest?.(r as { info?: unknown }) === r.openInterestAmount),
      'one side in coins from oiCcy',
    );
  });

  it("funding: a page starts at since with the venue's params; ccxt's own window gives the newest settlements", async () => {
    const interval = truth.fundingIntervalMs('SOLUSDT');
    const since = Math.floor((sim.clock.now() - 60 * 86_400_000) / interval) * interval;
    const limit = 20;
    const withParams = (await ex.fetchFundingRateHistory(
      'SOL/USDT:USDT',
      since,
      limit,
      okx.fundingHistoryParams?.(since, limit),
    )) as { timestamp: number }[];
    const expected = truth
      .fundingHistory('SOLUSDT', since, since + limit * HOUR - 1)
      .map((f) => f.fundingTimeMs)
      .filter((t) => t >= since);
    assert.ok(expected.length >= 2, `${expected.length} settlements expected`);
    assert.deepEqual(
      withParams.map((r) => Math.round(r.timestamp / HOUR) * HOUR),
      expected,
    );
    const plain = (await ex.fetchFundingRateHistory('SOL/USDT:USDT', since, limit)) as {
      timestamp: number;
    }[];
    assert.ok(
      (plain[0]?.timestamp ?? 0) > since + 30 * 86_400_000,
      `without the params the page starts at ${plain[0]?.timestamp}, not near ${since}`,
    );
  });
});
