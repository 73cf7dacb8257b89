/**
 * The aligner's per-partition state in the stack's Redis (REDIS_URL): snapshot + write-ahead
 * log of batches, the compare-and-set on the sequence that keeps one history per partition,
 * and byte-exact values (a record that is not UTF-8 must come back as it went in, for its
 * dead letter). Assumes `npm run stack -- up` (or REDIS_URL of another stack).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  CorruptPartitionStateError,
  encodeLoggedBatchFormat1,
  type LoggedBatch,
  RedisPartitionStateStore,
  StalePartitionStateError,
} from '../../services/aligner/src/adapters/partition-state.js';
import { STACK, uniqueName } from '../src/harness.js';

const TOPIC = 'perpflow.raw.ohlcv.v1';

function entry(seq: number, firstOffset: number, values: (Buffer | null)[]): LoggedBatch {
  return {
    seq,
    offsets: { [TOPIC]: String(firstOffset + values.length) },
    batches: [
      {
        topic: TOPIC,
        partition: 2,
        feed: 'ohlcv',
        nowMs: 1_700_000_000_000 + seq,
        messages: values.map((value, i) => ({
          offset: String(firstOffset + i),
          key: 'binanceusdm|BTC/USDT:USDT',
          value,
          headers: { 'perpflow-producer': 'exchange-ingest' },
          timestampMs: 1_699_999_000_000 + firstOffset + i,
        })),
      },
    ],
  };
}

describe('aligner partition state in Redis', () => {
  const redis = new Redis(STACK.redisUrl, { maxRetriesPerRequest: null });
  const ns = uniqueName('it-aligner-state');
  after(async () => {
    const keys = await redis.keys(`perpflow:aligner:${ns}:p*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps the log in order, with byte-exact values, until a snapshot empties it', async () => {
    const store = new RedisPartitionStateStore(redis, ns);
    assert.deepEqual(await store.load(2), { seq: 0, snapshot: null, log: [] });
    const notUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0xc3]);
    const json = Buffer.from('{"close":101.5,"symbol":"BTC/USDT:USDT","note":"é"}');
    await store.append(2, entry(1, 0, [json, notUtf8]));
    await store.append(2, entry(2, 2, [null, json]));

    const loaded = await store.load(2);
    assert.equal(loaded.seq, 2);
    assert.equal(loaded.snapshot, null);
    assert.deepEqual(
      loaded.log.map((e) => [e.seq, e.batches[0]!.nowMs, e.offsets[TOPIC]]),
      [
        [1, 1_700_000_000_001, '2'],
        [2, 1_700_000_000_002, '4'],
      ],
    );
    const values = loaded.log.flatMap((e) => e.batches[0]!.messages.map((m) => m.value));
    assert.deepEqual(
      loaded.log.flatMap((e) => e.batches[0]!.messages.map((m) => m.timestampMs)),
      [0, 1, 2, 3].map((i) => 1_699_999_000_000 + i),
      "each record keeps its timestamp (the rules' now)",
    );
    assert.ok(values[0]!.equals(json));
    assert.ok(values[1]!.equals(notUtf8), `non-UTF-8 bytes: ${values[1]!.toString('hex')}`);
    assert.equal(values[2], null);
    assert.deepEqual(loaded.log[0]!.batches[0]!.messages[0]!.headers, {
      'perpflow-producer': 'exchange-ingest',
    });

    await store.snapshot(2, 2, {
      offsets: { [TOPIC]: '4' },
      stateJson: ['{"v":1,', '"streams":{}}'],
      savedAtMs: 5,
    });
    const after = await store.load(2);
    assert.deepEqual(after, {
      seq: 2,
      snapshot: { offsets: { [TOPIC]: '4' }, state: { v: 1, streams: {} }, savedAtMs: 5 },
      log: [],
    });
    // The sequence goes on after a snapshot: an old writer cannot mistake a new log for its own.
    await store.append(2, entry(3, 4, [json]));
    assert.deepEqual(
      (await store.load(2)).log.map((e) => e.seq),
      [3],
    );
  });

  it('replays a log an earlier version began (JSON entries) and this one continued (binary entries)', async () => {
    const store = new RedisPartitionStateStore(redis, ns);
    const p = 9;
    const notUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0xc3]);
    const json = Buffer.from('{"close":101.5,"note":"é"}');
    // What the earlier version's append wrote: the JSON text, and the sequence.
    const old = [entry(1, 0, [json, notUtf8]), entry(2, 2, [null])];
    await redis.rpush(`perpflow:aligner:${ns}:p${p}:log`, ...old.map(encodeLoggedBatchFormat1));
    await redis.set(`perpflow:aligner:${ns}:p${p}:seq`, '2');
    const next = entry(3, 3, [notUtf8, json]);
    await store.append(p, next);
    const raw = await redis.lrangeBuffer(`perpflow:aligner:${ns}:p${p}:log`, 0, -1);
    assert.deepEqual(
      raw.map((b) => b[0]),
      [0x7b, 0x7b, 0xb2],
      'two JSON entries, then a binary one',
    );
    const loaded = await store.load(p);
    assert.deepEqual(loaded.log, [...old, next]);
    assert.ok(loaded.log[0]!.batches[0]!.messages[1]!.value!.equals(notUtf8));
    assert.ok(loaded.log[2]!.batches[0]!.messages[0]!.value!.equals(notUtf8));
  });

  it('refuses to load a log entry that does not decode, naming the partition, the entry and the key', async () => {
    const store = new RedisPartitionStateStore(redis, ns);
    const p = 10;
    await store.append(p, entry(1, 0, [Buffer.from('{}')]));
    const good = (await redis.lrangeBuffer(`perpflow:aligner:${ns}:p${p}:log`, 0, -1))[0]!;
    await redis.rpush(`perpflow:aligner:${ns}:p${p}:log`, good.subarray(0, good.length - 3));
    await assert.rejects(store.load(p), (err: Error) => {
      assert.ok(err instanceof CorruptPartitionStateError, 'the pipeline stalls the partition on it');
      assert.match(
        err.message,
        new RegExp(
          `^partition ${p}: write-ahead log entry 1 of perpflow:aligner:${ns}:p${p}:log does not decode \\(record timestamp at byte \\d+ needs 8 bytes; the entry has \\d+\\)`,
        ),
      );
      return true;
    });
  });

  it('refuses to load a snapshot that is not JSON, naming the partition and the key', async () => {
    const store = new RedisPartitionStateStore(redis, ns);
    const p = 11;
    await redis.set(`perpflow:aligner:${ns}:p${p}`, '{"offsets":{"a":"1"},"state":');
    await assert.rejects(store.load(p), (err: Error) => {
      assert.ok(err instanceof CorruptPartitionStateError);
      assert.match(
        err.message,
        new RegExp(`^partition ${p}: snapshot perpflow:aligner:${ns}:p${p} does not decode \\(`),
      );
      return true;
    });
  });

  it('refuses an append or a snapshot from a writer whose sequence is behind, and changes nothing', async () => {
    const store = new RedisPartitionStateStore(redis, ns);
    const p = 5;
    await store.append(p, entry(1, 0, [Buffer.from('{}')]));
    await assert.rejects(store.append(p, entry(1, 0, [Buffer.from('{}')])), StalePartitionStateError);
    await assert.rejects(store.append(p, entry(3, 1, [Buffer.from('{}')])), StalePartitionStateError);
    await assert.rejects(
      store.snapshot(p, 0, { offsets: {}, stateJson: ['null'], savedAtMs: 0 }),
      StalePartitionStateError,
    );
    const loaded = await store.load(p);
    assert.equal(loaded.seq, 1);
    assert.equal(loaded.snapshot, null);
    assert.deepEqual(
      loaded.log.map((e) => e.seq),
      [1],
    );
  });

  it('reads a snapshot written before the log existed (no sequence, no log) as sequence 0', async () => {
    const p = 7;
    await redis.set(
      `perpflow:aligner:${ns}:p${p}`,
      JSON.stringify({ offsets: { [TOPIC]: '42' }, state: null, savedAtMs: 1 }),
    );
    const store = new RedisPartitionStateStore(redis, ns);
    const loaded = await store.load(p);
    assert.equal(loaded.seq, 0);
    assert.deepEqual(loaded.snapshot?.offsets, { [TOPIC]: '42' });
    await store.append(p, entry(1, 42, [Buffer.from('{}')]));
    assert.equal((await store.load(p)).seq, 1);
  });
});
