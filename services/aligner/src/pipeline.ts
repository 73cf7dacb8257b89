import {
  type Feed,
  FEEDS,
  feedOfTopic,
  PerpflowError,
  type PipelineTopicNames,
  TOPICS,
  timeframeMs,
} from '@perpflow/contracts';
import {
  type ConsumerControl,
  type FetchedBatch,
  headersToStrings,
  type IncomingMessage,
  type OutgoingMessage,
  type RecordProducer,
} from '@perpflow/kafka';
import type { Logger } from '@perpflow/runtime';
import { CorruptPartitionStateError, type PartitionStateStore } from './adapters/partition-state.js';
import { type BatchResult, type ConsumedBatch, runBatch, stampRawThrough } from './domain/batch.js';
import type { PartitionEngine } from './domain/engine-types.js';
import { type MergePlan, MergeQueue, type QueuedMessage } from './domain/merge.js';
import type { AlignerMetrics } from './metrics.js';

export { barMessage } from './domain/batch.js';

/** When a partition writes a full snapshot (and empties its log); whichever comes first. */
export interface SnapshotPolicy {
  /** Records logged since the last snapshot. Default 50,000. */
  everyRecords: number;
  /** Milliseconds since the last snapshot (checked after each batch). Default 900,000. */
  everyMs: number;
}

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { everyRecords: 50_000, everyMs: 900_000 };

/** What the broker says of the raw topics' partitions (see MergeQueue): asked after `askedAtMs`. */
export type RawTopicEnds = () => Promise<Map<string, Map<number, { high: bigint; start: bigint }>>>;

export interface MergePolicy {
  /**
   * How long a record waits for proof that an empty raw topic holds nothing published
   * before it (the broker's high watermark); past it the record is taken anyway and
   * perpflow_aligner_merge_forced_total counts it. Default 30,000.
   */
  maxWaitMs: number;
  /** Bytes queued per raw topic-partition above which its fetches pause. Default 1 MiB. */
  maxQueuedBytes: number;
  /** Records per step (one log entry, one produce, one commit). Default 5,000. */
  maxStepRecords: number;
  /**
   * How long after its timestamp a record is surely appended (producer latency): the proof
   * that an empty topic holds nothing older than a record is asked no sooner. Default 0
   * (asked once the record reached the aligner; see ALIGNER_MERGE_APPEND_MARGIN_MS).
   */
  appendMarginMs: number;
}

export const DEFAULT_MERGE_POLICY: MergePolicy = {
  maxWaitMs: 30_000,
  maxQueuedBytes: 1024 * 1024,
  maxStepRecords: 5_000,
  appendMarginMs: 0,
};

/** Wake-ups that wait for the append margin land on multiples of this (ms since the epoch). */
export const WAKE_TICK_MS = 250;

export interface PipelineDeps {
  consumer: ConsumerControl;
  producer: RecordProducer;
  state: PartitionStateStore;
  createEngine: (snapshot: unknown | null) => PartitionEngine;
  /** The raw topics' high watermarks and start offsets, per partition. */
  ends: RawTopicEnds;
  metrics: AlignerMetrics;
  logger: Logger;
  now: () => number;
  /** The perpflow-producer header of every record written: `aligner/<group>` (default `aligner`). */
  producerName?: string;
  /** The perpflow-dataset-version header of every bar written (version.ts). */
  datasetVersion?: string;
  snapshotPolicy?: SnapshotPolicy;
  mergePolicy?: Partial<MergePolicy>;
  /** pipelineTopicNames(KAFKA_TOPIC_PREFIX): the topics read and written (default TOPICS). */
  topics?: PipelineTopicNames;
  /**
   * Failures in a row of the pure step on the same records (same first offset) after which
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
  /** Sequence number of the last step in the engine's state (the partition's log). */
  seq: number;
  recordsSinceSnapshot: number;
  snapshotAtMs: number;
}

/**
 * consume raw batches (any of the four topics of partition p) → merge them into one order
 * (by record timestamp, domain/merge.ts) → contract → engine → append the step to the
 * partition's write-ahead log (Redis) → produce bars and dead letters (await acks=all) →
 * every N records / T ms a full snapshot that empties the log → commit offsets.
 *
 * Identity → content is stable across crashes because nothing is published before the
 * input order that produced it is durable: the log holds each step's records in the order
 * the engine took them. A new owner restores the snapshot, replays the log through the
 * engine (same inputs, same order → same bars) and publishes the LAST logged step's
 * outputs again, since its produce may not have finished; every earlier step's produce
 * was acknowledged before the next step was logged. The logged offsets win over committed
 * ones: records below them are never processed twice. Records queued but not yet in a
 * step are above the committed offsets, so a new owner fetches them again.
 * See docs/ARCHITECTURE.md ③ for the order and ④ for the crash table.
 */
export class AlignerPipeline {
  private readonly partitions = new Map<number, PartitionRuntime>();
  private readonly merges = new Map<number, MergeQueue>();
  private readonly inFlight = new Map<number, Promise<void>>();
  /** `<topic>/<partition>` paused because its lane holds more than maxQueuedBytes. */
  private readonly throttled = new Set<string>();
  private readonly highWatermarks = new Map<string, bigint>();
  private readonly deadlines = new Map<number, { timer: NodeJS.Timeout; atMs: number }>();
  private endsQuery: { askedAtMs: number; done: Promise<void> } | null = null;
  /**
   * The broker's last answer, kept for lanes made after it: a partition whose first batch was
   * received before a question but handled after its answer must still take that answer
   * (it proves its empty lanes as well as anyone's). Without it such a partition found the
   * answer's question new enough, asked nothing, and waited out ALIGNER_MERGE_MAX_WAIT_MS.
   */
  private lastEnds: { askedAtMs: number; ends: Awaited<ReturnType<RawTopicEnds>> } | null = null;
  private fetchedAtMs: number | null = null;

  /** Partition → the first offset of the step that failed (`<topic>/<offset>`), and how often in a row. */
  private readonly failures = new Map<number, { at: string; attempts: number }>();

  private readonly producerName: string;
  private readonly policy: SnapshotPolicy;
  private readonly merge: MergePolicy;
  private readonly maxBatchAttempts: number;
  private readonly topics: PipelineTopicNames;
  private stopped = false;

  constructor(private readonly deps: PipelineDeps) {
    this.producerName = deps.producerName ?? 'aligner';
    this.policy = deps.snapshotPolicy ?? DEFAULT_SNAPSHOT_POLICY;
    this.merge = { ...DEFAULT_MERGE_POLICY, ...deps.mergePolicy };
    this.maxBatchAttempts = deps.maxBatchAttempts ?? 5;
    this.topics = deps.topics ?? TOPICS;
  }

  /**
   * Drops cached state and queued records on every rebalance: the next batch reloads the
   * partition's snapshot and log, and kafkajs fetches again from the committed offsets.
   */
  onAssignment(assignment: Record<string, number[]>): void {
    this.partitions.clear();
    this.merges.clear();
    for (const d of this.deadlines.values()) clearTimeout(d.timer);
    this.deadlines.clear();
    if (this.throttled.size > 0) {
      this.deps.consumer.resume(
        [...this.throttled].map((id) => {
          const cut = id.lastIndexOf('/');
          return { topic: id.slice(0, cut), partitions: [Number(id.slice(cut + 1))] };
        }),
      );
      this.throttled.clear();
    }
    this.deps.logger.info({ assignment }, 'partitions assigned; state reloads from snapshots');
  }

  /** Stops the deadline timers (at shutdown). */
  close(): void {
    this.stopped = true;
    for (const d of this.deadlines.values()) clearTimeout(d.timer);
    this.deadlines.clear();
  }

  /**
   * A fetch response arrived (kafkajs's FETCH event, before its batches are handled). Its
   * records were in the log by then, so the batches of one response share this receipt
   * time, and one question to the broker proves the empty lanes for all of them.
   */
  noteFetch(): void {
    this.fetchedAtMs = this.deps.now();
  }

  /** Queues a fetched batch in its lane, then processes what the merge order allows. */
  async handleBatch(batch: FetchedBatch, heartbeat: () => Promise<void>): Promise<void> {
    const feed = feedOfTopic(batch.topic, this.topics);
    if (!feed) throw new Error(`aligner subscribed to unexpected topic ${batch.topic}`);
    const receivedAtMs = this.fetchedAtMs ?? this.deps.now();
    this.highWatermarks.set(`${batch.topic}/${batch.partition}`, BigInt(batch.highWatermark));
    await this.serial(batch.partition, async () => {
      const merge = this.mergeFor(batch.partition);
      merge.push(
        feed,
        batch.messages.map((m) => queued(m, receivedAtMs)),
      );
      this.throttle(batch.partition, merge);
      await this.drainOrNote(batch.partition, heartbeat);
    });
  }

  /**
   * One thing at a time per partition. After a rebalance kafkajs may hand the same
   * partition's records to a new fetch loop while the previous step is still being saved;
   * loading the partition then would read an older state and produce that step's bars a
   * second time. Waiting for the work in flight avoids it.
   */
  private async serial(partition: number, work: () => Promise<void>): Promise<void> {
    const previous = this.inFlight.get(partition) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const chain = previous.then(() => mine);
    this.inFlight.set(partition, chain);
    await previous;
    try {
      await work();
    } finally {
      release();
      if (this.inFlight.get(partition) === chain) this.inFlight.delete(partition);
    }
  }

  /** drain, its failures counted: thrown to kafkajs (which fetches again) unless the partition is now paused. */
  private async drainOrNote(partition: number, heartbeat: () => Promise<void>): Promise<void> {
    try {
      await this.drain(partition, heartbeat);
    } catch (err) {
      // The engine may hold inputs whose log entry or outputs are not durable: forget it,
      // so the retry starts again from Redis (snapshot + log: state and offsets agree).
      this.partitions.delete(partition);
      if (!this.noteFailure(partition, err)) throw err;
    }
  }

  /** Steps while the merge order allows; one question to the broker when an empty lane holds it up. */
  private async drain(partition: number, heartbeat: () => Promise<void>): Promise<void> {
    const merge = this.mergeFor(partition);
    let asked = false;
    for (;;) {
      if (this.merges.get(partition) !== merge) return; // reassigned meanwhile: the new lanes take over
      const rt = await this.runtimeFor(partition, heartbeat); // sets the lanes' floors
      const plan = merge.plan(this.deps.now(), this.merge.maxStepRecords);
      if (plan.items.length === 0) {
        if (!plan.waiting) return;
        if (plan.waiting.endsAfterMs > this.deps.now()) {
          // On a shared tick: the partitions wake together, one question serves them all,
          // and each step takes every record of the tick (not one record per question).
          this.armDeadline(partition, Math.ceil(plan.waiting.endsAfterMs / WAKE_TICK_MS) * WAKE_TICK_MS);
          return;
        }
        if (!asked) {
          asked = true;
          await this.askEnds(plan.waiting.endsAfterMs);
          continue;
        }
        if (this.deps.logger.isLevelEnabled('debug'))
          this.deps.logger.debug(
            {
              partition,
              waiting: plan.waiting,
              nowMs: this.deps.now(),
              lanes: Object.fromEntries(FEEDS.map((f) => [f, merge.describe(f)])),
            },
            'asked the broker; an empty lane is not proved complete: waiting for its records or the wait bound',
          );
        this.armDeadline(partition, plan.waiting.deadlineMs);
        return;
      }
      for (const f of plan.forced) {
        this.deps.metrics.mergeForced.inc({ topic: this.topics.raw[f] });
        this.deps.logger.warn(
          { partition, topic: this.topics.raw[f], waitedMs: this.merge.maxWaitMs },
          'no proof within ALIGNER_MERGE_MAX_WAIT_MS that this raw topic holds nothing older: records of the other topics went ahead of it (perpflow_aligner_merge_forced_total)',
        );
      }
      await this.step(partition, rt, plan, heartbeat);
      merge.drop(plan.taken);
      this.noteSuccess(partition);
      this.throttle(partition, merge);
    }
  }

  /** The broker's ends of every raw topic, asked at or after `afterMs`; one question in flight at a time. */
  private async askEnds(afterMs: number): Promise<void> {
    for (;;) {
      const q = this.endsQuery;
      if (q && q.askedAtMs >= afterMs) return q.done;
      if (q) {
        await q.done.catch(() => undefined);
        if (this.endsQuery !== q) continue;
      }
      const askedAtMs = this.deps.now();
      const done = this.deps.ends().then((ends) => {
        if (!this.lastEnds || askedAtMs >= this.lastEnds.askedAtMs) this.lastEnds = { askedAtMs, ends };
        for (const [partition, merge] of this.merges) this.noteEnds(partition, merge);
      });
      const query = { askedAtMs, done };
      this.endsQuery = query;
      try {
        await done;
      } catch (err) {
        if (this.endsQuery === query) this.endsQuery = null;
        this.deps.logger.warn({ err: (err as Error).message }, "asking the raw topics' ends failed; retried");
      }
      return;
    }
  }

  /** The broker's last answer, for one partition's lanes. */
  private noteEnds(partition: number, merge: MergeQueue): void {
    const last = this.lastEnds;
    if (!last) return;
    for (const [topic, byPartition] of last.ends) {
      const feed = feedOfTopic(topic, this.topics);
      const end = feed ? byPartition.get(partition) : undefined;
      if (feed && end) merge.noteEnd(feed, { ...end, askedAtMs: last.askedAtMs });
    }
  }

  /** Processes the partition again at `atMs` (when the broker may be asked, or the wait bound). */
  private armDeadline(partition: number, atMs: number): void {
    const armed = this.deadlines.get(partition);
    if (this.stopped || (armed && armed.atMs <= atMs)) return;
    if (armed) clearTimeout(armed.timer);
    const timer = setTimeout(
      () => {
        this.deadlines.delete(partition);
        this.serial(partition, () => this.drainOrNote(partition, async () => {})).catch((err) => {
          this.deps.logger.warn(
            { partition, err: (err as Error).message },
            'processing at the wait bound failed; retried',
          );
          this.armDeadline(partition, this.deps.now() + 1_000);
        });
      },
      Math.max(0, atMs - this.deps.now()) + 1,
    );
    timer.unref();
    this.deadlines.set(partition, { timer, atMs });
  }

  /**
   * Pauses a lane's fetches above maxQueuedBytes and resumes it below half of that. Only for
   * the partition's current queue: a step that finishes after a rebalance holds a dropped
   * queue, and pausing from it would leave a lane paused that nothing resumes (every lane of
   * a partition paused means no batch arrives to resume them).
   */
  private throttle(partition: number, merge: MergeQueue): void {
    if (this.merges.get(partition) !== merge) return;
    for (const feed of FEEDS) {
      const topic = this.topics.raw[feed];
      const id = `${topic}/${partition}`;
      const bytes = merge.bytesOf(feed);
      if (!this.throttled.has(id) && bytes > this.merge.maxQueuedBytes) {
        this.throttled.add(id);
        this.deps.consumer.pause([{ topic, partitions: [partition] }]);
      } else if (this.throttled.has(id) && bytes <= this.merge.maxQueuedBytes / 2) {
        this.throttled.delete(id);
        this.deps.consumer.resume([{ topic, partitions: [partition] }]);
      }
    }
    this.deps.metrics.mergeQueued.set({ partition: String(partition) }, merge.size());
  }

  private mergeFor(partition: number): MergeQueue {
    let m = this.merges.get(partition);
    if (!m) {
      m = new MergeQueue({ maxWaitMs: this.merge.maxWaitMs, appendMarginMs: this.merge.appendMarginMs });
      this.merges.set(partition, m);
      this.noteEnds(partition, m);
    }
    return m;
  }

  /** runBatch, its failures marked as the code's (pure: the same records fail the same way). */
  private run(engine: PartitionEngine, batch: ConsumedBatch): BatchResult {
    try {
      return runBatch(engine, batch, this.producerName, this.deps.datasetVersion);
    } catch (err) {
      throw new BatchProcessingError(batch, err);
    }
  }

  /**
   * Counts a failed step. Redis or Kafka failing is retried for as long as it lasts (an
   * outage). The pure step failing on the same records `maxBatchAttempts` times in a row
   * is a record or state the code cannot handle, and so is the partition's stored state
   * not decoding (CorruptPartitionStateError, topic `state`, offset the key): the
   * partition's four raw topics are paused (the other partitions go on),
   * perpflow_aligner_partition_stalled says so and the alert AlignerPartitionStalled
   * fires; never a silent retry loop. Nothing past the step is committed, so a restart
   * after the fix resumes there. True when paused.
   */
  private noteFailure(partition: number, err: unknown): boolean {
    const stalls = err instanceof BatchProcessingError || err instanceof CorruptPartitionStateError;
    this.deps.metrics.batchFailures.inc({ topic: stalls ? err.topic : 'state' });
    if (!stalls) return false;
    const at = `${err.topic}/${err.offset}`;
    const prev = this.failures.get(partition);
    const attempts = prev?.at === at ? prev.attempts + 1 : 1;
    this.failures.set(partition, { at, attempts });
    const context = { topic: err.topic, partition, offset: err.offset, attempts, err: err.message };
    if (attempts < this.maxBatchAttempts) {
      this.deps.logger.warn(context, 'batch failed; retried');
      return false;
    }
    this.deps.metrics.partitionStalled.set({ topic: err.topic, partition: String(partition) }, 1);
    this.deps.consumer.pause(
      Object.values(this.topics.raw).map((t) => ({ topic: t, partitions: [partition] })),
    );
    const armed = this.deadlines.get(partition);
    if (armed) clearTimeout(armed.timer);
    this.deadlines.delete(partition);
    this.deps.logger.error(
      context,
      err instanceof CorruptPartitionStateError
        ? "the partition's stored state does not decode: partition paused (perpflow_aligner_partition_stalled); see docs/RUNBOOK.md AlignerPartitionStalled"
        : 'the same batch failed every attempt: partition paused (perpflow_aligner_partition_stalled); fix the cause and restart the aligner',
    );
    return true;
  }

  private noteSuccess(partition: number): void {
    const prev = this.failures.get(partition);
    if (!prev) return;
    this.failures.delete(partition);
    const topic = prev.at.slice(0, prev.at.lastIndexOf('/'));
    this.deps.metrics.partitionStalled.set({ topic, partition: String(partition) }, 0);
  }

  /** The plan's records as runs of one topic each, in the merged order. */
  private runsOf(partition: number, plan: MergePlan, nowMs: number): ConsumedBatch[] {
    const runs: ConsumedBatch[] = [];
    let cur: ConsumedBatch | null = null;
    for (const { feed, message } of plan.items) {
      if (!cur || cur.feed !== feed) {
        cur = { topic: this.topics.raw[feed], partition, feed, nowMs, messages: [] };
        runs.push(cur);
      }
      const { receivedAtMs: _r, bytes: _b, ...m } = message;
      cur.messages.push(m);
    }
    return runs;
  }

  private async step(
    partition: number,
    rt: PartitionRuntime,
    plan: MergePlan,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const runs = this.runsOf(partition, plan, this.deps.now());
    const results = runs.map((run) => this.run(rt.engine, run));
    const offsets = { ...rt.offsets };
    for (const run of runs)
      offsets[run.topic] = (BigInt(run.messages[run.messages.length - 1]!.offset) + 1n).toString();
    stampRawThrough(results, partition, offsets);
    // Write-ahead: the step (its input order) is durable before any of its output is.
    await this.deps.state.append(partition, { seq: rt.seq + 1, batches: runs, offsets });
    rt.seq += 1;
    rt.offsets = offsets;
    rt.recordsSinceSnapshot += plan.items.length;
    this.deps.atStep?.('after-log-append');
    await heartbeat(); // a long step on a starved CPU must not outlive the session

    await this.publish(results);
    this.deps.atStep?.('after-produce');
    const acked = this.deps.now();
    await heartbeat();
    runs.forEach((run, i) => {
      this.deps.metrics.recordsIn.inc({ feed: run.feed }, run.messages.length);
      this.count(run.feed, results[i]!, acked);
    });

    if (
      rt.recordsSinceSnapshot >= this.policy.everyRecords ||
      acked - rt.snapshotAtMs >= this.policy.everyMs
    ) {
      // Only after the produce: a snapshot must never hold outputs that are not acknowledged.
      await this.deps.state.snapshot(partition, rt.seq, {
        offsets: { ...rt.offsets },
        stateJson: rt.engine.snapshotJson(),
        savedAtMs: acked,
      });
      rt.recordsSinceSnapshot = 0;
      rt.snapshotAtMs = acked;
      this.deps.metrics.snapshots.inc();
      this.deps.atStep?.('after-snapshot');
    }
    this.deps.atStep?.('before-commit');
    await this.commit(partition, [...new Set(runs.map((r) => r.topic))], rt.offsets);
    await heartbeat();
  }

  /** Commits the partition's positions in `topics` (outputs durable up to them) and sets their lag. */
  private async commit(
    partition: number,
    topics: readonly string[],
    offsets: Record<string, string>,
  ): Promise<void> {
    await this.deps.consumer.commitOffsets(
      topics.map((topic) => ({ topic, partition, offset: offsets[topic]! })),
    );
    for (const topic of topics) {
      const hw = this.highWatermarks.get(`${topic}/${partition}`);
      if (hw !== undefined)
        this.deps.metrics.consumerLag.set(
          { topic, partition: String(partition) },
          Math.max(0, Number(hw - BigInt(offsets[topic]!))),
        );
    }
  }

  /** Bars, then dead letters, in bounded requests (one record batch must stay under message.max.bytes). */
  private async publish(results: readonly BatchResult[]): Promise<void> {
    const bars = results.flatMap((r) => r.barMessages);
    const dead = results.flatMap((r) => r.deadLetters);
    for (const [topicName, messages] of [
      [this.topics.alignedBar, bars],
      [this.topics.deadLetter, dead],
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
    // Bars counted per run of one timeframe and kind (a step's bars are one run, mostly):
    // prom-client hashes the labels on every inc, once per bar was 2 % of the aligner's CPU.
    let run = 0;
    let runTimeframe = '';
    let runKind = '';
    for (const b of out.bars) {
      const kind = b.revision > 0 ? 'revision' : 'first';
      if (b.timeframe !== runTimeframe || kind !== runKind) {
        if (run > 0) m.barsEmitted.inc({ timeframe: runTimeframe, kind: runKind }, run);
        runTimeframe = b.timeframe;
        runKind = kind;
        run = 0;
      }
      run++;
      m.freshness.observe(
        { exchange: b.exchange, symbol: b.symbol, feed: 'bar' },
        b.eventTimeMs + timeframeMs(b.timeframe),
      );
      m.latency.observe(Math.max(0, acked - b.knownAtMs) / 1000);
    }
    if (run > 0) m.barsEmitted.inc({ timeframe: runTimeframe, kind: runKind }, run);
    for (const [key, wm] of out.watermarks) {
      const [exchange, symbol] = key.split('|');
      m.watermarkLag.set({ exchange: exchange ?? '', symbol: symbol ?? '' }, Math.max(0, acked - wm) / 1000);
    }
  }

  /**
   * The partition's engine: snapshot + the log replayed in order with outputs discarded,
   * except the last logged step, whose outputs are published again (at-least-once,
   * byte-identical content) because its produce may have been cut short. Its lanes drop
   * what the state already holds.
   */
  private async runtimeFor(partition: number, heartbeat: () => Promise<void>): Promise<PartitionRuntime> {
    let rt = this.partitions.get(partition);
    if (rt) return rt;
    const stored = await this.deps.state.load(partition);
    const engine = this.deps.createEngine(stored.snapshot?.state ?? null);
    const offsets: Record<string, string> = { ...(stored.snapshot?.offsets ?? {}) };
    let last: BatchResult[] = [];
    let records = 0;
    for (const entry of stored.log) {
      const results: BatchResult[] = [];
      const before = { ...offsets };
      for (const batch of entry.batches) {
        // A run below the offsets already in the state (a snapshot written by a writer
        // that did not know the log, e.g. an older version during a rolling deploy) is in
        // that state already: applying it twice would change content.
        const first = batch.messages[0];
        if (first && BigInt(first.offset) < BigInt(before[batch.topic] ?? '0')) {
          this.deps.logger.warn(
            { partition, seq: entry.seq, topic: batch.topic, offset: first.offset },
            'log entry below the snapshot offsets skipped',
          );
          continue;
        }
        results.push(this.run(engine, batch));
        offsets[batch.topic] = entry.offsets[batch.topic]!;
        records += batch.messages.length;
      }
      last = results;
    }
    const seq = stored.log.at(-1)?.seq ?? stored.seq;
    if (seq !== stored.seq)
      throw new Error(`partition ${partition}: log ends at ${seq} but the sequence is ${stored.seq}`);
    if (last.length > 0) {
      stampRawThrough(last, partition, offsets);
      await heartbeat();
      await this.publish(last);
    }
    if (Object.keys(offsets).length > 0) {
      // Every step in the state has its outputs acknowledged now (the last logged one's
      // again, just above), but the group's offsets may stop short of them: the member that
      // ran them died or lost the partition between its produce (or snapshot) and its commit.
      // Committed here, as a step would; else a partition that gets no new record keeps that
      // lag for good (seen: a rebalance left raw.funding/8 committed at 80 of 84, the log
      // through 84). The state never stands below the group's offsets: a step commits only
      // after its log entry.
      await this.commit(partition, Object.keys(offsets), offsets);
      await heartbeat();
    }
    rt = { engine, offsets, seq, recordsSinceSnapshot: records, snapshotAtMs: this.deps.now() };
    this.partitions.set(partition, rt);
    const merge = this.mergeFor(partition);
    for (const feed of FEEDS) {
      const o = offsets[this.topics.raw[feed]];
      merge.setFloor(feed, o === undefined ? null : BigInt(o));
    }
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

/**
 * A fetched message as its lane holds it. Its timestamp is capped at its receipt: a
 * producer clock ahead (or a forged timestamp) cannot hold its partition back. Its value is
 * copied: kafkajs's is a slice of the whole fetch response (up to 10 MiB), which one record of
 * a sparse topic (funding) waiting for its turn would otherwise keep alive.
 */
function queued(m: IncomingMessage, receivedAtMs: number): QueuedMessage {
  const key = m.key?.toString('utf8') ?? null;
  const ts = Number(m.timestamp);
  return {
    offset: m.offset,
    key,
    value: m.value && Buffer.from(m.value),
    headers: headersToStrings(m.headers),
    timestampMs: Number.isFinite(ts) ? Math.min(ts, receivedAtMs) : receivedAtMs,
    receivedAtMs,
    bytes: (m.key?.length ?? 0) + (m.value?.length ?? 0) + 64,
  };
}

/** The pure step (decode, engine) threw on a run of records: a bug or state it cannot handle, not an outage. */
export class BatchProcessingError extends PerpflowError {
  readonly code = 'ALIGNER_BATCH_PROCESSING';
  readonly retriable = false;
  readonly topic: string;
  readonly offset: string;
  constructor(batch: ConsumedBatch, cause: unknown) {
    super(
      `processing ${batch.topic}[${batch.partition}] from offset ${batch.messages[0]?.offset ?? '?'} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, context: { topic: batch.topic, partition: batch.partition } },
    );
    this.topic = batch.topic;
    this.offset = batch.messages[0]?.offset ?? '';
  }
}

/** Upper bound of one produce request's payload (the broker's default message.max.bytes is 1 MiB). */
export const MAX_SEND_BYTES = 512 * 1024;

export function chunksByBytes(messages: readonly OutgoingMessage[], maxBytes: number): OutgoingMessage[][] {
  const out: OutgoingMessage[][] = [];
  let cur: OutgoingMessage[] = [];
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
