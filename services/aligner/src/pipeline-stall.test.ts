import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleCandle, TOPICS } from '@perpflow/contracts';
import { createLogger } from '@perpflow/runtime';
import type { Batch, Consumer, Producer } from 'kafkajs';
import { CorruptPartitionStateError, type PartitionStateStore } from './adapters/partition-state.js';
import type { EngineOutput, PartitionEngine } from './domain/engine-types.js';
import { createAlignerMetrics } from './metrics.js';
import { AlignerPipeline } from './pipeline.js';

const KEY = 'binanceusdm|BTC/USDT:USDT';
const batch = (firstOffset: number): Batch =>
  ({
    topic: TOPICS.raw.ohlcv,
    partition: 4,
    highWatermark: String(firstOffset + 1),
    messages: [
      {
        offset: String(firstOffset),
        key: Buffer.from(KEY),
        value: Buffer.from(JSON.stringify(sampleCandle())),
        headers: {},
      },
    ],
  }) as unknown as Batch;

/** An engine with a bug: it throws on every record while `broken` is set. */
function setup() {
  const calls: string[] = [];
  const state = { broken: true, redisDown: false, corrupt: false };
  const engine: PartitionEngine = {
    apply<Ref>(): EngineOutput<Ref> {
      if (state.broken) throw new RangeError('engine bug');
      return { bars: [], rejected: [], hits: [], watermarks: new Map() } as unknown as EngineOutput<Ref>;
    },
    snapshotJson: () => ['{}'],
  };
  const store: PartitionStateStore = {
    load: async () => {
      if (state.corrupt)
        throw new CorruptPartitionStateError(
          4,
          'write-ahead log entry 2 of perpflow:aligner:g:p4:log',
          new Error('cut'),
        );
      return { snapshot: null, log: [], seq: 0 };
    },
    append: async () => {
      if (state.redisDown) throw new Error('Connection is closed.');
      calls.push('append');
    },
    snapshot: async () => void calls.push('snapshot'),
  };
  const metrics = createAlignerMetrics();
  const pipeline = new AlignerPipeline({
    consumer: {
      commitOffsets: async (o: { offset: string }[]) => void calls.push(`commit ${o[0]!.offset}`),
      pause: (t: { topic: string; partitions: number[] }[]) => void calls.push(`pause ${t[0]!.partitions}`),
    } as unknown as Consumer,
    producer: { send: async () => [] } as unknown as Producer,
    // The other raw topics of partition 4 are empty.
    mergePolicy: { appendMarginMs: 0 }, // the clock stands still here
    ends: async () =>
      new Map(Object.values(TOPICS.raw).map((t) => [t, new Map([[4, { high: 0n, start: 0n }]])])),
    state: store,
    createEngine: () => engine,
    metrics,
    logger: createLogger({ service: 'aligner-test', level: 'silent' }),
    now: () => Date.UTC(2024, 2, 2),
    maxBatchAttempts: 3,
  });
  const stalled = async () =>
    (await metrics.partitionStalled.get()).values.find((v) => v.labels.partition === '4')?.value ?? 0;
  const failures = async () => (await metrics.batchFailures.get()).values.reduce((s, v) => s + v.value, 0);
  return { pipeline, calls, state, stalled, failures };
}

describe('aligner: a batch that fails every time', () => {
  it('is retried, then its partition is paused and reported stalled; nothing is logged or committed', async () => {
    const { pipeline, calls, stalled, failures } = setup();
    const hb = async () => {};
    await assert.rejects(
      pipeline.handleBatch(batch(7), hb),
      /processing perpflow\.raw\.ohlcv\.v1\[4\] from offset 7 failed: engine bug/,
    );
    await assert.rejects(pipeline.handleBatch(batch(7), hb), /engine bug/);
    assert.equal(await stalled(), 0);
    await pipeline.handleBatch(batch(7), hb); // the third failure pauses instead of throwing
    assert.deepEqual(calls, ['pause 4']);
    assert.equal(await stalled(), 1);
    assert.equal(await failures(), 3);
  });

  it('counts attempts of the same records only, and clears the stall once a step succeeds', async () => {
    const { pipeline, calls, state, stalled } = setup();
    const hb = async () => {};
    await assert.rejects(pipeline.handleBatch(batch(7), hb));
    state.broken = false;
    await pipeline.handleBatch(batch(7), hb); // record 7 goes through: its failure is forgotten
    state.broken = true;
    await assert.rejects(pipeline.handleBatch(batch(8), hb)); // record 8: attempts start at 1
    await assert.rejects(pipeline.handleBatch(batch(8), hb));
    assert.equal(await stalled(), 0);
    await pipeline.handleBatch(batch(8), hb); // the third attempt on 8 pauses
    assert.equal(await stalled(), 1);
    state.broken = false; // fixed (e.g. after a deploy): the partition's next step goes through
    await pipeline.handleBatch(batch(8), hb);
    assert.equal(await stalled(), 0);
    assert.deepEqual(calls, ['append', 'commit 8', 'pause 4', 'append', 'commit 9']);
  });

  it('pauses a partition whose stored state does not decode after its attempts, naming the key', async () => {
    const { pipeline, calls, state, stalled, failures } = setup();
    state.broken = false;
    state.corrupt = true;
    const hb = async () => {};
    await assert.rejects(
      pipeline.handleBatch(batch(7), hb),
      /^CorruptPartitionStateError: partition 4: write-ahead log entry 2 of perpflow:aligner:g:p4:log does not decode \(cut\)/,
    );
    await assert.rejects(pipeline.handleBatch(batch(7), hb), CorruptPartitionStateError);
    assert.equal(await stalled(), 0);
    await pipeline.handleBatch(batch(7), hb); // the third failure pauses instead of throwing
    assert.deepEqual(calls, ['pause 4'], 'nothing appended or committed');
    assert.equal(await stalled(), 1);
    assert.equal(await failures(), 3);
    state.corrupt = false; // the state repaired: the next step goes through and clears the stall
    await pipeline.handleBatch(batch(7), hb);
    assert.equal(await stalled(), 0);
    assert.deepEqual(calls, ['pause 4', 'append', 'commit 8']);
  });

  it('retries a Redis or Kafka failure for as long as it lasts (an outage), never pausing for it', async () => {
    const { pipeline, calls, state, stalled, failures } = setup();
    state.broken = false;
    state.redisDown = true;
    const hb = async () => {};
    for (let i = 0; i < 10; i++)
      await assert.rejects(pipeline.handleBatch(batch(7), hb), /Connection is closed/);
    assert.equal(await stalled(), 0);
    assert.equal(await failures(), 10);
    state.redisDown = false;
    await pipeline.handleBatch(batch(7), hb);
    assert.deepEqual(calls, ['append', 'commit 8']);
  });
});
