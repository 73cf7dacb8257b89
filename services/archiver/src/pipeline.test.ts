import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeArchiveParquet, parseDayIndex, parseLedgerEntry } from '@perpflow/archive';
import { sampleCandle } from '@perpflow/contracts';
import { createLogger } from '@perpflow/runtime';
import { ArchiveStore } from './adapters/archive-store.js';
import type { ObjectStore } from './adapters/s3.js';
import { createArchiverMetrics } from './metrics.js';
import { type ConsumedBatch, ArchiverPipeline } from './pipeline.js';

const TOPIC = 'perpflow.raw.ohlcv.v1';

class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  async put(key: string, body: Uint8Array): Promise<void> {
    this.objects.set(key, body);
  }
  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(key) ?? null;
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix));
  }
}

function batch(offsets: number[]): ConsumedBatch {
  return {
    topic: TOPIC,
    partition: 0,
    messages: offsets.map((o) => ({
      offset: String(o),
      timestamp: String(1_709_251_200_000 + o),
      key: Buffer.from('binanceusdm|BTC/USDT:USDT'),
      value: Buffer.from(JSON.stringify(sampleCandle({ volume: o }))),
      headers: { 'perpflow-schema': Buffer.from('candle/v1') },
    })),
  };
}

function pipeline(store: MemoryStore, clock: { ms: number }, maxObjectRecords = 100) {
  const commits: string[] = [];
  const p = new ArchiverPipeline({
    consumer: { commitOffsets: async (o) => void commits.push(...o.map((c) => c.offset)) },
    store: new ArchiveStore(store),
    metrics: createArchiverMetrics(),
    logger: createLogger({ service: 'archiver-test', level: 'fatal' }),
    now: () => clock.ms,
    options: {
      prefix: 'ds',
      feeds: new Map([[TOPIC, 'ohlcv']]),
      limits: { maxObjectBytes: 1 << 20, maxObjectRecords, maxObjectAgeMs: 1_000 },
      retryMaxDelayMs: 10,
    },
  });
  return { p, commits };
}

const parquetOffsets = (store: MemoryStore) =>
  [...store.objects]
    .filter(([k]) => k.endsWith('.parquet'))
    .flatMap(([, v]) => decodeArchiveParquet(v).map((r) => Number(r.offset)))
    .sort((a, b) => a - b);

describe('ArchiverPipeline', () => {
  it('writes a partition once its oldest record is max-age old, then commits the next offset', async () => {
    const store = new MemoryStore();
    const clock = { ms: 0 };
    const { p, commits } = pipeline(store, clock);
    await p.handleBatch(batch([0, 1, 2]));
    await p.flush();
    assert.equal(parquetOffsets(store).length, 0, 'not due before max age');
    clock.ms = 1_000;
    await p.flush();
    assert.deepEqual(parquetOffsets(store), [0, 1, 2]);
    assert.deepEqual(commits, ['3']);
    const index = [...store.objects].find(([k]) => k.endsWith('_index.json'));
    assert.deepEqual(
      parseDayIndex(index![1]).objects.map((o) => [o.firstOffset, o.lastOffset, o.rowCount]),
      [['0', '2', 3]],
    );
  });

  it('sends group heartbeats while a batch waits for a slow size-triggered flush', {
    timeout: 15_000,
  }, async () => {
    let beat: () => void = () => undefined;
    const beaten = new Promise<void>((r) => {
      beat = r;
    });
    const store = new MemoryStore();
    const slow = Object.assign(Object.create(store) as MemoryStore, {
      // S3 answers only once the group has heard from us: without heartbeats this never ends.
      put: async (key: string, body: Uint8Array) => {
        await beaten;
        await store.put(key, body);
      },
    });
    const { p, commits } = pipeline(slow, { ms: 0 }, 2);
    let heartbeats = 0;
    await p.handleBatch(batch([0, 1]), async () => {
      heartbeats++;
      beat();
    });
    assert.ok(heartbeats >= 1);
    assert.deepEqual(commits, ['2']);
  });

  it('rebuilds an unreadable day index from the manifests of its folder', async () => {
    const store = new MemoryStore();
    const clock = { ms: 0 };
    const { p } = pipeline(store, clock);
    await p.handleBatch(batch([0, 1]));
    clock.ms = 1_000;
    await p.flush();
    const indexKey = [...store.objects.keys()].find((k) => k.endsWith('_index.json'))!;
    store.objects.set(indexKey, new TextEncoder().encode('{"truncated'));
    await p.handleBatch(batch([2]));
    clock.ms = 2_000;
    await p.flush();
    assert.deepEqual(
      parseDayIndex(store.objects.get(indexKey)!).objects.map((o) => [o.firstOffset, o.lastOffset]),
      [
        ['0', '1'],
        ['2', '2'],
      ],
    );
  });

  it('after a crash, repeats the crashed writer’s range from its ledger: same keys, same bytes', async () => {
    const store = new MemoryStore();
    const clock = { ms: 0 };
    const first = pipeline(store, clock);
    await first.p.handleBatch(batch([0, 1, 2, 3, 4]));
    clock.ms = 1_000;
    await first.p.flush(); // offsets 0..4 in one object; say the commit was lost
    const before = new Map(store.objects);
    // The restarted writer gets the records in smaller batches and would rotate at 2 records.
    const second = pipeline(store, { ms: 5_000 }, 2);
    await second.p.handleBatch(batch([0, 1]));
    await second.p.handleBatch(batch([2, 3]));
    await second.p.flush(true);
    assert.deepEqual(second.commits, [], 'the range 0..4 is not complete yet');
    await second.p.handleBatch(batch([4, 5]));
    await second.p.flush();
    assert.deepEqual(second.commits, ['5']);
    assert.deepEqual([...store.objects.keys()].sort(), [...before.keys()].sort(), 'no new key');
    for (const [k, v] of before) assert.deepEqual(Buffer.from(store.objects.get(k)!), Buffer.from(v), k);
    const ledgers = [...store.objects]
      .filter(([k]) => k.includes('/_ledger/'))
      .map(([, v]) => parseLedgerEntry(v));
    assert.deepEqual(
      ledgers.map((l) => [l.firstOffset, l.lastOffset]),
      [['0', '4']],
    );
  });
});
