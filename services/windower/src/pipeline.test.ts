import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SinkUnavailable } from '@perpflow/contracts';
import { createRegistry } from '@perpflow/metrics';
import { createLogger } from '@perpflow/runtime';
import type { Batch } from 'kafkajs';
import type { ObjectStore } from './adapters/s3.js';
import { WindowStore } from './adapters/window-store.js';
import { objectKey } from './domain/keys.js';
import { decodeAlignedBars } from './domain/parquet.js';
import { sampleBar } from './domain/test-bars.js';
import { createWindowerMetrics } from './metrics.js';
import { type OffsetCommitter, WindowerPipeline } from './pipeline.js';

const TOPIC = 'perpflow.aligned.bar.v1';

/** An in-memory object store that logs every call and can fail the next puts. */
class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  readonly calls: string[] = [];
  failPuts = 0;
  async put(key: string, body: Uint8Array): Promise<void> {
    if (this.failPuts > 0) {
      this.failPuts--;
      throw new SinkUnavailable(`put ${key} refused`, { context: { key } });
    }
    this.calls.push(`put ${key.endsWith('.json') ? 'manifest' : 'object'}`);
    this.objects.set(key, body);
  }
  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(key) ?? null;
  }
  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix));
  }
  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}

function setup(store: MemoryStore) {
  const calls = store.calls;
  const consumer: OffsetCommitter & { paused: boolean } = {
    paused: false,
    async commitOffsets(offsets) {
      calls.push(`commit ${offsets.map((o) => `${o.partition}:${o.offset}`).join(',')}`);
    },
    pause() {
      this.paused = true;
      calls.push('pause');
    },
    resume() {
      this.paused = false;
      calls.push('resume');
    },
  };
  const pipeline = new WindowerPipeline({
    consumer,
    windows: new WindowStore(store, 'ds', 'test'),
    metrics: createWindowerMetrics(createRegistry('windower-test')),
    logger: createLogger({ service: 'windower-test', level: 'silent' }),
    now: () => 1_000,
    options: {
      topic: TOPIC,
      flushIntervalMs: 1_000,
      maxBufferedRows: 1_000,
      windowIdleMs: 60_000,
      retryMaxDelayMs: 50,
    },
  });
  return { pipeline, consumer };
}

function batch(partition: number, firstOffset: number, values: unknown[]): Batch {
  return {
    topic: TOPIC,
    partition,
    messages: values.map((v, i) => ({
      offset: String(firstOffset + i),
      key: null,
      value: Buffer.from(JSON.stringify(v)),
      headers: {},
      timestamp: '0',
      attributes: 0,
    })),
  } as unknown as Batch;
}

const key = objectKey('ds', {
  exchange: 'binanceusdm',
  symbol: 'BTC/USDT:USDT',
  timeframe: '1m',
  windowStartMs: Date.UTC(2024, 2, 1),
});

describe('windower pipeline', () => {
  it('commits offsets only after the object and then its manifest are written', async () => {
    const store = new MemoryStore();
    const { pipeline } = setup(store);
    pipeline.handleBatch(batch(0, 5, [sampleBar(0), sampleBar(1)]));
    await pipeline.flush();
    assert.deepEqual(store.calls, ['put object', 'put manifest', 'commit 0:7']);
  });

  it('after a restart, merges with the stored window: last revision wins, re-deliveries replace their row', async () => {
    const store = new MemoryStore();
    const first = setup(store).pipeline;
    first.handleBatch(batch(0, 0, [sampleBar(0), sampleBar(1, { revision: 2, close: 7 }), sampleBar(2)]));
    await first.flush();
    const second = setup(store).pipeline; // a new process: empty book
    second.handleBatch(
      batch(0, 1, [
        sampleBar(1, { revision: 1, close: 5 }),
        sampleBar(2, { knownAtMs: sampleBar(2).knownAtMs + 1 }),
        sampleBar(3),
      ]),
    );
    await second.flush();
    const bars = decodeAlignedBars(store.objects.get(key)!).bars;
    assert.deepEqual(
      bars.map((b) => [b.eventTimeMs, b.revision, b.close, b.knownAtMs]),
      [
        [sampleBar(0).eventTimeMs, 0, sampleBar(0).close, sampleBar(0).knownAtMs],
        [sampleBar(1).eventTimeMs, 2, 7, sampleBar(1).knownAtMs],
        [sampleBar(2).eventTimeMs, 0, sampleBar(2).close, sampleBar(2).knownAtMs + 1],
        [sampleBar(3).eventTimeMs, 0, sampleBar(3).close, sampleBar(3).knownAtMs],
      ],
    );
  });

  it('backs off on S3 errors with the consumer paused, then writes, commits and resumes', async () => {
    const store = new MemoryStore();
    const { pipeline, consumer } = setup(store);
    store.failPuts = 2;
    pipeline.handleBatch(batch(3, 10, [sampleBar(0)]));
    await pipeline.flush();
    assert.deepEqual(store.calls, ['pause', 'put object', 'put manifest', 'commit 3:11', 'resume']);
    assert.equal(consumer.paused, false);
  });

  it('after a rebalance, commits only the partitions it still owns', async () => {
    const store = new MemoryStore();
    const { pipeline } = setup(store);
    pipeline.handleBatch(batch(1, 0, [sampleBar(0)]));
    pipeline.handleBatch(batch(2, 4, [sampleBar(1)]));
    pipeline.onAssignment({ [TOPIC]: [2] });
    await pipeline.flush();
    assert.deepEqual(store.calls, ['put object', 'put manifest', 'commit 2:5']);
  });

  it('skips a record that fails the contract but still commits past it', async () => {
    const store = new MemoryStore();
    const { pipeline } = setup(store);
    pipeline.handleBatch(batch(1, 0, [{ nope: true }, sampleBar(0)]));
    await pipeline.flush();
    assert.deepEqual(store.calls, ['put object', 'put manifest', 'commit 1:2']);
  });
});
