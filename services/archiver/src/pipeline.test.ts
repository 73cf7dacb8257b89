import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ArchiveFeed,
  type ArchiveHeader,
  decodeArchiveParquet,
  parseDayIndex,
  parseLedgerEntry,
} from '@perpflow/archive';
import { SinkUnavailable, sampleCandle } from '@perpflow/contracts';
import { createLogger } from '@perpflow/runtime';
import { ArchiveStore } from './adapters/archive-store.js';
import type { ObjectStore } from './adapters/s3.js';
import { createArchiverMetrics } from './metrics.js';
import { type ConsumedBatch, ArchiverPipeline, headersOf, RepeatedBytes } from './pipeline.js';

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

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    fire = r;
  });
  return { promise, fire };
}

/** `store` whose puts (and gets, with `gets`) call `onRequest`, then wait for `gate` before they run. */
function gatedStore(
  store: MemoryStore,
  gate: Promise<void>,
  o: { gets?: boolean; onRequest?: () => void } = {},
): MemoryStore {
  const wait = async () => {
    o.onRequest?.();
    await gate;
  };
  return Object.assign(Object.create(store) as MemoryStore, {
    put: async (key: string, body: Uint8Array) => {
      await wait();
      await store.put(key, body);
    },
    ...(o.gets
      ? {
          get: async (key: string) => {
            await wait();
            return store.get(key);
          },
        }
      : {}),
  });
}

function batch(offsets: number[], partition = 0): ConsumedBatch {
  return {
    topic: TOPIC,
    partition,
    messages: offsets.map((o) => ({
      offset: String(o),
      timestamp: String(1_709_251_200_000 + o),
      key: Buffer.from('binanceusdm|BTC/USDT:USDT'),
      value: Buffer.from(JSON.stringify(sampleCandle({ volume: o }))),
      headers: { 'perpflow-schema': Buffer.from('candle/v1') },
    })),
  };
}

function pipeline(
  store: MemoryStore,
  clock: { ms: number },
  maxObjectRecords = 100,
  maxBufferedBytes = 1 << 30,
  feeds: ReadonlyMap<string, ArchiveFeed> = new Map([[TOPIC, 'ohlcv']]),
) {
  const commits: string[] = [];
  const p = new ArchiverPipeline({
    consumer: {
      commitOffsets: async (o) =>
        void commits.push(...o.map((c) => (c.partition === 0 ? c.offset : `${c.partition}:${c.offset}`))),
    },
    store: new ArchiveStore(store),
    metrics: createArchiverMetrics(),
    logger: createLogger({ service: 'archiver-test', level: 'fatal' }),
    now: () => clock.ms,
    options: {
      prefix: 'ds',
      feeds,
      limits: { maxObjectBytes: 1 << 20, maxObjectRecords, maxObjectAgeMs: 1_000 },
      retryMaxDelayMs: 10,
      maxBufferedBytes,
    },
  });
  return { p, commits };
}

const parquetOffsets = (store: MemoryStore) =>
  [...store.objects]
    .filter(([k]) => k.endsWith('.parquet'))
    .flatMap(([, v]) => decodeArchiveParquet(v).map((r) => Number(r.offset)))
    .sort((a, b) => a - b);

/**
 * A store whose puts take 5 ms, noting every key put (in order) and the most Parquet
 * objects in flight at once.
 */
class ParquetCountingStore extends MemoryStore {
  readonly puts: string[] = [];
  mostParquet = 0;
  private parquetInFlight = 0;
  override async put(key: string, body: Uint8Array): Promise<void> {
    const parquet = key.endsWith('.parquet');
    if (parquet) this.mostParquet = Math.max(this.mostParquet, ++this.parquetInFlight);
    await new Promise((r) => setTimeout(r, 5));
    if (parquet) this.parquetInFlight--;
    this.puts.push(key);
    return super.put(key, body);
  }
}

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

  it("keeps a copy of each record's bytes, not a view of the fetched response (kafkajs may reuse or hold it)", async () => {
    const store = new MemoryStore();
    const clock = { ms: 0 };
    const { p } = pipeline(store, clock);
    // The batch's bytes as views of one larger response, as kafkajs decodes them.
    const original = batch([0, 1]);
    const response = Buffer.alloc(64 * 1024, 0x20);
    let at = 1_000;
    const view = (b: Buffer): Buffer => {
      b.copy(response, at);
      at += b.byteLength + 7;
      return response.subarray(at - b.byteLength - 7, at - 7);
    };
    const fetched: ConsumedBatch = {
      ...original,
      messages: original.messages.map((m) => ({
        ...m,
        key: view(m.key!),
        value: view(m.value!),
        headers: { 'perpflow-schema': view(m.headers!['perpflow-schema'] as Buffer) },
      })),
    };
    await p.handleBatch(fetched);
    response.fill(0x58); // the response's memory reused before the write
    clock.ms = 1_000;
    await p.flush();
    const rows = [...store.objects]
      .filter(([k]) => k.endsWith('.parquet'))
      .flatMap(([, v]) => decodeArchiveParquet(v));
    assert.deepEqual(
      rows.map((r) => [
        r.key && Buffer.from(r.key).toString(),
        r.value && Buffer.from(r.value).toString(),
        r.headers.map((h) => Buffer.from(h.value!).toString()),
      ]),
      original.messages.map((m) => [m.key!.toString(), m.value!.toString(), ['candle/v1']]),
    );
  });

  it('archives each record with its own key and headers while equal ones are shared', async () => {
    const store = new MemoryStore();
    const clock = { ms: 0 };
    const { p } = pipeline(store, clock, 1_000);
    // Keys and header sets drawn from few choices, as a producer's batches give them, with
    // a repeated name, a null value, values past the shared length, equal bytes under another
    // name and a header-less record.
    let seed = 7;
    const pick = <T>(xs: readonly T[]): T => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return xs[seed % xs.length]!;
    };
    const long = Buffer.alloc(200, 0x61);
    const headerSets: ConsumedBatch['messages'][number]['headers'][] = [
      {
        'perpflow-schema': Buffer.from('candle/v1'),
        'perpflow-produced-at-ms': Buffer.from('1709251200000'),
      },
      {
        'perpflow-schema': Buffer.from('candle/v1'),
        'perpflow-produced-at-ms': Buffer.from('1709251200001'),
      },
      { 'perpflow-schema': [Buffer.from('a'), Buffer.from('b')], 'perpflow-source': Buffer.from('live') },
      { 'perpflow-schema': Buffer.from('candle/v1'), x: null as unknown as Buffer },
      { big: long },
      { other: Buffer.from('candle/v1') },
      {},
    ];
    const keys = [Buffer.from('binanceusdm|BTC/USDT:USDT'), Buffer.from('okx|ETH/USDT:USDT'), null, long];
    const messages = Array.from({ length: 300 }, (_, o) => ({
      offset: String(o),
      timestamp: String(1_709_251_200_000 + o),
      key: pick(keys),
      value: Buffer.from(JSON.stringify(sampleCandle({ volume: o }))),
      headers: pick(headerSets),
    }));
    for (let at = 0; at < messages.length; at += 50)
      await p.handleBatch({ topic: TOPIC, partition: 0, messages: messages.slice(at, at + 50) });
    clock.ms = 1_000;
    await p.flush();
    const rows = [...store.objects]
      .filter(([k]) => k.endsWith('.parquet'))
      .flatMap(([, v]) => decodeArchiveParquet(v))
      .sort((a, b) => Number(a.offset) - Number(b.offset));
    const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('latin1'));
    assert.equal(rows.length, 300);
    assert.deepEqual(
      rows.map((r) => [r.offset, text(r.key), r.headers.map((h) => [h.name, text(h.value)])]),
      messages.map((m) => [
        m.offset,
        text(m.key),
        Object.entries(m.headers ?? {}).flatMap(([name, v]) =>
          (Array.isArray(v) ? v : [v]).map((one) => [name, text(one as Buffer | null)]),
        ),
      ]),
    );
  });

  it('past the bound on bytes held in all buffers, writes the fullest buffers until half is left', async () => {
    const store = new MemoryStore();
    const clock = { ms: 0 };
    const recordBytes = (b: ConsumedBatch) =>
      b.messages.reduce(
        (n, m) => n + 64 + m.key!.byteLength + m.value!.byteLength + 'perpflow-schema'.length + 9,
        0,
      );
    const perRecord = recordBytes(batch([0]));
    // Room for 10 records in all; the age limit (1 s) never passes here.
    const { p, commits } = pipeline(store, clock, 100, 10 * perRecord);
    await p.handleBatch(batch([0, 1, 2, 3], 1));
    await p.handleBatch(batch([0, 1, 2, 3, 4, 5], 0));
    assert.equal(p.bufferedBytes(), 10 * perRecord, 'at the bound: nothing written yet');
    assert.equal(parquetOffsets(store).length, 0);
    await p.handleBatch(batch([4], 1));
    // 11 records: partition 0 (6) is the fullest and is written whole; 5 are left (≤ half).
    assert.deepEqual(parquetOffsets(store), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(commits, ['6']);
    assert.equal(p.bufferedBytes(), 5 * perRecord);
    // Every record still ends in exactly one object.
    await p.flush(true);
    assert.deepEqual(parquetOffsets(store), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]);
    assert.deepEqual(commits, ['6', '1:5']);
  });

  it('past the bound, writes the fullest buffers 8 at once', async () => {
    const store = new ParquetCountingStore();
    const { p, commits } = pipeline(store, { ms: 0 }, 100, 1 << 30);
    for (let partition = 0; partition < 20; partition++) await p.handleBatch(batch([0, 1, 2], partition));
    const perBatch = p.bufferedBytes() / 20;
    // A second pipeline with the bound just under those 20 batches: the 20th passes it, and
    // 11 buffers must go to leave at most half (9.75 batches).
    const slow = new ParquetCountingStore();
    const q = pipeline(slow, { ms: 0 }, 100, Math.floor(19.5 * perBatch));
    for (let partition = 0; partition < 20; partition++) await q.p.handleBatch(batch([0, 1, 2], partition));
    assert.equal(q.commits.length, 11, 'eleven buffers written whole');
    assert.equal(q.p.bufferedBytes(), 9 * perBatch);
    assert.equal(slow.mostParquet, 8, 'eight at once');
    assert.deepEqual(commits, []);
    assert.equal(store.objects.size, 0);
  });

  it("flushes feeds and a feed's topic-partitions at once, each day index updated by one flush at a time", async () => {
    // A store whose requests take a few ms, noting the flushes in flight (ledger put to last
    // index put) per feed, and the read-modify-writes of each day index (get to put).
    const OI = 'perpflow.raw.open_interest.v1';
    const feedOfTopic = new Map<string, ArchiveFeed>([
      [TOPIC, 'ohlcv'],
      [OI, 'open_interest'],
    ]);
    const inFlight = new Map<string, number>();
    let most = 0;
    let mostOfOneFeed = 0;
    const updating = new Map<string, number>();
    let mostOnOneIndex = 0;
    class SlowStore extends MemoryStore {
      override async get(key: string): Promise<Uint8Array | null> {
        if (key.endsWith('_index.json')) {
          updating.set(key, (updating.get(key) ?? 0) + 1);
          mostOnOneIndex = Math.max(mostOnOneIndex, updating.get(key)!);
        }
        await new Promise((r) => setTimeout(r, 3));
        return super.get(key);
      }
      override async put(key: string, body: Uint8Array): Promise<void> {
        await new Promise((r) => setTimeout(r, 3));
        const ledger = /_ledger\/([^/]+)\//.exec(key);
        if (ledger) {
          const feed = feedOfTopic.get(ledger[1]!)!;
          inFlight.set(feed, (inFlight.get(feed) ?? 0) + 1);
          mostOfOneFeed = Math.max(mostOfOneFeed, inFlight.get(feed)!);
          most = Math.max(
            most,
            [...inFlight.values()].reduce((a, b) => a + b, 0),
          );
        }
        if (key.endsWith('_index.json')) {
          const feed = /feed=([^/]+)\//.exec(key)![1]!;
          inFlight.set(feed, inFlight.get(feed)! - 1);
          updating.set(key, updating.get(key)! - 1);
        }
        return super.put(key, body);
      }
    }
    const store = new SlowStore();
    const clock = { ms: 0 };
    const { p, commits } = pipeline(store, clock, 100, 1 << 30, feedOfTopic);
    for (const partition of [0, 1, 2]) {
      await p.handleBatch(batch([0, 1], partition));
      await p.handleBatch({ ...batch([0, 1], partition), topic: OI });
    }
    clock.ms = 1_000;
    await p.flush();
    assert.equal(parquetOffsets(store).length, 12, 'every record written');
    assert.equal(mostOfOneFeed, 3, "a feed's three topic-partitions at once");
    assert.equal(most, 6, 'both feeds at once');
    assert.equal(mostOnOneIndex, 1, 'one update of a day index at a time');
    // Every partition's object is in its feed's one day index: no update was lost.
    const indexes = [...store.objects].filter(([k]) => k.endsWith('_index.json'));
    assert.equal(indexes.length, 2);
    for (const [key, raw] of indexes)
      assert.deepEqual(
        parseDayIndex(raw)
          .objects.map((o) => o.partition)
          .sort(),
        [0, 1, 2],
        key,
      );
    assert.deepEqual([...commits].sort(), ['1:2', '1:2', '2', '2', '2:2', '2:2']);
  });

  it("shares one read and one write of a day index among the partitions' flushes waiting for it", async () => {
    // Requests take a few ms; the day index's reads and writes are counted.
    let indexGets = 0;
    let indexPuts = 0;
    class SlowStore extends MemoryStore {
      override async get(key: string): Promise<Uint8Array | null> {
        if (key.endsWith('_index.json')) indexGets++;
        await new Promise((r) => setTimeout(r, 3));
        return super.get(key);
      }
      override async put(key: string, body: Uint8Array): Promise<void> {
        if (key.endsWith('_index.json')) indexPuts++;
        await new Promise((r) => setTimeout(r, 3));
        return super.put(key, body);
      }
    }
    const store = new SlowStore();
    const clock = { ms: 0 };
    const { p, commits } = pipeline(store, clock);
    // Four partitions flush at once (FLUSHES_PER_FEED): the first to reach the index reads
    // and writes it alone, the three that arrive meanwhile share the next read and write.
    for (const partition of [0, 1, 2, 3]) await p.handleBatch(batch([0, 1], partition));
    clock.ms = 1_000;
    await p.flush();
    assert.deepEqual([indexGets, indexPuts], [2, 2]);
    const index = [...store.objects].find(([k]) => k.endsWith('_index.json'))!;
    assert.deepEqual(
      parseDayIndex(index[1])
        .objects.map((o) => o.partition)
        .sort(),
      [0, 1, 2, 3],
      'every partition in the index',
    );
    assert.deepEqual([...commits].sort(), ['1:2', '2', '2:2', '3:2']);
  });

  it('a failed day-index update is retried and does not hold up the next updates of that index', async () => {
    // The first put of the index fails (S3 unavailable); the flush is retried whole.
    let failed = 0;
    class FlakyStore extends MemoryStore {
      override async put(key: string, body: Uint8Array): Promise<void> {
        if (key.endsWith('_index.json') && failed === 0) {
          failed++;
          throw new SinkUnavailable('index put refused once');
        }
        return super.put(key, body);
      }
    }
    const store = new FlakyStore();
    const clock = { ms: 0 };
    const { p, commits } = pipeline(store, clock);
    for (const partition of [0, 1, 2, 3, 4]) await p.handleBatch(batch([0, 1, 2], partition));
    clock.ms = 1_000;
    await p.flush();
    assert.equal(failed, 1);
    const index = [...store.objects].find(([k]) => k.endsWith('_index.json'))!;
    assert.deepEqual(
      parseDayIndex(index[1])
        .objects.map((o) => o.partition)
        .sort(),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual([...commits].sort(), ['1:3', '2:3', '3', '3:3', '4:3']);
  });

  it('writes a full buffer beside consumption: the batch that filled it does not wait for S3', {
    timeout: 15_000,
  }, async () => {
    const s3Open = signal();
    const firstRequest = signal();
    const store = new MemoryStore();
    // Every request waits until the test opens S3.
    const gated = gatedStore(store, s3Open.promise, { gets: true, onRequest: firstRequest.fire });
    const { p, commits } = pipeline(gated, { ms: 0 }, 2);
    let heartbeats = 0;
    const beat = async () => void heartbeats++;
    await p.handleBatch(batch([0, 1]), beat);
    await firstRequest.promise; // the first object's flush waits on S3
    // The next object's worth is buffered meanwhile.
    await p.handleBatch(batch([2, 3]), beat);
    assert.equal(p.busy, true);
    assert.deepEqual(commits, []);
    s3Open.fire();
    await p.flush();
    assert.deepEqual(commits, ['2', '4']);
    assert.deepEqual(parquetOffsets(store), [0, 1, 2, 3]);
    assert.equal(heartbeats, 0, 'no batch waited');
  });

  it("writes a flush's objects (one per exchange and date) at once, each object before its manifest and the manifest before its index", async () => {
    const store = new ParquetCountingStore();
    const { puts } = store;
    const clock = { ms: 0 };
    const { p, commits } = pipeline(store, clock);
    const exchanges = ['binanceusdm', 'bybit', 'okx'] as const;
    const day = 86_400_000;
    // Offsets 0-5: three exchanges, each on two dates (of the event time).
    await p.handleBatch({
      topic: TOPIC,
      partition: 0,
      messages: [0, 1, 2, 3, 4, 5].map((o) => ({
        offset: String(o),
        timestamp: String(1_709_251_200_000 + o),
        key: Buffer.from(`${exchanges[o % 3]}|BTC/USDT:USDT`),
        value: Buffer.from(
          JSON.stringify(
            sampleCandle({
              exchange: exchanges[o % 3]!,
              eventTimeMs: sampleCandle().eventTimeMs + (o < 3 ? 0 : day),
            }),
          ),
        ),
        headers: { 'perpflow-schema': Buffer.from('candle/v1') },
      })),
    });
    clock.ms = 1_000;
    await p.flush();
    assert.deepEqual(commits, ['6']);
    const parquet = puts.filter((k) => k.endsWith('.parquet'));
    assert.equal(parquet.length, 6);
    assert.equal(store.mostParquet, 6, 'the six objects at once');
    assert.ok(puts[0]!.includes('/_ledger/'), 'the ledger entry first');
    for (const key of parquet) {
      const manifest = puts.findIndex((k) => k !== key && k.startsWith(key.replace(/\.parquet$/, '')));
      assert.ok(manifest > puts.indexOf(key), `${key}: its manifest after it`);
    }
    const indexes = [...store.objects.keys()].filter((k) => k.endsWith('_index.json'));
    assert.equal(indexes.length, 6);
    for (const key of indexes) {
      const { objects } = parseDayIndex(store.objects.get(key)!);
      assert.equal(objects.length, 1, key);
    }
  });

  it('makes a batch wait past ARCHIVER_MAX_BUFFERED_BYTES, sending group heartbeats meanwhile', {
    timeout: 15_000,
  }, async () => {
    const beaten = signal();
    // S3 answers only once the group has heard from us: without heartbeats this never ends.
    const slow = gatedStore(new MemoryStore(), beaten.promise);
    const { p, commits } = pipeline(slow, { ms: 0 }, 100, 1);
    let heartbeats = 0;
    await p.handleBatch(batch([0, 1]), async () => {
      heartbeats++;
      beaten.fire();
    });
    assert.ok(heartbeats >= 1);
    assert.deepEqual(commits, ['2'], 'the bound passed: the batch returned once its buffer was durable');
    assert.equal(p.bufferedBytes(), 0);
  });

  for (const waits of [false, true])
    it(`stops flushing when a commit says this member left the group, and rejects ${waits ? 'the batch that waits' : 'the next batch'}, until the next join`, {
      timeout: 15_000,
    }, async () => {
      const store = new MemoryStore();
      const expelled = Object.assign(new Error('The coordinator is not aware of this member'), {
        type: 'UNKNOWN_MEMBER_ID',
      });
      const commits: string[] = [];
      let refuse = true;
      const metrics = createArchiverMetrics();
      const p = new ArchiverPipeline({
        consumer: {
          commitOffsets: async (o) => {
            if (refuse) throw expelled;
            commits.push(...o.map((c) => c.offset));
          },
        },
        store: new ArchiveStore(store),
        metrics,
        logger: createLogger({ service: 'archiver-test', level: 'fatal' }),
        now: () => 0,
        options: {
          prefix: 'ds',
          feeds: new Map([[TOPIC, 'ohlcv']]),
          limits: { maxObjectBytes: 1 << 20, maxObjectRecords: 2, maxObjectAgeMs: 1_000 },
          retryMaxDelayMs: 10,
          // Past the bound the batch waits for the write (and ends with its error).
          maxBufferedBytes: waits ? 1 : 1 << 30,
        },
      });
      // Six records due as three objects: the first commit is refused, and the two others
      // must not be written by a member whose partitions may be another's now.
      if (waits) await assert.rejects(p.handleBatch(batch([0, 1, 2, 3, 4, 5])), (err) => err === expelled);
      else {
        await p.handleBatch(batch([0, 1, 2, 3, 4, 5]));
        await p.flush();
      }
      assert.deepEqual(parquetOffsets(store), [0, 1]);
      assert.equal(p.membershipLost, true);
      assert.equal((await metrics.membershipLost.get()).values[0]?.value, 1);
      // The age tick writes nothing either, and a batch delivered meanwhile is refused unread.
      await p.flush(true);
      assert.deepEqual(parquetOffsets(store), [0, 1]);
      await assert.rejects(p.handleBatch(batch([6, 7])), (err) => err === expelled);
      // kafkajs rejoins and re-delivers from the last commit (0): the ledger pins [0, 1] again.
      p.onGroupJoin();
      refuse = false;
      assert.equal(p.membershipLost, false);
      await p.handleBatch(batch([0, 1, 2, 3, 4, 5]));
      await p.flush();
      assert.deepEqual(commits, ['2', '4', '6']);
      assert.deepEqual(parquetOffsets(store), [0, 1, 2, 3, 4, 5]);
    });

  it('a heartbeat refused during a flush ends the batch with the broker’s error; a refusal of an earlier generation is ignored', {
    timeout: 20_000,
  }, async () => {
    const expelled = Object.assign(new Error('The generation id provided is not current'), {
      type: 'ILLEGAL_GENERATION',
    });
    /** A store whose puts wait until the group has heard from us (the first heartbeat, ~3 s). */
    const gated = (store: MemoryStore) => {
      const opened = signal();
      return { s: gatedStore(store, opened.promise), open: opened.fire };
    };
    const store = new MemoryStore();
    const one = gated(store);
    // Past the memory bound: the batch waits for the write, heartbeating.
    const { p, commits } = pipeline(one.s, { ms: 0 }, 2, 1);
    const handled = p.handleBatch(batch([0, 1, 2, 3]), async () => {
      one.open();
      throw expelled;
    });
    await assert.rejects(handled, (err) => err === expelled);
    // The object in flight when the heartbeat failed completes; the next one is not written.
    assert.deepEqual(commits, ['2']);
    assert.deepEqual(parquetOffsets(store), [0, 1]);

    // A heartbeat of the old generation answering after the rejoin must not end the new one.
    const other = new MemoryStore();
    const two = gated(other);
    const { p: q, commits: qCommits } = pipeline(two.s, { ms: 0 }, 2, 1);
    let late: (err: unknown) => void = () => undefined;
    const lateBeat = new Promise<void>((_, reject) => {
      late = reject;
    });
    let beats = 0;
    await q.handleBatch(batch([0, 1]), () => {
      beats++;
      two.open();
      return lateBeat;
    });
    assert.equal(beats, 1);
    q.onGroupJoin();
    late(expelled);
    await new Promise((r) => setImmediate(r));
    assert.equal(q.membershipLost, false);
    await q.handleBatch(batch([2, 3]));
    assert.deepEqual(qCommits, ['2', '4']);
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

describe('RepeatedBytes and headersOf', () => {
  it('gives one copy of equal bytes, never a view of the source, and starts over past its bound', () => {
    const r = new RepeatedBytes(2, 8);
    const source = Buffer.from('abcabc');
    const a = r.of(source.subarray(0, 3));
    assert.equal(r.of(Buffer.from('abc')), a, 'equal bytes: the same copy');
    source.fill(0x7a);
    assert.equal(a.toString(), 'abc', 'a copy, not a view');
    const long = Buffer.from('0123456789');
    assert.notEqual(r.of(long), r.of(long), 'past maxLength: a copy each time');
    assert.equal(r.of(long).toString(), '0123456789');
    r.of(Buffer.from('x'));
    r.of(Buffer.from('y')); // the third entry: the table starts over
    assert.notEqual(r.of(Buffer.from('abc')), a);
    assert.equal(r.text('binanceusdm'), r.text(`binance${'usdm'}`));
    assert.equal(r.text(null), null);
  });

  it('shares equal header pairs, and the previous array only when every pair is the same', () => {
    const r = new RepeatedBytes();
    const h = (produced: string) => ({ s: Buffer.from('candle/v1'), t: Buffer.from(produced) });
    const first = headersOf(h('1'), r);
    assert.equal(headersOf(h('1'), r, first), first);
    const second = headersOf(h('2'), r, first);
    assert.notEqual(second, first);
    assert.equal(second[0], first[0], 'the equal pair is one object');
    assert.deepEqual(
      second.map((x) => [x.name, x.value?.toString()]),
      [
        ['s', 'candle/v1'],
        ['t', '2'],
      ],
    );
    const fewer = headersOf({ s: Buffer.from('candle/v1') }, r, first);
    assert.notEqual(fewer, first, 'a prefix of the previous pairs is not the previous array');
    assert.equal(fewer.length, 1);
    const repeated = headersOf({ s: [Buffer.from('a'), Buffer.from('b')], n: null as unknown as Buffer }, r);
    assert.deepEqual(
      repeated.map((x) => [x.name, x.value === null ? null : x.value.toString()]),
      [
        ['s', 'a'],
        ['s', 'b'],
        ['n', null],
      ],
    );
    assert.notEqual(headersOf({ s: Buffer.from('a') }, r)[0]!.value, null);
  });

  it('keeps pairs apart whose name and value would run together', () => {
    const r = new RepeatedBytes();
    const pairs = (h: ArchiveHeader[]) =>
      h.map((x) => [x.name, x.value === null ? null : Buffer.from(x.value).toString('latin1')]);
    // With the name and the value only joined by a separator, these spell the same text.
    assert.deepEqual(pairs(headersOf({ 'a\u0000\u0001x': null as unknown as Buffer }, r)), [
      ['a\u0000\u0001x', null],
    ]);
    assert.deepEqual(pairs(headersOf({ a: Buffer.from('x\u0000', 'latin1') }, r)), [['a', 'x\u0000']]);
    assert.deepEqual(pairs(headersOf({ 'a=': Buffer.from('b') }, r)), [['a=', 'b']]);
    assert.deepEqual(pairs(headersOf({ a: Buffer.from('=b') }, r)), [['a', '=b']]);
  });
});
