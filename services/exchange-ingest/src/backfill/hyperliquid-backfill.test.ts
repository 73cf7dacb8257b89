/**
 * Hyperliquid backfilled as the worker pages it (backfillableFeeds, pageSpec, pagesOf,
 * normalizePage; the hooked, unmodified ccxt exchange) against the in-process simulator:
 * candles forward in 5000-row pages, equal to the market model of the same seed at the
 * venue's precision; hourly funding settlements snapped to the hour; open-interest history
 * reported unavailable and never requested.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createMarketModel,
  hourlyFunding,
  hyperliquidPx,
  type SimServer,
  startSimServer,
} from '@perpflow/exchange-sim';
import { createLogger } from '@perpflow/runtime';
import { type CcxtExchange, createExchange } from '../adapters/exchange.js';
import { pagesOf } from '../domain/paging.js';
import { RateGate } from '../ingest/gate.js';
import { createIngestMetrics } from '../metrics.js';
import { HYPERLIQUID_UNAVAILABLE } from '../venues/hyperliquid.js';
import { BackfillClock } from './clock.js';
import { type CandleAsk, type FundingCache, normalizePage, pageSpec } from './pages.js';
import { type BackfillFeed, type BackfillJobData, backfillableFeeds, candleHistoryStartMs } from './plan.js';

const SEED = 21;
const MARKET = { seed: SEED, symbolCount: 3 };
const MINUTE = 60_000;
const HOUR = 3_600_000;
const SYMBOL = 'ETH/USDC:USDC';

/** The record fields these tests read (candles and settled funding). */
interface Row {
  eventTimeMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  fundingTimeMs: number;
  fundingRate: number;
}

describe('Hyperliquid backfill against the simulator', { timeout: 120_000 }, () => {
  let sim: SimServer;
  let ex: CcxtExchange;
  const model = createMarketModel(MARKET);
  const logger = createLogger({ service: 'test', level: 'fatal' });
  before(async () => {
    sim = await startSimServer({ port: 0, market: MARKET });
    ex = await createExchange('hyperliquid', { endpoint: sim.url, logger, onLiquidation: () => {} });
    await ex.loadHttpProxyAgent?.();
    await ex.loadMarkets();
  });
  after(async () => {
    await ex.close();
    await sim.close();
  });

  /**
   * The records the worker would publish for `feed` over [fromMs, toMs), and the pages it
   * fetched; the worker's clock runs `aheadMs` ahead of the venue's.
   */
  async function backfill(
    feed: BackfillFeed,
    fromMs: number,
    toMs: number,
    aheadMs = 0,
  ): Promise<{ items: Row[]; pages: number }> {
    const job: BackfillJobData = {
      backfillId: 't',
      exchange: 'hyperliquid',
      symbol: SYMBOL,
      feeds: [feed],
      timeframe: '1m',
      fromMs,
      toMs,
      chunkMs: toMs - fromMs,
    };
    const now = () => sim.clock.now() + aheadMs;
    const candleAsk: CandleAsk = { atMs: Number.NEGATIVE_INFINITY };
    const fundingCache: FundingCache = { fromMs: Number.POSITIVE_INFINITY, coveredToMs: -1, rows: [] };
    const spec = pageSpec(feed, {
      job,
      ex,
      gate: new RateGate(now),
      metrics: createIngestMetrics(),
      logger,
      now,
      fundingCache,
      candleAsk,
      clock: new BackfillClock(now),
    });
    const items: Row[] = [];
    let pages = 0;
    for await (const page of pagesOf(spec, fromMs, toMs)) {
      pages++;
      for (const item of normalizePage(feed, page.rows, job, now(), candleAsk)) {
        // Every record passes its contract (a violation would be dead-lettered, not published).
        assert.ok(item.ok, `${feed}: ${item.ok ? '' : item.error.message}`);
        items.push(item.value as unknown as Row);
      }
    }
    return { items, pages };
  }

  const endpointCounts = async () => {
    const m = await sim.metrics.requests.get();
    const out: Record<string, number> = {};
    for (const v of m.values)
      if (v.labels.venue === 'hyperliquid') {
        const e = String(v.labels.endpoint);
        out[e] = (out[e] ?? 0) + v.value;
      }
    return out;
  };

  it('skips open-interest history with the reason and requests nothing for it', async () => {
    const countsBefore = await endpointCounts();
    const { feeds, skipped } = backfillableFeeds('hyperliquid', ['ohlcv', 'open_interest', 'funding']);
    assert.deepEqual(feeds, ['ohlcv', 'funding']);
    assert.deepEqual(skipped, [
      { feed: 'open_interest', reason: HYPERLIQUID_UNAVAILABLE.openInterestHistory },
    ]);
    const now = sim.clock.now();
    await backfill('funding', now - 6 * HOUR, now - HOUR);
    const countsAfter = await endpointCounts();
    const asked = Object.keys(countsAfter).filter((e) => (countsAfter[e] ?? 0) > (countsBefore[e] ?? 0));
    assert.deepEqual(asked, ['fundingHistory'], 'only funding history was requested');
    assert.deepEqual(backfillableFeeds('bybit', ['open_interest']).skipped, []);
  });

  it("candles: 5000-row pages forward, every minute once, the model's values", async () => {
    const now = sim.clock.now();
    const toMs = Math.floor(now / MINUTE) * MINUTE - 5 * MINUTE;
    const fromMs = toMs - 4_500 * MINUTE;
    const { items, pages } = await backfill('ohlcv', fromMs, toMs);
    assert.equal(items.length, 4_500);
    assert.equal(pages, 1, 'one page holds 4,500 candles');
    const spec = model.symbols.find((s) => s.id === 'ETHUSDT');
    assert.ok(spec);
    for (const [i, c] of items.entries()) {
      assert.equal(c.eventTimeMs, fromMs + i * MINUTE);
      const m = model.candle1m('ETHUSDT', c.eventTimeMs);
      assert.deepEqual(
        [c.open, c.high, c.low, c.close],
        [m.open, m.high, m.low, m.close].map((v): number => Number(hyperliquidPx(v, spec.qtyDecimals))),
        `candle at ${c.eventTimeMs}`,
      );
    }
  });

  it("a worker clock 90 s ahead of the venue's: the open candle is judged by the venue's clock, never published", async () => {
    // Judged by the worker's own clock less 1 s (the backfill before it read the venue's
    // clock), the open candle had closed 29-89 s ago and was published with partial values.
    const countsBefore = await endpointCounts();
    const openAt = Math.floor(sim.clock.now() / MINUTE) * MINUTE;
    const fromMs = openAt - 30 * MINUTE;
    const { items } = await backfill('ohlcv', fromMs, openAt + MINUTE, 90_000);
    const venueNow = sim.clock.now();
    const countsAfter = await endpointCounts();
    assert.equal(
      (countsAfter.exchangeStatus ?? 0) - (countsBefore.exchangeStatus ?? 0),
      1,
      "the venue's clock read once",
    );
    // The 30 candles closed before the open one, and the open one only if it closed meanwhile.
    assert.equal(items.length, venueNow >= openAt + MINUTE ? 31 : 30, `${items.length} candles`);
    const spec = model.symbols.find((s) => s.id === 'ETHUSDT');
    assert.ok(spec);
    for (const [i, c] of items.entries()) {
      assert.equal(c.eventTimeMs, fromMs + i * MINUTE);
      assert.ok(c.eventTimeMs + MINUTE <= venueNow, `candle at ${c.eventTimeMs} closed at the venue`);
      const m = model.candle1m('ETHUSDT', c.eventTimeMs);
      assert.deepEqual(
        [c.open, c.high, c.low, c.close],
        [m.open, m.high, m.low, m.close].map((v): number => Number(hyperliquidPx(v, spec.qtyDecimals))),
        `candle at ${c.eventTimeMs}: the final values`,
      );
    }
  });

  it('candles older than the 5000-candle history: the start is clamped and the pager ends', async () => {
    const now = sim.clock.now();
    const oldest = candleHistoryStartMs('hyperliquid', '1m', now);
    assert.equal(oldest, (Math.floor(now / MINUTE) - 4_999) * MINUTE);
    assert.equal(candleHistoryStartMs('bybit', '1m', now), undefined);
    // A range wholly older than the history: one request, nothing in range, no loop.
    const { items, pages } = await backfill('ohlcv', now - 10 * 86_400_000, now - 9 * 86_400_000);
    assert.deepEqual([items.length, pages], [0, 1]);
  });

  it('funding: hourly settlements snapped to the hour, paged 500 at a time, equal to the model', async () => {
    const now = sim.clock.now();
    const toMs = Math.floor(now / HOUR) * HOUR - HOUR;
    const fromMs = toMs - 700 * HOUR;
    const { items, pages } = await backfill('funding', fromMs, toMs);
    assert.equal(pages >= 2, true, `700 settlements need two pages of 500 (${pages})`);
    const rows = items;
    assert.equal(rows.length, 700);
    for (const [i, r] of rows.entries()) {
      const hour = fromMs + i * HOUR;
      assert.equal(r.fundingTimeMs, hour, `settlement ${i} on the hour`);
      assert.equal(r.fundingRate, hourlyFunding(model, 'ETHUSDT', hour).rate);
      // The venue's own time, a few ms after the hour, is the event time (not ours).
      assert.equal(r.eventTimeMs, hourlyFunding(model, 'ETHUSDT', hour).timeMs);
    }
  });
});
