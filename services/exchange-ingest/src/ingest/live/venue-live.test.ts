/**
 * The live loops of every ingest venue against the simulator, through the hooked ccxt
 * exchange the service builds (createExchange): liquidations from the venue's websocket,
 * predicted funding and open interest by REST, each published with the venue's event
 * time and nothing dead-lettered. OKX's live path once published no liquidation (ccxt sent
 * no subscription for an empty symbol list) and dead-lettered every predicted funding
 * (ccxt leaves its `timestamp` empty); the backfill tests could not see either.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExchangeId } from '@perpflow/contracts';
import { createMarketModel, type SimServer, startSimServer } from '@perpflow/exchange-sim';
import { createLogger } from '@perpflow/runtime';
import type { CheckpointStore } from '../../adapters/checkpoints.js';
import { createExchange } from '../../adapters/exchange.js';
import type { RecordSink } from '../../adapters/kafka-sink.js';
import { createIngestMetrics } from '../../metrics.js';
import { SUPPORTED_EXCHANGES } from '../../venues/index.js';
import { RateGate } from '../gate.js';
import { LiveIngestor } from '../live.js';

const FEEDS = ['liquidation', 'funding', 'open_interest'] as const;
// Every listed symbol followed, each at the model's most bursts an hour (50): one every ~2 s.
const MARKET = { seed: 5, symbolCount: 30, liquidationBurstsPerHour: 36_000 };
const modelId = (s: string) => s.replace('/USDT:USDT', 'USDT');

interface Published {
  feed: string;
  exchange: string;
  symbol: string;
  eventTimeMs: number;
  receivedAtMs: number;
  kind?: string;
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
    it(`${exchange}: liquidations, predicted funding and open interest, each with the venue's event time, none dead-lettered`, async () => {
      const published: Published[] = [];
      const dead: string[] = [];
      const sink: RecordSink = {
        publish: async (feed, records) => {
          for (const r of records) published.push({ feed, ...(r as Omit<Published, 'feed'>) });
        },
        deadLetter: async (e) => void dead.push(`${e.feed} ${e.symbol}: ${e.violation.message}`),
      };
      const saved = new Map<string, number>();
      const checkpoints: CheckpointStore = {
        get: async (k) => saved.get(k) ?? null,
        set: async (k, v) => void saved.set(k, v),
        getMany: async (ks) => ks.map((k) => saved.get(k) ?? null),
        setMany: async (es) => {
          for (const [k, v] of es) saved.set(k, v);
        },
      };
      const logger = createLogger({ service: 'test', level: 'fatal' });
      let ingestor: LiveIngestor | null = null;
      const ex = await createExchange(exchange as ExchangeId, {
        endpoint: sim.url,
        logger,
        onLiquidation: (symbol, l) => ingestor?.onLiquidation(symbol, l),
      });
      await ex.loadHttpProxyAgent?.();
      await ex.loadMarkets();
      const SYMBOLS = Object.keys(ex.markets).sort();
      assert.equal(SYMBOLS.length, MARKET.symbolCount, `${exchange}: the simulator's listing`);
      const now = () => Date.now();
      ingestor = new LiveIngestor(
        {
          ex,
          exchange,
          symbols: SYMBOLS,
          sink,
          checkpoints,
          metrics: createIngestMetrics(),
          logger,
          now,
          gate: new RateGate(now),
        },
        {
          timeframe: '1m',
          feeds: new Set(FEEDS),
          candleDelayMs: 1_500,
          oiPollMs: 60_000,
          fundingPollMs: 60_000,
          fundingHistoryPollMs: 600_000,
          candleSource: 'websocket',
          gapCheckMs: 10_000,
          concurrency: 2,
        },
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
      const deadlineMs = Math.max(startedMs + 30_000, (upcoming[2] ?? startedMs) + 15_000);
      const has = (feed: string, kind?: string) =>
        published.some((p) => p.feed === feed && (kind === undefined || p.kind === kind));
      try {
        while (
          !(has('liquidation') && has('funding', 'predicted') && has('open_interest')) &&
          dead.length === 0
        ) {
          assert.ok(
            Date.now() < deadlineMs,
            `${exchange}: in ${deadlineMs - startedMs} ms (the model's third liquidation at +${(upcoming[2] ?? 0) - startedMs} ms), published ${JSON.stringify([...new Set(published.map((p) => `${p.feed} ${p.kind ?? ''}`))])}`,
          );
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        stop.abort();
        // Closing the exchange ends the websocket watches; a watch ccxt never registered (OKX
        // given no symbol) ends with nothing, so the loops get 10 s, not forever.
        await ex.close();
        await Promise.race([
          running.catch(() => undefined),
          new Promise((r) => setTimeout(r, 10_000).unref()),
        ]);
      }
      assert.deepEqual(dead, [], `${exchange}: nothing dead-lettered`);
      for (const feed of FEEDS) {
        // Settled funding (from history) is stamped at its settlement, hours back: not checked here.
        const mine = published.filter((p) => p.feed === feed && p.kind !== 'settled');
        assert.ok(mine.length > 0, `${exchange}: no ${feed} record`);
        for (const p of mine) {
          assert.equal(p.exchange, exchange);
          assert.ok(SYMBOLS.includes(p.symbol), `${exchange} ${feed}: a symbol not followed: ${p.symbol}`);
          // The venue's clock is the simulator's (the wall clock here). Open interest comes on the
          // venue's grid (Bybit: the newest 5-minute point); the rest is stamped when it happened.
          const oldest = startedMs - (feed === 'open_interest' ? 300_000 : 10_000);
          assert.ok(
            Number.isSafeInteger(p.eventTimeMs) && p.eventTimeMs >= oldest && p.eventTimeMs <= Date.now(),
            `${exchange} ${feed}: event time ${p.eventTimeMs}, ${startedMs - p.eventTimeMs} ms before the start`,
          );
          assert.ok(Number.isSafeInteger(p.receivedAtMs) && p.receivedAtMs >= startedMs);
        }
      }
    });
});
