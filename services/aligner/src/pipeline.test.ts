import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAlignConfig } from '@perpflow/align';
import {
  type AlignedBar,
  type DeadLetter,
  HEADERS,
  parseRawThrough,
  sampleCandle,
  sampleLiquidation,
  sampleOpenInterest,
  TOPICS,
} from '@perpflow/contracts';
import { parseQualityConfig } from '@perpflow/quality';
import { createLogger } from '@perpflow/runtime';
import type { Batch, Consumer, Message, Producer } from 'kafkajs';
import {
  decodeLoggedBatch,
  encodeLoggedBatch,
  encodeLoggedBatchFormat1,
  type LoggedBatch,
  type PartitionSnapshot,
  type PartitionSnapshotWrite,
  snapshotDocument,
  type PartitionStateStore,
  StalePartitionStateError,
  type StoredPartition,
} from './adapters/partition-state.js';
import { createPartitionEngine } from './domain/engine.js';
import { type AlignerMetrics, createAlignerMetrics } from './metrics.js';
import { AlignerPipeline, type MergePolicy, type SnapshotPolicy } from './pipeline.js';

const T0 = Date.UTC(2024, 2, 1);
const MIN = 60_000;
const engineConfig = { quality: parseQualityConfig({}), align: parseAlignConfig({ allowedLatenessMs: 0 }) };
const heartbeat = async () => {};

/** The store's contract (compare-and-set on the sequence), entries through their Redis encoding. */
class MemoryStateStore implements PartitionStateStore {
  readonly seq = new Map<number, number>();
  readonly snapshots = new Map<number, string>();
  readonly logs = new Map<number, Buffer[]>();
  appends = 0;
  snapshotWrites = 0;

  async load(p: number): Promise<StoredPartition> {
    const snap = this.snapshots.get(p);
    return {
      seq: this.seq.get(p) ?? 0,
      snapshot: snap === undefined ? null : (JSON.parse(snap) as PartitionSnapshot),
      log: (this.logs.get(p) ?? []).map(decodeLoggedBatch),
    };
  }
  async append(p: number, entry: LoggedBatch): Promise<void> {
    const cur = this.seq.get(p) ?? 0;
    if (cur !== entry.seq - 1) throw new StalePartitionStateError(p, entry.seq - 1, `found ${cur}`);
    this.logs.set(p, [...(this.logs.get(p) ?? []), encodeLoggedBatch(entry)]);
    this.seq.set(p, entry.seq);
    this.appends++;
  }
  async snapshot(p: number, seq: number, s: PartitionSnapshotWrite): Promise<void> {
    const cur = this.seq.get(p) ?? 0;
    if (cur !== seq) throw new StalePartitionStateError(p, seq, `found ${cur}`);
    this.snapshots.set(p, snapshotDocument(s).toString());
    this.logs.set(p, []);
    this.snapshotWrites++;
  }
}

interface RawMessage {
  key: string;
  value: string;
}

/** One symbol's four raw topics (partition 0): 60 candles, open interest, liquidations, one poison record. */
function rawTopics(): Map<string, RawMessage[]> {
  const key = 'binanceusdm|BTC/USDT:USDT';
  const candles = Array.from({ length: 60 }, (_, i) => {
    const t = T0 + i * MIN;
    const close = 100 + Math.sin(i) * 2;
    return sampleCandle({
      openTimeMs: t,
      eventTimeMs: t,
      receivedAtMs: t + 61_000,
      open: 100,
      high: Math.max(100, close) + 1,
      low: Math.min(100, close) - 1,
      close,
      volume: 10 + i,
      source: 'backfill',
    });
  });
  const oi = Array.from({ length: 12 }, (_, j) => {
    const t = T0 + j * 5 * MIN + 30_000;
    return sampleOpenInterest({
      eventTimeMs: t,
      receivedAtMs: t + 100,
      openInterest: 1_000 + j,
      source: 'backfill',
    });
  });
  const liq = Array.from({ length: 8 }, (_, k) => {
    const t = T0 + k * 7 * MIN + 15_000;
    return sampleLiquidation({
      eventTimeMs: t,
      receivedAtMs: t + 50,
      side: k % 2 ? 'buy' : 'sell',
      price: 100,
      amount: 1 + k,
      source: 'backfill',
    });
  });
  const msgs = (records: object[]) => records.map((r) => ({ key, value: JSON.stringify(r) }));
  const oiMessages = msgs(oi);
  oiMessages.splice(4, 0, { key, value: '{"not":"a record"' }); // poison: a contract dead letter
  return new Map([
    [TOPICS.raw.ohlcv, msgs(candles)],
    [TOPICS.raw.open_interest, oiMessages],
    [TOPICS.raw.liquidation, msgs(liq)],
  ]);
}

const BATCH_SIZE: Record<string, number> = {
  [TOPICS.raw.ohlcv]: 10,
  [TOPICS.raw.open_interest]: 3,
  [TOPICS.raw.liquidation]: 3,
};

/** The Kafka timestamp of a raw message: the ingest publishes a record just after it received it. */
function publishedAt(value: string): string {
  try {
    return String((JSON.parse(value) as { receivedAtMs: number }).receivedAtMs + 5);
  } catch {
    return String(T0 + 30 * MIN); // the poison record
  }
}

function batchOf(topic: string, all: RawMessage[], from: number, count: number): Batch {
  const messages = all.slice(from, from + count).map((m, i) => ({
    offset: String(from + i),
    key: Buffer.from(m.key),
    value: Buffer.from(m.value),
    headers: { 'perpflow-producer': 'exchange-ingest' },
    timestamp: publishedAt(m.value),
    attributes: 0,
  }));
  return {
    topic,
    partition: 0,
    highWatermark: String(all.length),
    messages,
    lastOffset: () => String(from + count - 1),
  } as unknown as Batch;
}

type Step = 'append' | 'after-append' | 'mid-produce' | 'after-produce' | 'after-snapshot' | 'commit';

/** A Kafka stand-in for the pipeline's unit: what was produced, what is committed. */
class Cluster {
  readonly produced: { topic: string; message: Message }[] = [];
  readonly committed = new Map<string, number>();
  constructor(readonly topics: Map<string, RawMessage[]>) {}
}

class Crash extends Error {}

/**
 * One aligner process: consumes the topics from the committed offsets in the given
 * order of topics (round robin or one topic after the other), and crashes (throws, and
 * is thrown away) at `crashAt` in its `crashBatch`-th batch.
 */
/** A pipeline over test doubles of the consumer and producer: `onSend` sees every produce request. */
function testPipeline(o: {
  state: PartitionStateStore;
  onSend: (topic: string, messages: Message[]) => void;
  now: () => number;
  policy?: SnapshotPolicy;
  onCommit?: (list: { topic: string; offset: string }[]) => void;
  /** Raw topic → its length (partition 0): the broker's high watermarks. Absent topics are empty. */
  lengths?: Map<string, number>;
  merge?: Partial<MergePolicy>;
  /** Records the consumer's pause and resume calls, as `pause <topic>/<p>` / `resume <topic>/<p>`. */
  onFlow?: (action: string) => void;
  metrics?: AlignerMetrics;
}): AlignerPipeline {
  return new AlignerPipeline({
    ends: async () =>
      new Map(
        Object.values(TOPICS.raw).map((t) => [
          t,
          new Map([[0, { high: BigInt(o.lengths?.get(t) ?? 0), start: 0n }]]),
        ]),
      ),
    mergePolicy: { maxWaitMs: 3_600_000, ...o.merge },
    consumer: {
      commitOffsets: async (list: { topic: string; offset: string }[]) => o.onCommit?.(list),
      pause: (tps: { topic: string; partitions: number[] }[]) => {
        for (const t of tps) for (const q of t.partitions) o.onFlow?.(`pause ${t.topic}/${q}`);
      },
      resume: (tps: { topic: string; partitions: number[] }[]) => {
        for (const t of tps) for (const q of t.partitions) o.onFlow?.(`resume ${t.topic}/${q}`);
      },
    } as unknown as Consumer,
    producer: {
      send: async ({ topic, messages }: { topic: string; messages: Message[] }) => {
        o.onSend(topic, messages);
        return [];
      },
    } as unknown as Producer,
    state: o.state,
    createEngine: (snap) => createPartitionEngine(engineConfig, snap),
    metrics: o.metrics ?? createAlignerMetrics(),
    logger: createLogger({ service: 'test', level: 'fatal' }),
    now: o.now,
    ...(o.policy ? { snapshotPolicy: o.policy } : {}),
  });
}

async function runProcess(
  cluster: Cluster,
  store: PartitionStateStore,
  opts: {
    order: 'round-robin' | 'topic-by-topic';
    topicOrder: string[];
    crashAt?: Step;
    crashBatch?: number;
    policy?: SnapshotPolicy;
    clock: { ms: number };
    metrics?: AlignerMetrics;
  },
): Promise<'done' | 'crashed'> {
  let batchNo = 0;
  let crashed = false;
  // The first time the step is reached in or after batch `crashBatch` (not every batch takes every step).
  const crash = (step: Step) => {
    if (crashed || opts.crashAt !== step || batchNo < (opts.crashBatch ?? 0)) return false;
    crashed = true;
    return true;
  };
  const guardedStore: PartitionStateStore = {
    load: (p) => store.load(p),
    append: async (p, e) => {
      if (crash('append')) throw new Crash('append');
      await store.append(p, e);
      if (crash('after-append')) throw new Crash('after-append');
    },
    snapshot: async (p, seq, s) => {
      if (crash('after-produce')) throw new Crash('after-produce');
      await store.snapshot(p, seq, s);
      if (crash('after-snapshot')) throw new Crash('after-snapshot');
    },
  };
  const pipeline = testPipeline({
    state: guardedStore,
    onSend: (topic, messages) => {
      // A partial produce: the first half of the request is acknowledged, then the process dies.
      const cut = messages.length > 0 && crash('mid-produce') ? Math.ceil(messages.length / 2) : null;
      for (const message of messages.slice(0, cut ?? messages.length))
        cluster.produced.push({ topic, message });
      if (cut !== null) throw new Crash('mid-produce');
    },
    onCommit: (list) => {
      if (crash('commit')) throw new Crash('commit');
      for (const c of list) cluster.committed.set(c.topic, Number(c.offset));
    },
    now: () => (opts.clock.ms += 1_000),
    lengths: new Map([...cluster.topics].map(([t, all]) => [t, all.length])),
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  });
  // kafkajs resumes every topic at its committed offset.
  const next = new Map(opts.topicOrder.map((t) => [t, cluster.committed.get(t) ?? 0]));
  const pending = () => opts.topicOrder.filter((t) => next.get(t)! < cluster.topics.get(t)!.length);
  while (pending().length > 0) {
    const topics = opts.order === 'round-robin' ? pending() : pending().slice(0, 1);
    for (const topic of topics) {
      const all = cluster.topics.get(topic)!;
      const from = next.get(topic)!;
      const count = Math.min(BATCH_SIZE[topic]!, all.length - from);
      try {
        await pipeline.handleBatch(batchOf(topic, all, from, count), heartbeat);
      } catch (err) {
        if (err instanceof Crash) return 'crashed';
        throw err;
      }
      next.set(topic, from + count);
      batchNo++;
    }
  }
  return 'done';
}

const identity = (b: AlignedBar) => `${b.exchange}|${b.symbol}|${b.timeframe}|${b.eventTimeMs}|${b.revision}`;

function barsOf(cluster: Cluster): AlignedBar[] {
  return cluster.produced
    .filter((p) => p.topic === TOPICS.alignedBar)
    .map((p) => JSON.parse(String(p.message.value)) as AlignedBar);
}

/** identity → content; fails on one identity with two contents (the property that must hold across crashes). */
function contentByIdentity(bars: AlignedBar[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const b of bars) {
    const content = JSON.stringify(b);
    const seen = out.get(identity(b));
    assert.ok(
      seen === undefined || seen === content,
      `${identity(b)} published with two contents:\n${seen}\n${content}`,
    );
    out.set(identity(b), content);
  }
  return out;
}

/** eventTimeMs → content of its last revision (what the windower keeps). */
function lastRevisions(bars: AlignedBar[]): Map<number, AlignedBar> {
  const out = new Map<number, AlignedBar>();
  for (const b of bars) {
    const cur = out.get(b.eventTimeMs);
    if (!cur || b.revision > cur.revision) out.set(b.eventTimeMs, b);
  }
  return out;
}

const TOPIC_ORDER = [TOPICS.raw.ohlcv, TOPICS.raw.open_interest, TOPICS.raw.liquidation];
const REVERSED = [...TOPIC_ORDER].reverse();

describe('AlignerPipeline: write-ahead log of batches', () => {
  // The reference: one uncrashed run. Bars (last revision per time) do not depend on the interleaving.
  async function reference(metrics?: AlignerMetrics) {
    const cluster = new Cluster(rawTopics());
    const res = await runProcess(cluster, new MemoryStateStore(), {
      order: 'round-robin',
      topicOrder: TOPIC_ORDER,
      clock: { ms: T0 + 86_400_000 },
      ...(metrics ? { metrics } : {}),
    });
    assert.equal(res, 'done');
    return cluster;
  }

  it('counts every bar it produced by timeframe and kind, first emissions and revisions apart', async () => {
    const metrics = createAlignerMetrics();
    const bars = barsOf(await reference(metrics));
    const counted = Object.fromEntries(
      (await metrics.barsEmitted.get()).values.map((v) => [
        `${v.labels.timeframe} ${v.labels.kind}`,
        v.value,
      ]),
    );
    const revisions = bars.filter((b) => b.revision > 0).length;
    assert.ok(revisions > 0, 'the scenario revises bars');
    assert.deepEqual(counted, { '1m first': bars.length - revisions, '1m revision': revisions });
  });

  it('an uncrashed run aligns every candle into one bar and dead-letters the poison record', async () => {
    const cluster = await reference();
    const last = lastRevisions(barsOf(cluster));
    assert.equal(last.size, 60);
    assert.deepEqual(
      [...last.keys()].sort((a, b) => a - b),
      Array.from({ length: 60 }, (_, i) => T0 + i * MIN),
    );
    // Interleaving open interest after its candles revises bars: this scenario does have revisions.
    assert.ok(
      barsOf(cluster).some((b) => b.revision > 0),
      'the scenario revises bars',
    );
    const bar12 = last.get(T0 + 12 * MIN)!;
    assert.equal(bar12.openInterest, 1_002);
    assert.equal(bar12.openInterestTimeMs, T0 + 10 * MIN + 30_000);
    const liq = last.get(T0 + 14 * MIN)!;
    assert.equal(liq.liqCount, 1);
    assert.equal(liq.liqLongNotional, 100 * 3);
    const dead = cluster.produced.filter((p) => p.topic === TOPICS.deadLetter);
    assert.equal(dead.length, 1);
    assert.equal((JSON.parse(String(dead[0]!.message.value)) as DeadLetter).source.offset, '4');
  });

  it('stamps each bar with the raw positions applied after its step: every record that decided it lies below them', async () => {
    const cluster = await reference();
    const raw = rawTopics();
    /** Offset of the first raw message of `topic` whose record matches. */
    const offsetWhere = (topic: string, match: (r: Record<string, unknown>) => boolean) =>
      raw.get(topic)!.findIndex((m) => {
        try {
          return match(JSON.parse(m.value) as Record<string, unknown>);
        } catch {
          return false;
        }
      });
    const bars = cluster.produced.filter((p) => p.topic === TOPICS.alignedBar);
    assert.ok(bars.length >= 60);
    const previous = new Map<string, bigint>();
    for (const { message } of bars) {
      const bar = JSON.parse(String(message.value)) as AlignedBar;
      const header = (message.headers as Record<string, string>)[HEADERS.rawThrough];
      assert.ok(header, `bar ${bar.eventTimeMs} has ${HEADERS.rawThrough}`);
      const positions = parseRawThrough(header);
      assert.ok(Array.isArray(positions), JSON.stringify(positions));
      const through = new Map(positions.map((p) => [p.topic, BigInt(p.offset)]));
      assert.ok(positions.every((p) => p.partition === 0));
      // Positions only move forward in produce order, and never past the topics' ends.
      for (const [topic, offset] of through) {
        assert.ok(offset >= (previous.get(topic) ?? 0n), `${topic} moved back at bar ${bar.eventTimeMs}`);
        assert.ok(offset <= BigInt(raw.get(topic)!.length));
        previous.set(topic, offset);
      }
      const decided: [string, number][] = [
        [TOPICS.raw.ohlcv, offsetWhere(TOPICS.raw.ohlcv, (r) => r.openTimeMs === bar.eventTimeMs)],
      ];
      if (bar.openInterestTimeMs !== null)
        decided.push([
          TOPICS.raw.open_interest,
          offsetWhere(TOPICS.raw.open_interest, (r) => r.eventTimeMs === bar.openInterestTimeMs),
        ]);
      if ((bar.liqCount ?? 0) > 0)
        decided.push([
          TOPICS.raw.liquidation,
          offsetWhere(
            TOPICS.raw.liquidation,
            (r) =>
              (r.eventTimeMs as number) >= bar.eventTimeMs &&
              (r.eventTimeMs as number) < bar.eventTimeMs + MIN,
          ),
        ]);
      for (const [topic, offset] of decided) {
        assert.ok(offset >= 0, `the ${topic} record of bar ${bar.eventTimeMs} exists`);
        assert.ok(
          BigInt(offset) < (through.get(topic) ?? -1n),
          `bar ${bar.eventTimeMs} rev ${bar.revision}: ${topic} offset ${offset} below ${through.get(topic)}`,
        );
      }
    }
    assert.deepEqual(Object.fromEntries(previous), {
      [TOPICS.raw.ohlcv]: 60n,
      [TOPICS.raw.open_interest]: 13n,
      [TOPICS.raw.liquidation]: 8n,
    });
  });

  // 13: the last of the 14 batches (ohlcv's), after which the restart gets nothing new to run.
  for (const crashAt of [
    'append',
    'after-append',
    'mid-produce',
    'after-produce',
    'after-snapshot',
    'commit',
  ] as const)
    for (const crashBatch of [0, 4, 9, 13])
      it(`a crash at ${crashAt} (batch ${crashBatch}), restarted with another interleaving of the topics, publishes no identity with two contents and loses no bar`, async () => {
        const ref = lastRevisions(barsOf(await reference()));
        const cluster = new Cluster(rawTopics());
        const store = new MemoryStateStore();
        const clock = { ms: T0 + 86_400_000 };
        // Snapshot every 10 records so that the snapshot steps are taken.
        const policy = { everyRecords: 10, everyMs: 3_600_000 };
        const first = await runProcess(cluster, store, {
          order: 'round-robin',
          topicOrder: TOPIC_ORDER,
          crashAt,
          crashBatch,
          policy,
          clock,
        });
        assert.equal(first, 'crashed');
        const producedBeforeRestart = barsOf(cluster).length;
        // The restart: kafkajs hands the topics over in a different order (one topic to its end first).
        const second = await runProcess(cluster, store, {
          order: 'topic-by-topic',
          topicOrder: REVERSED,
          policy,
          clock,
        });
        assert.equal(second, 'done');

        const bars = barsOf(cluster);
        if (crashAt === 'after-snapshot' && crashBatch === 13)
          // The snapshot after the last step holds every output, acknowledged: nothing to publish again.
          assert.equal(bars.length, producedBeforeRestart, 'the restart published nothing');
        else assert.ok(bars.length > producedBeforeRestart, 'the restart published bars');
        contentByIdentity(bars); // asserts one content per identity
        const last = lastRevisions(bars);
        assert.equal(last.size, 60, 'no bar lost');
        for (const [t, bar] of ref) {
          const { revision: _a, ...want } = bar;
          const { revision: _b, ...got } = last.get(t)!;
          assert.deepEqual(got, want, `bar ${t}: last revision's content`);
        }
        // Dead letters: the poison record is dead-lettered at least once, always with the same bytes.
        const dead = cluster.produced
          .filter((p) => p.topic === TOPICS.deadLetter)
          .map((p) => String(p.message.value));
        assert.ok(dead.length >= 1);
        assert.equal(new Set(dead).size, 1, 'a re-published dead letter is identical');
        // The stored state covers every record: the log's (or snapshot's) offsets are the topic ends.
        const stored = await store.load(0);
        const offsets = stored.log.at(-1)?.offsets ?? stored.snapshot?.offsets;
        assert.deepEqual(offsets, {
          [TOPICS.raw.ohlcv]: '60',
          [TOPICS.raw.open_interest]: '13',
          [TOPICS.raw.liquidation]: '8',
        });
        // And the group's offsets are the topic ends too, though the restart had nothing new
        // to run on a topic whose last records the crashed process had already logged.
        assert.deepEqual(Object.fromEntries(cluster.committed), {
          [TOPICS.raw.ohlcv]: 60,
          [TOPICS.raw.open_interest]: 13,
          [TOPICS.raw.liquidation]: 8,
        });
      });

  it('restores snapshot + log to the same state as an uninterrupted run, and republishes only the last logged batch', async () => {
    const cluster = new Cluster(rawTopics());
    const store = new MemoryStateStore();
    const clock = { ms: T0 + 86_400_000 };
    const policy = { everyRecords: 20, everyMs: 3_600_000 };
    await runProcess(cluster, store, { order: 'round-robin', topicOrder: TOPIC_ORDER, policy, clock });
    // 81 messages in 14 steps of the merged order (a step ends where a topic's fetched records
    // run out); a snapshot once 20 records are logged since the last: the log holds the rest.
    assert.equal(store.appends, 14);
    assert.equal(store.snapshotWrites, 3);
    const stored = await store.load(0);
    assert.equal(stored.seq, 14);
    assert.ok(stored.log.length > 0 && stored.log.length < 14, `log of ${stored.log.length} batches`);
    const logged = stored.log.reduce((n, e) => n + e.batches.reduce((k, b) => k + b.messages.length, 0), 0);
    assert.ok(logged < 20, `${logged} records logged since the last snapshot`);
    assert.equal(stored.log.at(-1)!.seq, 14);

    // A new owner: its first batch is a re-delivery below the stored offsets (skipped);
    // it replays the log and publishes the last logged batch's outputs again.
    const before = cluster.produced.length;
    const lastLogged = stored.log.at(-1)!;
    const again = await runProcess(cluster, store, {
      order: 'round-robin',
      topicOrder: TOPIC_ORDER,
      policy,
      clock,
    });
    assert.equal(again, 'done', 'nothing left to consume: committed offsets are at the ends');
    assert.equal(cluster.produced.length, before, 'no batch to process, so no restore either');

    const p2 = testPipeline({
      lengths: new Map([...cluster.topics].map(([t, all]) => [t, all.length])),
      state: store,
      onSend: (topic, messages) => {
        for (const message of messages) cluster.produced.push({ topic, message });
      },
      now: () => (clock.ms += 1_000),
      policy,
    });
    const topic = lastLogged.batches.at(-1)!.topic;
    const all = cluster.topics.get(topic)!;
    await p2.handleBatch(batchOf(topic, all, all.length - 1, 1), heartbeat); // below the stored offset
    const republished = cluster.produced.slice(before);
    const firstTime = cluster.produced.slice(0, before).map((p) => String(p.message.value));
    assert.ok(republished.length > 0, 'the last logged batch had outputs');
    const firstHeaders = cluster.produced
      .slice(0, before)
      .map((p) => JSON.stringify([String(p.message.value), p.message.headers?.[HEADERS.rawThrough] ?? null]));
    for (const p of republished) {
      assert.ok(firstTime.includes(String(p.message.value)), 'republished outputs are byte-identical');
      const stamped = JSON.stringify([
        String(p.message.value),
        p.message.headers?.[HEADERS.rawThrough] ?? null,
      ]);
      assert.ok(
        firstHeaders.includes(stamped),
        `republished with the same ${HEADERS.rawThrough}: ${stamped}`,
      );
    }
    assert.equal((await store.load(0)).seq, 14, 'a skipped re-delivery logs nothing');
  });

  // The pipeline skips such an entry (a warning); applying it again would also be harmless for
  // content here (duplicates are dropped, alignment is a join), so this checks the outcome only.
  it('restores to the uninterrupted result when a newer snapshot already holds a log entry (a writer that did not know the log)', async () => {
    const candles = rawTopics().get(TOPICS.raw.ohlcv)!;
    const mk = (store: PartitionStateStore, sent: AlignedBar[], policy: SnapshotPolicy) =>
      testPipeline({
        state: store,
        onSend: (topic, messages) => {
          if (topic === TOPICS.alignedBar)
            for (const m of messages) sent.push(JSON.parse(String(m.value)) as AlignedBar);
        },
        now: () => T0 + 86_400_000,
        policy,
      });
    const never = { everyRecords: 1_000, everyMs: 3_600_000 };
    // Uninterrupted: three batches.
    const want: AlignedBar[] = [];
    const one = mk(new MemoryStateStore(), want, never);
    for (const from of [0, 10, 20])
      await one.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, from, 10), heartbeat);
    // The state after the first batch, as an old writer's snapshot.
    const old = new MemoryStateStore();
    await mk(old, [], { everyRecords: 1, everyMs: 0 }).handleBatch(
      batchOf(TOPICS.raw.ohlcv, candles, 0, 10),
      heartbeat,
    );
    // A log of the first two batches under that snapshot.
    const store = new MemoryStateStore();
    const two = mk(store, [], never);
    for (const from of [0, 10])
      await two.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, from, 10), heartbeat);
    store.snapshots.set(0, old.snapshots.get(0)!);
    // Restore: entry 1 is in the snapshot (skipped), entry 2 is applied; the third batch then
    // emits what the uninterrupted run emitted.
    const got: AlignedBar[] = [];
    await mk(store, got, never).handleBatch(batchOf(TOPICS.raw.ohlcv, candles, 20, 10), heartbeat);
    const third = want.filter((b) => b.eventTimeMs >= T0 + 19 * MIN);
    assert.ok(third.length >= 10);
    assert.deepEqual(
      got.filter((b) => b.eventTimeMs >= T0 + 19 * MIN),
      third,
    );
  });

  it('refuses to append when another writer moved the partition on, and reloads from its state', async () => {
    const store = new MemoryStateStore();
    const cluster = new Cluster(rawTopics());
    const clock = { ms: T0 + 86_400_000 };
    const mk = () =>
      testPipeline({
        state: store,
        onSend: (topic, messages) => {
          for (const message of messages) cluster.produced.push({ topic, message });
        },
        now: () => (clock.ms += 1_000),
      });
    const candles = cluster.topics.get(TOPICS.raw.ohlcv)!;
    const zombie = mk();
    const owner = mk();
    await zombie.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, 0, 10), heartbeat);
    await owner.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, 10, 10), heartbeat); // loads seq 1, appends 2
    const produced = cluster.produced.length;
    await assert.rejects(
      zombie.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, 10, 10), heartbeat),
      StalePartitionStateError,
    );
    assert.equal(cluster.produced.length, produced, 'the stale writer published nothing');
    // Its state was dropped: the next batch reloads (seq 2) and continues the one history.
    await zombie.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, 20, 10), heartbeat);
    const stored = await store.load(0);
    assert.deepEqual(
      stored.log.map((e) => [e.seq, e.batches[0]!.messages[0]!.offset]),
      [
        [1, '0'],
        [2, '10'],
        [3, '20'],
      ],
    );
    contentByIdentity(barsOf(cluster));
  });

  it('leaves no lane paused by a step that finishes after a rebalance (its queue was dropped)', async () => {
    // The fresh-clone CI of 6f0e81b: a second aligner joined mid-backlog, and the first one's
    // retained partitions never moved again. A step in flight during the rebalance paused
    // its lane from the dropped queue after onAssignment had resumed it; with every lane of
    // the partition paused, kafkajs delivered nothing more and nothing resumed them.
    const store = new MemoryStateStore();
    let releaseAppend: (() => void) | null = null;
    const slowStore: PartitionStateStore = {
      load: (p) => store.load(p),
      append: async (p, e) => {
        if (!releaseAppend && store.appends === 0) await new Promise<void>((r) => (releaseAppend = r));
        await store.append(p, e);
      },
      snapshot: (p, seq, s) => store.snapshot(p, seq, s),
    };
    const flow: string[] = [];
    const candles = rawTopics().get(TOPICS.raw.ohlcv)!;
    const pipeline = testPipeline({
      state: slowStore,
      onSend: () => {},
      now: () => T0 + 86_400_000,
      lengths: new Map([[TOPICS.raw.ohlcv, 10]]),
      merge: { maxQueuedBytes: 1, maxStepRecords: 3 }, // any queued record pauses; 3 records a step
      onFlow: (a) => flow.push(a),
    });
    const first = pipeline.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, 0, 10), heartbeat);
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(releaseAppend, 'the first step is appending its log entry');
    assert.deepEqual(flow, [`pause ${TOPICS.raw.ohlcv}/0`], 'the full lane is paused');
    pipeline.onAssignment({ [TOPICS.raw.ohlcv]: [0] }); // a rebalance while the step hangs
    assert.deepEqual(flow.at(-1), `resume ${TOPICS.raw.ohlcv}/0`);
    (releaseAppend as unknown as () => void)();
    await first;
    assert.equal(
      flow.at(-1),
      `resume ${TOPICS.raw.ohlcv}/0`,
      `the old step paused the lane again after the rebalance: ${flow.join(', ')}`,
    );
  });

  it('never produces a batch twice when kafkajs re-delivers it while it is still being saved', async () => {
    const store = new MemoryStateStore();
    let slowAppend: (() => void) | null = null;
    const slowStore: PartitionStateStore = {
      load: (p) => store.load(p),
      append: async (p, e) => {
        // The first append hangs until released: the rebalance and re-delivery happen meanwhile.
        if (!slowAppend && store.appends === 0) await new Promise<void>((r) => (slowAppend = r));
        await store.append(p, e);
      },
      snapshot: (p, seq, s) => store.snapshot(p, seq, s),
    };
    const sent: Message[] = [];
    const pipeline = testPipeline({
      state: slowStore,
      onSend: (topic, messages) => {
        if (topic === TOPICS.alignedBar) sent.push(...messages);
      },
      now: () => T0 + 86_400_000,
      policy: { everyRecords: 1, everyMs: 0 },
    });
    const candles = rawTopics().get(TOPICS.raw.ohlcv)!;
    const first = pipeline.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, 0, 10), heartbeat);
    await new Promise((r) => setTimeout(r, 20));
    pipeline.onAssignment({ [TOPICS.raw.ohlcv]: [0] }); // a rebalance while the append hangs
    const again = pipeline.handleBatch(batchOf(TOPICS.raw.ohlcv, candles, 0, 10), heartbeat);
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(slowAppend, 'the first batch is appending its log entry');
    (slowAppend as () => void)();
    await Promise.all([first, again]);
    const bars = sent.map((m) => JSON.parse(String(m.value)) as AlignedBar);
    assert.equal(bars.length, 10, `bars produced: ${bars.length}`);
    assert.equal(new Set(bars.map((b) => `${b.eventTimeMs}:${b.revision}`)).size, 10);
    assert.equal((await store.load(0)).snapshot?.offsets[TOPICS.raw.ohlcv], '10');
  });
});

describe('AlignerPipeline: the broker’s answer on the raw topics’ ends', () => {
  it('proves the lanes of a partition whose batch was received before the question and handled after its answer', async () => {
    // The fresh-clone CIs of 2026-12-06: partitions whose first batch of a round came in one
    // fetch response with another partition's were handled after that partition's question
    // was answered. The answer was noted only in the lanes that existed then; the late
    // partition found the question new enough, asked nothing, and waited out the merge's wait
    // bound (with the CI's 600 s bound its round was never committed; with the default 30 s,
    // a forced merge).
    let t = T0 + 86_400_000;
    let asked = 0;
    let bars = 0;
    const candles = rawTopics().get(TOPICS.raw.ohlcv)!;
    const pipeline = new AlignerPipeline({
      ends: async () => {
        asked++;
        return new Map(
          Object.values(TOPICS.raw).map((topic) => [
            topic,
            new Map([0, 1].map((p) => [p, { high: topic === TOPICS.raw.ohlcv ? 10n : 0n, start: 0n }])),
          ]),
        );
      },
      mergePolicy: { maxWaitMs: 3_600_000 },
      consumer: { commitOffsets: async () => {}, pause: () => {}, resume: () => {} } as unknown as Consumer,
      producer: {
        send: async ({ topic, messages }: { topic: string; messages: Message[] }) => {
          if (topic === TOPICS.alignedBar) bars += messages.length;
          return [];
        },
      } as unknown as Producer,
      state: new MemoryStateStore(),
      createEngine: (snap) => createPartitionEngine(engineConfig, snap),
      metrics: createAlignerMetrics(),
      logger: createLogger({ service: 'test', level: 'fatal' }),
      now: () => t,
    });
    const produced = new Map<number, number>();
    const count = async (p: number, batch: Batch) => {
      const before = bars;
      await pipeline.handleBatch(batch, heartbeat);
      produced.set(p, bars - before);
    };
    pipeline.noteFetch(); // one fetch response holds both partitions' batches
    await count(0, batchOf(TOPICS.raw.ohlcv, candles, 0, 10));
    t += 5; // partition 1's batch is handled after partition 0's question was answered
    await count(1, { ...batchOf(TOPICS.raw.ohlcv, candles, 0, 10), partition: 1 } as Batch);
    pipeline.close();
    assert.equal(produced.get(0), 10, 'partition 0 aligned its 10 candles');
    assert.equal(produced.get(1), 10, 'partition 1 aligned its 10 candles at once, not at the wait bound');
    assert.equal(asked, 1, 'one question served both partitions');
  });
});

describe('write-ahead log entries', () => {
  const entry: LoggedBatch = {
    seq: 12,
    offsets: { [TOPICS.raw.ohlcv]: '1002', [TOPICS.raw.funding]: '77', [TOPICS.raw.liquidation]: '0' },
    batches: [
      {
        topic: TOPICS.raw.ohlcv,
        partition: 3,
        feed: 'ohlcv',
        nowMs: 1_700_000_000_123,
        messages: [
          {
            offset: '1000',
            key: 'binanceusdm|BTC/USDT:USDT',
            value: Buffer.from('{"close":101.5,"note":"é€𝄞"}'),
            headers: { 'perpflow-producer': 'exchange-ingest', 'é-name': 'ü', empty: '' },
            timestampMs: 1_699_999_999_000,
          },
          { offset: '1001', key: null, value: null, headers: {} },
          {
            offset: '1001',
            key: '',
            value: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
            headers: {},
            timestampMs: 0,
          },
        ],
      },
      {
        topic: TOPICS.raw.funding,
        partition: 3,
        feed: 'funding',
        nowMs: 1_700_000_000_124,
        messages: [
          { offset: '76', key: 'okx|ETH/USDT:USDT', value: Buffer.alloc(0), headers: {}, timestampMs: -5 },
        ],
      },
      { topic: TOPICS.raw.liquidation, partition: 3, feed: 'liquidation', nowMs: 1, messages: [] },
    ],
  };

  it('gives back every field of an entry, byte for byte, from its binary form', () => {
    const bytes = encodeLoggedBatch(entry);
    assert.equal(bytes[0], 0xb2, 'the format-2 marker');
    assert.deepEqual(decodeLoggedBatch(bytes), entry);
    assert.ok(
      !('timestampMs' in decodeLoggedBatch(bytes).batches[0]!.messages[1]!),
      'an absent timestamp stays absent (the rules then use the batch time)',
    );
    // The encoder's buffer is reused: an entry encoded later does not change an earlier one.
    const copy = Buffer.from(bytes);
    encodeLoggedBatch({ ...entry, seq: 13, batches: [] });
    assert.ok(bytes.equals(copy));
  });

  it('reads the JSON entries of format 1, as text or as the UTF-8 bytes Redis returns, to the same entry', () => {
    const text = encodeLoggedBatchFormat1(entry);
    assert.equal(text[0], '{');
    assert.deepEqual(decodeLoggedBatch(text), entry);
    assert.deepEqual(decodeLoggedBatch(Buffer.from(text, 'utf8')), entry);
  });

  it('refuses a cut or padded binary entry with what it was reading, never a partial entry', () => {
    const bytes = encodeLoggedBatch(entry);
    for (let n = 1; n < bytes.length; n++)
      assert.throws(
        () => decodeLoggedBatch(bytes.subarray(0, n)),
        /at byte \d+ needs \d+ bytes; the entry has \d+$/,
        `cut at ${n} of ${bytes.length}`,
      );
    assert.throws(() => decodeLoggedBatch(Buffer.concat([bytes, Buffer.from([0])])), /^Error: 1 bytes after/);
  });

  it('reads an entry of an earlier version (one batch of one topic, no timestamps) as one run', () => {
    const old = JSON.stringify({
      seq: 7,
      offsets: { [TOPICS.raw.ohlcv]: '12' },
      topic: TOPICS.raw.ohlcv,
      partition: 3,
      feed: 'ohlcv',
      nowMs: 1_700_000_000_000,
      messages: [['11', 'binanceusdm|BTC/USDT:USDT', '{"a":1}', { h: 'v' }]],
    });
    const e = decodeLoggedBatch(old);
    assert.equal(e.seq, 7);
    assert.equal(e.batches.length, 1);
    const b = e.batches[0]!;
    assert.deepEqual(
      [b.topic, b.partition, b.feed, b.nowMs],
      [TOPICS.raw.ohlcv, 3, 'ohlcv', 1_700_000_000_000],
    );
    assert.equal(b.messages[0]!.value!.toString(), '{"a":1}');
    assert.equal(b.messages[0]!.timestampMs, undefined, 'the rules fall back to the batch time');
    // And a new entry survives its encoding: runs of several topics, timestamps kept.
    const again = decodeLoggedBatch(
      encodeLoggedBatch({
        ...e,
        batches: [
          b,
          {
            ...b,
            topic: TOPICS.raw.funding,
            feed: 'funding',
            messages: [{ ...b.messages[0]!, timestampMs: 42 }],
          },
        ],
      }),
    );
    assert.deepEqual(
      again.batches.map((x) => [x.feed, x.messages[0]!.timestampMs]),
      [
        ['ohlcv', undefined],
        ['funding', 42],
      ],
    );
  });
});
