import type { ExchangeId } from '@perpflow/contracts';

/** Default prefix of the queue names (INGEST_BACKFILL_QUEUE). */
export const DEFAULT_QUEUE_PREFIX = 'perpflow-backfill';

/**
 * One queue per exchange (and per shard when the symbols are sharded over n
 * workers), so each exchange has its own concurrency and rate budget and a
 * sharded symbol is only ever fetched by the worker that owns it live. The
 * prefix separates deployments (and test runs) sharing one Redis: every worker
 * on a prefix must point at the same exchange.
 */
export function queueName(
  exchange: ExchangeId,
  shard?: { index: number; count: number },
  prefix = DEFAULT_QUEUE_PREFIX,
): string {
  return !shard || shard.count <= 1
    ? `${prefix}-${exchange}`
    : `${prefix}-${exchange}-shard-${shard.index}-of-${shard.count}`;
}

/**
 * The Redis keys of a backfill's state, namespaced by the queue prefix like the queues,
 * so two deployments (or test runs) sharing one Redis never list or count each other's
 * backfills. The default prefix keeps the names it always had (`perpflow:backfill:<id>`),
 * so state written before this change is still found.
 */
export function backfillKeys(prefix = DEFAULT_QUEUE_PREFIX) {
  const base = prefix === DEFAULT_QUEUE_PREFIX ? 'perpflow:backfill' : `perpflow:backfill:${prefix}`;
  return {
    meta: (id: string) => `${base}:${id}`,
    done: (id: string) => `${base}:${id}:done`,
    failed: (id: string) => `${base}:${id}:failed`,
    index: prefix === DEFAULT_QUEUE_PREFIX ? 'perpflow:backfills' : `perpflow:backfills:${prefix}`,
    /** A job's resume point, below the checkpoint store's own `perpflow:ckpt:` prefix. */
    checkpoint: (id: string, exchange: string, symbol: string) =>
      prefix === DEFAULT_QUEUE_PREFIX
        ? `backfill:${id}:${exchange}|${symbol}`
        : `backfill:${prefix}:${id}:${exchange}|${symbol}`,
  };
}
