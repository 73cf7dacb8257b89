import { type Feed, feedOfTopic, PerpflowError, timeframeMs, TOPICS } from '@perpflow/contracts';
import { headersToStrings } from '@perpflow/kafka';
import type { Logger } from '@perpflow/runtime';
import type { Batch, Consumer, Message, Producer } from 'kafkajs';
import type { PartitionStateStore } from './adapters/partition-state.js';
import { type BatchResult, type ConsumedBatch, runBatch } from './domain/batch.js';
import type { PartitionEngine } from './domain/engine-types.js';
import type { AlignerMetrics } from './metrics.js';

export { barMessage } from './domain/batch.js';

/** When a partition writes a full snapshot (and empties its log); whichever comes first. */
export interface SnapshotPolicy {
  /** Records logged since the last snapshot. Default 50,000. */
  everyRecords: number;
  /** Milliseconds since the last snapshot (checked after each batch). Default 60,000. */
  everyMs: number;
}

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { everyRecords: 50_000, everyMs: 60_000 };

export interface PipelineDeps {
  consumer: Consumer;
  producer: Producer;
  state: PartitionStateStore;
  createEngine: (snapshot: unknown | null) => PartitionEngine;
  metrics: AlignerMetrics;
  logger: Logger;
  now: () => number;
  /** The perpflow-producer header of every record written: `aligner/<group>` (default `aligner`). */
  producerName?: string;
  /** The perpflow-dataset-version header of every bar written (version.ts). */
  datasetVersion?: string;
  snapshotPolicy?: SnapshotPolicy;
  /**
   * Failures in a row of the pure step on the same batch (same first offset) after which
   * its partition is paused and reported stalled instead of retried again. Default 5.
   */
  maxBatchAttempts?: number;
  /** Called at each step of a batch; TEST ONLY (ALIGNER_CRASH_AT kills the process there). */
  atStep?: (step: PipelineStep) => void;
}

export type PipelineStep = 'after-log-append' | 'after-produce' | 'after-snapshot' | 'before-commit';

interface PartitionRuntime {
  engine: PartitionEngine;
  /** topic → next offset included in the engine's state. */
  offsets: Record<string, string>;
  /** Sequence number of the last batch in the engine's state (the partition's log). */
  seq: number;
  recordsSinceSnapshot: number;
  snapshotAtMs: number;
}

/**
 * consume raw batch (one topic-partition) → contract → engine → append the batch to the
 * partition's write-ahead log (Redis) → produce bars and dead letters (await acks=all) →
 * every N records / T ms a full snapshot that empties the log → commit offsets.
 *
 * Identity → content is stable across crashes because nothing is published before the
 * input order that produced it is durable: the log holds each batch's messages in the
 * order the engine took them and its `nowMs`. A new owner restores the snapshot, replays
 * the log through the engine (same inputs, same order → same bars) and publishes the
 * LAST logged batch's outputs again, since its produce may not have finished; every
 * earlier batch's produce was acknowledged before the next batch was logged. The logged
 * offsets win over committed ones: records below them are never processed twice.
 * See docs/ARCHITECTURE.md ④ for the crash table.
 */
export class AlignerPipeline {
  private readonly partitions = new Map<number, PartitionRuntime>();
  private readonly inFlight = new Map<number, Promise<void>>();

  /** `<topic>/<partition>` → the first offset of the batch that failed, and how often in a row. */
  private readonly failures = new Map<string, { offset: string; attempts: number }>();

  private readonly producerName: string;
  private readonly policy: SnapshotPolicy;
  private readonly maxBatchAttempts: number;

  constructor(private readonly deps: PipelineDeps) {
    this.producerName = deps.producerName ?? 'aligner';
    this.policy = deps.snapshotPolicy ?? DEFAULT_SNAPSHOT_POLICY;
    this.maxBatchAttempts = deps.maxBatchAttempts ?? 5;
  }

  /** Drops cached state on every rebalance: the next batch reloads the partition's snapshot and log. */
  onAssignment(assignment: Record<string, number[]>): void {
    this.partitions.clear();
    this.deps.logger.info({ assignment }, 'partitions assigned; state reloads from snapshots');
  }

  async handleBatch(batch: Batch, heartbeat: () => Promise<void>): Promise<void> {
    // One batch of a partition at a time. After a rebalance kafkajs may hand the same
    // partition's records to a new fetch loop while the previous batch is still being
    // saved; loading the partition then would read an older state and produce that
    // batch's bars a second time. Waiting for the batch in flight avoids it.
    const previous = this.inFlight.get(batch.partition) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const chain = previous.then(() => mine);
    this.inFlight.set(batch.partition, chain);
    await previous;
    try {
      await this.process(batch, heartbeat);
      this.noteSuccess(batch);
    } catch (err) {
      // The engine may hold inputs whose log entry or outputs are not durable: forget it,
      // so the retry starts again from Redis (snapshot + log: state and offsets agree).
      this.partitions.delete(batch.partition);
      if (!this.noteFailure(batch, err)) throw err;
    } finally {
      release();
      if (this.inFlight.get(batch.partition) === chain) this.inFlight.delete(batch.partition);
    }
  }

  /** runBatch, its failures marked as the code's (pure: the same batch fails the same way). */
  private run(engine: PartitionEngine, batch: ConsumedBatch): BatchResult {
    try {
      return runBatch(engine, batch, this.producerName, this.deps.datasetVersion);
    } catch (err) {
      throw new BatchProcessingError(batch, err);
    }
  }

  /**
   * Counts a failed batch. Redis or Kafka failing is retried for as long as it lasts (an
   * outage). The pure step failing on the same batch `maxBatchAttempts` times in a row is
   * a record or state the code cannot handle: its partition is paused (the others go
   * on), perpflow_aligner_partition_stalled says so and the alert AlignerPartitionStalled
   * fires; never a silent retry loop. Nothing past the batch is committed, so a restart
   * after the fix resumes there. True when paused.
   */
  private noteFailure(batch: Batch, err: unknown): boolean {
    const { topic, partition } = batch;
    this.deps.metrics.batchFailures.inc({ topic });
    if (!(err instanceof BatchProcessingError)) return false;
    const offset = batch.messages[0]?.offset ?? '';
    const id = `${topic}/${partition}`;
    const prev = this.failures.get(id);
    const attempts = prev?.offset === offset ? prev.attempts + 1 : 1;
    this.failures.set(id, { offset, attempts });
    const context = { topic, partition, offset, attempts, err: err.message };
    if (attempts < this.maxBatchAttempts) {
      this.deps.logger.warn(context, 'batch failed; retried');
      return false;
    }
    this.deps.metrics.partitionStalled.set({ topic, partition: String(partition) }, 1);
    this.deps.consumer.pause([{ topic, partitions: [partition] }]);
    this.deps.logger.error(
      context,
      'the same batch failed every attempt: partition paused (perpflow_aligner_partition_stalled); fix the cause and restart the aligner',
    );
    return true;
  }

  private noteSuccess(batch: Batch): void {
    const id = `${batch.topic}/${batch.partition}`;
    if (!this.failures.delete(id)) return;
    this.deps.metrics.partitionStalled.set({ topic: batch.topic, partition: String(batch.partition) }, 0);
  }

  private async process(batch: Batch, heartbeat: () => Promise<void>): Promise<void> {
    const { topic, partition } = batch;
    const feed = feedOfTopic(topic);
    if (!feed) throw new Error(`aligner subscribed to unexpected topic ${topic}`);
    const rt = await this.runtimeFor(partition, heartbeat);
    const floor = BigInt(rt.offsets[topic] ?? '0');
    const fresh = batch.messages.filter((m) => BigInt(m.offset) >= floor);
    if (fresh.length === 0) return;
    this.deps.metrics.recordsIn.inc({ feed }, fresh.length);

    const consumed: ConsumedBatch = {
      topic,
      partition,
      feed,
      nowMs: this.deps.now(),
      messages: fresh.map((m) => ({
        offset: m.offset,
        key: m.key?.toString('utf8') ?? null,
        value: m.value,
        headers: headersToStrings(m.headers),
      })),
    };
    const result = this.run(rt.engine, consumed);
    const offsets = { ...rt.offsets, [topic]: (BigInt(fresh[fresh.length - 1]!.offset) + 1n).toString() };
    // Write-ahead: the batch (its input order and nowMs) is durable before any of its output is.
    await this.deps.state.append(partition, { seq: rt.seq + 1, batch: consumed, offsets });
    rt.seq += 1;
    rt.offsets = offsets;
    rt.recordsSinceSnapshot += fresh.length;
    this.deps.atStep?.('after-log-append');
    await heartbeat(); // a long batch on a starved CPU must not outlive the session

    await this.publish(result);
    this.deps.atStep?.('after-produce');
    const acked = this.deps.now();
    await heartbeat();
    this.count(feed, result, acked);

    if (
      rt.recordsSinceSnapshot >= this.policy.everyRecords ||
      acked - rt.snapshotAtMs >= this.policy.everyMs
    ) {
      // Only after the produce: a snapshot must never hold outputs that are not acknowledged.
      await this.deps.state.snapshot(partition, rt.seq, {
        offsets: { ...rt.offsets },
        state: rt.engine.snapshot(),
        savedAtMs: acked,
      });
      rt.recordsSinceSnapshot = 0;
      rt.snapshotAtMs = acked;
      this.deps.metrics.snapshots.inc();
      this.deps.atStep?.('after-snapshot');
    }
    this.deps.atStep?.('before-commit');
    await this.deps.consumer.commitOffsets([{ topic, partition, offset: rt.offsets[topic]! }]);
    this.deps.metrics.consumerLag.set(
      { topic, partition: String(partition) },
      Number(BigInt(batch.highWatermark) - BigInt(rt.offsets[topic]!)),
    );
    await heartbeat();
  }

  /** Bars, then dead letters, in bounded requests (one record batch must stay under message.max.bytes). */
  private async publish(result: BatchResult): Promise<void> {
    for (const [topicName, messages] of [
      [TOPICS.alignedBar, result.barMessages],
      [TOPICS.deadLetter, result.deadLetters],
    ] as const)
      for (const chunk of chunksByBytes(messages, MAX_SEND_BYTES))
        await this.deps.producer.send({ topic: topicName, messages: chunk });
  }

  private count(feed: Feed, result: BatchResult, acked: number): void {
    const m = this.deps.metrics;
    for (const ruleId of result.contractRules) {
      m.dlq.inc({ stage: 'aligner', feed, rule: ruleId });
      m.ruleHits.inc({ feed, rule: ruleId, action: 'reject' });
    }
    const out = result.output;
    for (const h of out.hits) m.ruleHits.inc({ feed: h.feed, rule: h.ruleId, action: h.action });
    for (const r of out.rejected) {
      m.dlq.inc({ stage: 'aligner', feed: r.feed, rule: r.ruleId });
      if (r.late) m.late.inc({ feed: r.feed });
    }
    for (const b of out.bars) {
      m.barsEmitted.inc({ timeframe: b.timeframe, kind: b.revision > 0 ? 'revision' : 'first' });
      m.freshness.observe(
        { exchange: b.exchange, symbol: b.symbol, feed: 'bar' },
        b.eventTimeMs + timeframeMs(b.timeframe),
      );
      m.latency.observe(Math.max(0, acked - b.knownAtMs) / 1000);
    }
    for (const [key, wm] of out.watermarks) {
      const [exchange, symbol] = key.split('|');
      m.watermarkLag.set({ exchange: exchange ?? '', symbol: symbol ?? '' }, Math.max(0, acked - wm) / 1000);
    }
  }

  /**
   * The partition's engine: snapshot + the log replayed in order with outputs discarded,
   * except the last logged batch, whose outputs are published again (at-least-once,
   * byte-identical content) because its produce may have been cut short.
   */
  private async runtimeFor(partition: number, heartbeat: () => Promise<void>): Promise<PartitionRuntime> {
    let rt = this.partitions.get(partition);
    if (rt) return rt;
    const stored = await this.deps.state.load(partition);
    const engine = this.deps.createEngine(stored.snapshot?.state ?? null);
    const offsets: Record<string, string> = { ...(stored.snapshot?.offsets ?? {}) };
    let last: BatchResult | null = null;
    let records = 0;
    for (const entry of stored.log) {
      // An entry below the offsets already in the state (a snapshot written by a writer
      // that did not know the log, e.g. an older version during a rolling deploy) is in
      // that state already: applying it twice would change content.
      const first = entry.batch.messages[0];
      if (first && BigInt(first.offset) < BigInt(offsets[entry.batch.topic] ?? '0')) {
        this.deps.logger.warn(
          { partition, seq: entry.seq, topic: entry.batch.topic, offset: first.offset },
          'log entry below the snapshot offsets skipped',
        );
        continue;
      }
      last = this.run(engine, entry.batch);
      offsets[entry.batch.topic] = entry.offsets[entry.batch.topic]!;
      records += entry.batch.messages.length;
    }
    const seq = stored.log.at(-1)?.seq ?? stored.seq;
    if (seq !== stored.seq)
      throw new Error(`partition ${partition}: log ends at ${seq} but the sequence is ${stored.seq}`);
    if (last) {
      await heartbeat();
      await this.publish(last);
    }
    rt = { engine, offsets, seq, recordsSinceSnapshot: records, snapshotAtMs: this.deps.now() };
    this.partitions.set(partition, rt);
    this.deps.logger.info(
      {
        partition,
        offsets,
        restored: stored.snapshot !== null,
        replayedBatches: stored.log.length,
        replayedRecords: records,
      },
      'partition state loaded',
    );
    return rt;
  }
}

/** The pure step (decode, engine) threw on a batch: a bug or state it cannot handle, not an outage. */
export class BatchProcessingError extends PerpflowError {
  readonly code = 'ALIGNER_BATCH_PROCESSING';
  readonly retriable = false;
  constructor(batch: ConsumedBatch, cause: unknown) {
    super(
      `processing ${batch.topic}[${batch.partition}] from offset ${batch.messages[0]?.offset ?? '?'} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, context: { topic: batch.topic, partition: batch.partition } },
    );
  }
}

/** Upper bound of one produce request's payload (the broker's default message.max.bytes is 1 MiB). */
export const MAX_SEND_BYTES = 512 * 1024;

export function chunksByBytes(messages: readonly Message[], maxBytes: number): Message[][] {
  const out: Message[][] = [];
  let cur: Message[] = [];
  let size = 0;
  for (const m of messages) {
    const n =
      (m.value ? Buffer.byteLength(m.value as string | Buffer) : 0) +
      (m.key ? Buffer.byteLength(m.key as string | Buffer) : 0) +
      64;
    if (cur.length > 0 && size + n > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(m);
    size += n;
  }
  if (cur.length) out.push(cur);
  return out;
}
