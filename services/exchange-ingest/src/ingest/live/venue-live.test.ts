/**
 * The live loops of every ingest venue against the simulator, through the hooked ccxt
 * exchange the service builds (createExchange): liquidations from the venue's websocket,
 * predicted funding and open interest by REST, each published with the venue's event
 * time and nothing dead-lettered. OKX's live path once published no liquidation (ccxt sent
 * no subscription for an empty symbol list) and dead-lettered every predicted funding
 * (ccxt leaves its `timestamp` empty); the backfill tests could not see either. A venue
 * without a liquidation source (Hyperliquid) must subscribe to nothing and publish no
 * liquidation; its closed candles from the websocket are checked instead, against the model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExchangeId } from '@perpflow/contracts';
import { createMarketModel, hyperliquidPx, type SimServer, startSimServer } from '@perpflow/exchange-sim';
import { createLogger } from '@perpflow/runtime';
import { createExchange } from '../../adapters/exchange.js';
import type { RecordSink } from '../../adapters/kafka-sink.js';
import { createIngestMetrics } from '../../metrics.js';
import { ingestVenue, SUPPORTED_EXCHANGES } from '../../venues/index.js';
import { RateGate } from '../gate.js';
import { LiveIngestor } from '../live.js';
import { memoryCheckpoints, stopLiveLoops, venueTestOptions } from './test-support.js';

const FEEDS = ['liquidation', 'funding', 'open_interest'] as const;
// A venue with no liquidations: its candles instead (the websocket's closed candles, within a minute).
const FEEDS_WITHOUT_LIQUIDATIONS = ['funding', 'open_interest', 'ohlcv'] as const;
// Every listed symbol followed, each at the model's most bursts an hour (MAX_LIQUIDATION_BURSTS_PER_HOUR,
// 700): across the 30, one every ~0.2 s.
const MARKET = { seed: 5, symbolCount: 30, liquidationBurstsPerHour: 36_000 };
// BTC/USDT:USDT and Hyperliquid's BTC/USDC:USDC are both the model's BTCUSDT.
const modelId = (s: string) => `${s.split('/')[0]}USDT`;

interface Published {
  feed: string;
  exchange: string;
  symbol: string;
  eventTimeMs: number;
  receivedAtMs: number;
  kind?: string;
  open?: number;
  high?: number;
  low?: number;
  close?: number;
}

describe('live loops of every ingest venue against the simulator', { timeout: 900_000 }, () => {
  let sim: SimServer;
  before(async () => {
    sim = await startSimServer({ port: 0, market: MARKET, pushIntervalMs: 200 });
  });
  after(async () => {
    await sim.close();
  });

  for (const exchange of SUPPORTED_EXCHANGES)
    it(`${exchange}: ${ingestVenue(exchange).liquidations.subscription === 'none' ? 'no liquidation subscribed or published; candles, ' : 'liquidations, '}predicted funding and open interest, each with the venue's event time, none dead-lettered`, async () => {
      const hasLiquidations = ingestVenue(exchange).liquidations.subscription !== 'none';
      const required: readonly string[] = hasLiquidations ? FEEDS : FEEDS_WITHOUT_LIQUIDATIONS;
      const published: Published[] = [];
      const dead: string[] = [];
      const sink: RecordSink = {
        publish: async (feed, records) => {
          for (const r of records) published.push({ feed, ...(r as Omit<Published, 'feed'>) });
        },
        deadLetter: async (e) => void dead.push(`${e.feed} ${e.symbol}: ${e.violation.message}`),
      };
      const checkpoints = memoryCheckpoints();
      const logger = createLogger({
        service: 'test',
        level: (process.env.TEST_LOG_LEVEL ?? 'fatal') as 'fatal',
      });
      let ingestor: LiveIngestor | null = null;
      // Closed websocket candles received, per symbol and open time (the failure message says
      // whether a symbol's candle was pushed and not published, or never pushed).
      const closedPushes = new Map<string, Set<number>>();
      const ex = await createExchange(exchange as ExchangeId, {
        endpoint: sim.url,
        logger,
        onLiquidation: (symbol, l) => ingestor?.onLiquidation(symbol, l),
        onKline: (symbol, k) => {
          if (k.closed)
            closedPushes.set(symbol, (closedPushes.get(symbol) ?? new Set()).add(k.row[0] as number));
          ingestor?.onKline(symbol, k);
        },
      });
      // Every liquidation watch the loop makes, counted (a venue without liquidations: none).
      let liquidationWatches = 0;
      const watches = ex as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      for (const method of ['watchLiquidations', 'watchLiquidationsForSymbols']) {
        const original = watches[method]?.bind(ex);
        if (original)
          watches[method] = (...args: unknown[]) => {
            liquidationWatches++;
            return original(...args);
          };
      }
      // Open-interest requests, counted: one per symbol, or one for all where the venue answers all.
      const oiCalls = { fetchOpenInterest: 0, fetchOpenInterests: 0 };
      for (const method of ['fetchOpenInterest', 'fetchOpenInterests'] as const) {
        const original = watches[method]?.bind(ex);
        if (original)
          watches[method] = (...args: unknown[]) => {
            oiCalls[method]++;
            return original(...args);
          };
      }
      await ex.loadHttpProxyAgent?.();
      await ex.loadMarkets();
      const SYMBOLS = Object.keys(ex.markets).sort();
      assert.equal(SYMBOLS.length, MARKET.symbolCount, `${exchange}: the simulator's listing`);
      const now = () => Date.now();
      const metrics = createIngestMetrics();
      ingestor = new LiveIngestor(
        {
          ex,
          exchange,
          symbols: SYMBOLS,
          sink,
          checkpoints,
          metrics,
          logger,
          now,
          gate: new RateGate(now),
        },
        venueTestOptions([...FEEDS, ...required]),
      );
      const stop = new AbortController();
      const running = ingestor.run(stop.signal);
      const startedMs = Date.now();
      // Bursts come when the market model says (the same seed, computed here): wait for the
      // third liquidation of a followed symbol after the start, so the subscription has time.
      const model = createMarketModel(MARKET);
      const upcoming = SYMBOLS.flatMap((s) =>
        model.liquidations(modelId(s), startedMs, startedMs + 3_600_000),
      )
        .map((e) => e.timeMs)
        .sort((a, b) => a - b);
      // Without liquidations: the candle open at the start, closed for every symbol. Its push
      // comes just after the close, but a symbol whose REST request is in flight then holds its
      // pushed candle until that request ends (the first REST round, 30 candle requests two at
      // a time beside the funding history, all paced by ccxt and the venue's 1200 a minute);
      // a symbol the websocket missed is fetched by the gap check, `gapCheckMs` after the first
      // close that follows the first round, which may itself end past the close. The bound
      // allows that gap check two closes later and a round after it. It was the close + 20 s,
      // and a fresh CI with the build beside the unit tests found 28 of 30 symbols closed by
      // then: two, the concurrency of the REST round, still held.
      const openAtStartMs = Math.floor(startedMs / 60_000) * 60_000;
      const deadlineMs = hasLiquidations
        ? Math.max(startedMs + 30_000, (upcoming[2] ?? startedMs) + 15_000)
        : openAtStartMs + 3 * 60_000 + 10_000 + 60_000;
      const closedSymbols = (openMs: number) =>
        new Set(published.filter((p) => p.feed === 'ohlcv' && p.eventTimeMs === openMs).map((p) => p.symbol));
      const closedAfter = (openMs: number) => closedSymbols(openMs).size;
      // Which symbols lack the start's candle, and whether the websocket pushed it closed.
      const missingClosed = () => {
        const done = closedSymbols(openAtStartMs);
        return SYMBOLS.filter((s) => !done.has(s))
          .map(
            (s) => `${s} (${closedPushes.get(s)?.has(openAtStartMs) ? 'pushed closed' : 'no closed push'})`,
          )
          .join(', ');
      };
      const has = (feed: string, kind?: string) =>
        published.some((p) => p.feed === feed && (kind === undefined || p.kind === kind));
      try {
        while (
          !(
            required.every((feed) => has(feed, feed === 'funding' ? 'predicted' : undefined)) &&
            (hasLiquidations || closedAfter(openAtStartMs) === SYMBOLS.length)
          ) &&
          dead.length === 0
        ) {
          if (Date.now() >= deadlineMs)
            assert.fail(
              `${exchange}: in ${deadlineMs - startedMs} ms (the model's third liquidation at +${(upcoming[2] ?? 0) - startedMs} ms), published ${JSON.stringify([...new Set(published.map((p) => `${p.feed} ${p.kind ?? ''}`))])}${hasLiquidations ? '' : `, the start's minute closed for ${closedAfter(openAtStartMs)} of ${SYMBOLS.length} symbols; missing: ${missingClosed()}; gap fills ${(await metrics.gapFills.get()).values.reduce((n, v) => n + v.value, 0)}`}`,
            );
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await stopLiveLoops(stop, ex, running);
      }
      assert.deepEqual(dead, [], `${exchange}: nothing dead-lettered`);
      if (!hasLiquidations) {
        assert.equal(liquidationWatches, 0, `${exchange}: no liquidation subscription attempted`);
        assert.equal(published.filter((p) => p.feed === 'liquidation').length, 0);
        // Closed candles are the model's own (the same seed), at the venue's price precision.
        const candles = published.filter((p) => p.feed === 'ohlcv');
        for (const c of candles) {
          const m = model.candle1m(modelId(c.symbol), c.eventTimeMs);
          const sz = model.symbols.find((x) => x.id === modelId(c.symbol))?.qtyDecimals ?? -1;
          assert.deepEqual(
            [c.open, c.high, c.low, c.close],
            [m.open, m.high, m.low, m.close].map((v) => Number(hyperliquidPx(v, sz))),
            `${exchange} ${c.symbol} candle at ${c.eventTimeMs}`,
          );
          assert.ok(
            c.eventTimeMs + 60_000 <= c.receivedAtMs,
            `${exchange}: a candle published before its close`,
          );
        }
        // And the minute open at the start, closed while the loops ran, for every symbol.
        const closedLive = new Set(
          candles.filter((c) => c.eventTimeMs === openAtStartMs).map((c) => c.symbol),
        );
        assert.equal(closedLive.size, SYMBOLS.length, `${exchange}: symbols with the start's minute closed`);
      } else assert.equal(liquidationWatches > 0, true, `${exchange}: liquidations subscribed`);
      if (ingestVenue(exchange).openInterestPoll === 'all-symbols') {
        // One metaAndAssetCtxs answered every coin: every symbol has its open interest, and no
        // per-symbol request was made (ccxt's fetchOpenInterest would ask the same answer 30 times).
        assert.equal(oiCalls.fetchOpenInterest, 0, `${exchange}: per-symbol open-interest requests`);
        assert.ok(oiCalls.fetchOpenInterests >= 1, `${exchange}: no fetchOpenInterests`);
        const withOi = new Set(published.filter((p) => p.feed === 'open_interest').map((p) => p.symbol));
        assert.equal(withOi.size, SYMBOLS.length, `${exchange}: symbols with open interest`);
      }
      for (const feed of required) {
        // Settled funding (from history) is stamped at its settlement, hours back: not checked here.
        const mine = published.filter((p) => p.feed === feed && p.kind !== 'settled');
        assert.ok(mine.length > 0, `${exchange}: no ${feed} record`);
        for (const p of mine) {
          assert.equal(p.exchange, exchange);
          assert.ok(SYMBOLS.includes(p.symbol), `${exchange} ${feed}: a symbol not followed: ${p.symbol}`);
          // The venue's clock is the simulator's (the wall clock here). Open interest comes on the
          // venue's grid (Bybit: the newest 5-minute point); the rest is stamped when it happened.
          // Candles are stamped at their open, and the first REST round reaches three bars back.
          const oldest =
            startedMs - (feed === 'open_interest' ? 300_000 : feed === 'ohlcv' ? 240_000 : 10_000);
          assert.ok(
            Number.isSafeInteger(p.eventTimeMs) && p.eventTimeMs >= oldest && p.eventTimeMs <= Date.now(),
            `${exchange} ${feed}: event time ${p.eventTimeMs}, ${startedMs - p.eventTimeMs} ms before the start`,
          );
          assert.ok(Number.isSafeInteger(p.receivedAtMs) && p.receivedAtMs >= startedMs);
          // Answers without a time of their own are stamped with the venue's HTTP Date (whole seconds).
          if (ingestVenue(exchange).answerTimeMs && (feed === 'open_interest' || feed === 'funding'))
            assert.equal(
              p.eventTimeMs % 1000,
              0,
              `${exchange} ${feed}: event time ${p.eventTimeMs} from the Date header`,
            );
        }
      }
    });
});
