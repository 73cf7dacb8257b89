/**
 * Backfill state on the stack's real Redis is namespaced by the queue prefix: two
 * deployments (or test runs) sharing one Redis never list, count or cancel each
 * other's backfills, and the default prefix keeps the key names state was written
 * under before the prefix applied.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  BackfillControl,
  backfillKeys,
  DEFAULT_QUEUE_PREFIX,
  queueName,
} from '../../services/exchange-ingest/src/backfill/queue.js';
import { STACK, uniqueName } from '../src/harness.js';

describe('backfill state per queue prefix', () => {
  const redis = new Redis(STACK.redisUrl, { maxRetriesPerRequest: 3 });
  const prefixes = [uniqueName('it-bf-a'), uniqueName('it-bf-b')];
  const id = uniqueName('same-id');

  after(async () => {
    for (const p of prefixes) {
      const q = new Queue(queueName('binanceusdm', undefined, p), { connection: redis });
      await q.obliterate({ force: true });
      await q.close();
      const k = backfillKeys(p);
      await redis.del(k.meta(id), k.done(id), k.failed(id), k.index);
    }
    redis.disconnect();
  });

  it('keeps each prefix to its own backfills, even under one id', async () => {
    const [a, b] = prefixes.map((p) => new BackfillControl(redis, () => Date.UTC(2026, 0, 1), p)) as [
      BackfillControl,
      BackfillControl,
    ];
    const spec = {
      id,
      exchange: 'binanceusdm' as const,
      symbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT'],
      feeds: ['ohlcv' as const],
      timeframe: '1m' as const,
      fromMs: Date.UTC(2024, 0, 1),
      toMs: Date.UTC(2024, 0, 3),
      chunkMs: 86_400_000,
    };
    const started = await a.start(spec);
    assert.equal(started.total, 2, 'one job per symbol');
    assert.deepEqual(
      (await a.list()).map((s) => s.id),
      [id],
    );
    assert.deepEqual(await b.list(), [], 'the other prefix sees none of it');
    assert.equal(await b.status(id), null);
    await b.start({ ...spec, symbols: ['BTC/USDT:USDT'] });
    assert.equal((await a.status(id))?.total, 2, 'same id under another prefix changes nothing here');
    assert.equal((await b.status(id))?.total, 1);
    assert.equal(await redis.exists(`perpflow:backfill:${id}`), 0, 'nothing under the default names');
  });

  it('keeps the names it always had under the default prefix', () => {
    const k = backfillKeys(DEFAULT_QUEUE_PREFIX);
    assert.deepEqual(
      [k.meta('x'), k.done('x'), k.failed('x'), k.index, k.checkpoint('x', 'bybit', 'A/B')],
      [
        'perpflow:backfill:x',
        'perpflow:backfill:x:done',
        'perpflow:backfill:x:failed',
        'perpflow:backfills',
        'backfill:x:bybit|A/B',
      ],
    );
    assert.equal(backfillKeys('run-7').checkpoint('x', 'bybit', 'A/B'), 'backfill:run-7:x:bybit|A/B');
  });
});
