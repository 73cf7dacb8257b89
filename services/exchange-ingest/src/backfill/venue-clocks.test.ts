/**
 * The venue's clock as a backfill reads it, for every ingest venue: unmodified ccxt's
 * fetchTime against the simulator (each venue's own time endpoint and answer format, which
 * ccxt parses as it parses the venue's real answers), with the simulated venues running
 * 90 s behind our clock. The estimate must land inside the read's window of the venue's
 * clock, and a candle must count as closed only once the venue's clock is past its close.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type SimServer, startSimServer } from '@perpflow/exchange-sim';
import { createLogger } from '@perpflow/runtime';
import { createExchange } from '../adapters/exchange.js';
import { isClosed } from '../domain/normalize.js';
import { SUPPORTED_EXCHANGES } from '../venues/index.js';
import { BackfillClock } from './clock.js';

const BEHIND_MS = 90_000;
const MINUTE = 60_000;

describe("every venue's clock read through ccxt, the venue 90 s behind us", { timeout: 120_000 }, () => {
  let sim: SimServer;
  const logger = createLogger({ service: 'test', level: 'fatal' });
  before(async () => {
    sim = await startSimServer({
      port: 0,
      market: { seed: 5, symbolCount: 2 },
      clock: { offsetMs: -BEHIND_MS },
    });
  });
  after(async () => {
    await sim.close();
  });

  it('covers the four venues', () => {
    assert.deepEqual([...SUPPORTED_EXCHANGES].sort(), ['binanceusdm', 'bybit', 'hyperliquid', 'okx']);
  });

  for (const venue of ['binanceusdm', 'bybit', 'hyperliquid', 'okx'] as const)
    it(`${venue}: the estimate is the venue's clock, and an open candle stays open`, async () => {
      const ex = await createExchange(venue, { endpoint: sim.url, logger, onLiquidation: () => {} });
      try {
        await ex.loadHttpProxyAgent?.();
        const clock = new BackfillClock(Date.now);
        const venueBefore = sim.clock.now();
        await clock.readIfStale(() => ex.fetchTime());
        const venueAfter = sim.clock.now();
        const now = clock.clock.now();
        // Bybit answers in whole milliseconds of its own time; every venue's estimate is
        // within the read's window of the venue's clock (now() advanced a little since).
        assert.ok(
          now >= venueBefore - 1 && now <= sim.clock.now() + (venueAfter - venueBefore) + 1,
          `${venue}: estimate ${now} outside the venue's [${venueBefore}, ${venueAfter}] (+ the time since)`,
        );
        assert.ok(Date.now() - now > BEHIND_MS - 2_000, `${venue}: the 90 s offset was taken`);
        const passed = clock.clock.passedMs();
        const openAt = Math.floor(sim.clock.now() / MINUTE) * MINUTE;
        assert.ok(passed <= sim.clock.now(), `${venue}: passedMs ${passed} not ahead of the venue`);
        assert.equal(
          isClosed(openAt, '1m', passed),
          false,
          `${venue}: the venue's open candle counts as open`,
        );
        assert.equal(
          isClosed(openAt - MINUTE, '1m', passed),
          passed >= openAt,
          `${venue}: the previous candle`,
        );
      } finally {
        await ex.close();
      }
    });
});
