/**
 * Open-interest history paged as the backfill pages it (pagesOf, unmodified ccxt) against
 * the simulator, whose Bybit endpoint is end-anchored like the live one (ccxt PR #30016):
 * with the venue's params every 5-minute point of a multi-page range arrives once; with
 * ccxt's default window one point per page is lost, which is what the params fix.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMarketModel, type SimServer, startSimServer } from '@perpflow/exchange-sim';
import { pointExchangeAt } from '@perpflow/venue-endpoints';
import ccxt from 'ccxt';
import { pagesOf } from '../domain/paging.js';
import { bybit } from './bybit.js';

const SEED = 11;
const FIVE_MIN = 300_000;

describe('Bybit open-interest history paging', () => {
  let sim: SimServer;
  let ex: InstanceType<typeof ccxt.pro.bybit>;
  const truth = createMarketModel({ seed: SEED, symbolCount: 5 });
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: { seed: SEED, symbolCount: 5 },
      limits: { bybit: { requestsPerSecond: 1000 } },
    });
    ex = new ccxt.pro.bybit({
      enableRateLimit: false,
      timeout: 20_000,
      options: { fetchMarkets: { types: ['linear'] } },
    });
    await pointExchangeAt(ex, { restBaseUrl: sim.url, wsBaseUrl: sim.wsUrl });
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  async function pagedTimes(params: boolean, fromMs: number, toMs: number): Promise<number[]> {
    const times: number[] = [];
    const spec = {
      fetch: (since: number, limit: number) =>
        ex.fetchOpenInterestHistory(
          'BTC/USDT:USDT',
          '5m',
          since,
          limit,
          params ? (bybit.openInterestHistoryParams?.(since, limit, FIVE_MIN) ?? {}) : {},
        ) as unknown as Promise<Record<string, unknown>[]>,
      timeOf: (r: Record<string, unknown>) => (typeof r.timestamp === 'number' ? r.timestamp : null),
      limit: 200,
      stepMs: FIVE_MIN,
    };
    for await (const page of pagesOf(spec, fromMs, toMs))
      for (const r of page.rows) times.push(spec.timeOf(r)!);
    return times;
  }

  it('with the venue params every point of a 3.5-page range arrives once, in order', async () => {
    const to = Math.floor(sim.clock.now() / FIVE_MIN) * FIVE_MIN - 10 * FIVE_MIN;
    const from = to - 700 * FIVE_MIN;
    const expected = truth.openInterestHistory('BTCUSDT', FIVE_MIN, from, to - FIVE_MIN).map((p) => p.timeMs);
    assert.equal(expected.length, 700);
    assert.deepEqual(await pagedTimes(true, from, to), expected);
  });

  it("with ccxt's default window the first point of every page is lost", async () => {
    const to = Math.floor(sim.clock.now() / FIVE_MIN) * FIVE_MIN - 10 * FIVE_MIN;
    const from = to - 700 * FIVE_MIN;
    const got = new Set(await pagedTimes(false, from, to));
    const lost = truth
      .openInterestHistory('BTCUSDT', FIVE_MIN, from, to - FIVE_MIN)
      .map((p) => p.timeMs)
      .filter((t) => !got.has(t));
    // Pages start at from, then after each page's last point; the last page's window reaches
    // past the newest point, so the venue answers back to its startTime and loses nothing.
    assert.deepEqual(lost, [from, from + 201 * FIVE_MIN, from + 402 * FIVE_MIN]);
  });
});
