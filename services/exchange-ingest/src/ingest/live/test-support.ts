import type { CheckpointStore } from '../../adapters/checkpoints.js';
import type { LiveOptions } from './context.js';

/** Checkpoints in a Map, for tests of the live loops. */
export function memoryCheckpoints(): CheckpointStore {
  const saved = new Map<string, number>();
  return {
    get: async (k) => saved.get(k) ?? null,
    set: async (k, v) => void saved.set(k, v),
    getMany: async (ks) => ks.map((k) => saved.get(k) ?? null),
    setMany: async (es) => {
      for (const [k, v] of es) saved.set(k, v);
    },
  };
}

/** The live loops' options the venue tests run with: 1m candles from the websocket, polls a minute apart. */
export function venueTestOptions(feeds: Iterable<string>): LiveOptions {
  return {
    timeframe: '1m',
    feeds: new Set(feeds),
    candleDelayMs: 1_500,
    oiPollMs: 60_000,
    fundingPollMs: 60_000,
    fundingHistoryPollMs: 600_000,
    candleSource: 'websocket',
    gapCheckMs: 10_000,
    concurrency: 2,
  };
}

/**
 * Stops running live loops: aborts them and closes the exchange, which ends its websocket
 * watches; a watch ccxt never registered (OKX given no symbol) ends with nothing, so the
 * loops get 10 s, not forever.
 */
export async function stopLiveLoops(
  stop: AbortController,
  ex: { close(): Promise<unknown> },
  running: Promise<unknown>,
): Promise<void> {
  stop.abort();
  await ex.close();
  await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
}
