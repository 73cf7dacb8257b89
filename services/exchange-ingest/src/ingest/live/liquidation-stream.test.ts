/**
 * The liquidation stream's `perpflow_ingest_stream_connected` gauge follows the websocket,
 * not the events: in a market with no liquidations at all it reads 0 from the start, 1 once
 * the connection carrying the subscription opens, 0 when the venue drops it and 1 again
 * after the reconnect. It once read 1 only after a liquidation arrived, so a quiet market
 * after a drop held it at 0 (FeedStale: "liquidations are being lost") and the end-to-end
 * fault test waited out its minute for a burst. Every venue with liquidations, through the
 * hooked ccxt exchange the service builds, against the simulator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExchangeId } from '@perpflow/contracts';
import { type SimServer, startSimServer } from '@perpflow/exchange-sim';
import { createLogger } from '@perpflow/runtime';
import { createExchange } from '../../adapters/exchange.js';
import type { RecordSink } from '../../adapters/kafka-sink.js';
import { createIngestMetrics } from '../../metrics.js';
import { ingestVenue, SUPPORTED_EXCHANGES } from '../../venues/index.js';
import { RateGate } from '../gate.js';
import { LiveIngestor } from '../live.js';
import { memoryCheckpoints, stopLiveLoops, venueTestOptions } from './test-support.js';

const WITH_LIQUIDATIONS = SUPPORTED_EXCHANGES.filter(
  (id) => ingestVenue(id).liquidations.subscription !== 'none',
);

async function until(what: string, done: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the liquidation stream is connected while its websocket is, events or none', () => {
  let sim: SimServer;
  before(async () => {
    // No burst ever: the stream must show connected without a single event.
    sim = await startSimServer({ port: 0, market: { seed: 3, symbolCount: 4, liquidationBurstsPerHour: 0 } });
  });
  after(async () => {
    await sim.close();
  });

  it('every venue with liquidations has a subscription pattern', () => {
    assert.deepEqual(WITH_LIQUIDATIONS, ['binanceusdm', 'bybit', 'okx']);
    for (const id of WITH_LIQUIDATIONS)
      assert.ok(ingestVenue(id).liquidations.subscriptionHash instanceof RegExp, id);
  });

  for (const exchange of WITH_LIQUIDATIONS)
    it(`${exchange}: 0 at the start, 1 when the connection opens, 0 on a drop, 1 after the reconnect`, async () => {
      const logger = createLogger({ service: 'test', level: 'fatal' });
      const published: string[] = [];
      const sink: RecordSink = {
        publish: async (feed, records) => void published.push(...records.map(() => feed)),
        deadLetter: async () => undefined,
      };
      let ingestor: LiveIngestor | null = null;
      const ex = await createExchange(exchange as ExchangeId, {
        endpoint: sim.url,
        logger,
        onLiquidation: (symbol, l) => ingestor?.onLiquidation(symbol, l),
        onWebsocketClosed: (url, err) => ingestor?.onWebsocketClosed(url, err),
        onWebsocketOpened: (url) => ingestor?.onWebsocketOpened(url),
      });
      await ex.loadHttpProxyAgent?.();
      await ex.loadMarkets();
      const metrics = createIngestMetrics();
      // Every value the liquidation gauge is given, in order.
      const states: number[] = [];
      const set = metrics.wsConnected.set.bind(metrics.wsConnected);
      metrics.wsConnected.set = ((labels: { feed?: string }, value: number) => {
        if (labels.feed === 'liquidation' && states.at(-1) !== value) states.push(value);
        return set(labels as never, value);
      }) as typeof metrics.wsConnected.set;
      const websocketErrors = async () =>
        (await metrics.errors.get()).values.find((v) => v.labels.kind === 'websocket')?.value ?? 0;
      const now = () => Date.now();
      ingestor = new LiveIngestor(
        {
          ex,
          exchange,
          symbols: Object.keys(ex.markets).sort(),
          sink,
          checkpoints: memoryCheckpoints(),
          metrics,
          logger,
          now,
          gate: new RateGate(now),
        },
        venueTestOptions(['liquidation']),
      );
      const stop = new AbortController();
      const running = ingestor.run(stop.signal);
      try {
        await until(`${exchange}: the gauge at 1`, () => states.at(-1) === 1);
        assert.deepEqual(states, [0, 1], `${exchange}: the gauge before any event`);
        const r = await fetch(`${sim.url}/__sim/faults`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ dropWebsockets: true }),
        });
        assert.equal(r.status, 200, await r.text());
        await until(`${exchange}: the gauge at 1 after the drop`, () => states.length === 4);
        assert.deepEqual(states, [0, 1, 0, 1], `${exchange}: the gauge through the drop`);
        assert.equal(await websocketErrors(), 1, `${exchange}: the drop counted once`);
        assert.deepEqual(published, [], `${exchange}: no liquidation in a market without any`);
      } finally {
        await stopLiveLoops(stop, ex, running);
        await fetch(`${sim.url}/__sim/reset`, { method: 'POST' });
      }
    });
});
