import {
  type AlignedBar,
  decodeRecord,
  FEED_RECORD_KIND,
  feedOfTopic,
  HEADERS,
  SCHEMA_VERSION,
  schemaHeader,
  streamKey,
  TOPICS,
  timeframeMs,
} from '@perpflow/contracts';
import {
  buildDeadLetter,
  type DeadLetterSource,
  deadLetterToMessage,
  headersToStrings,
} from '@perpflow/kafka';
import type { Logger } from '@perpflow/runtime';
import type { Batch, Consumer, Message, Producer } from 'kafkajs';
import type { SnapshotStore } from './adapters/snapshots.js';
import type { EngineInput, PartitionEngine } from './domain/engine-types.js';
import type { AlignerMetrics } from './metrics.js';

export interface PipelineDeps {
  consumer: Consumer;
  producer: Producer;
  snapshots: SnapshotStore;
  createEngine: (snapshot: unknown | null) => PartitionEngine;
  metrics: AlignerMetrics;
  logger: Logger;
  now: () => number;
  /** The perpflow-producer header of every record written: `aligner/<group>` (default `aligner`). */
  producerName?: string;
}

interface PartitionRuntime {
  engine: PartitionEngine;
  /** topic → next offset included in the engine's state. */
  offsets: Record<string, string>;
}

/**
 * consume raw batch (one topic-partition) → contract → engine → produce bars and
 * dead letters (await acks=all) → snapshot state + offsets to Redis → commit offsets.
 *
 * Crash after the produce, before the snapshot: the batch is processed again from
 * the previous snapshot and its bars are produced again with the same identity
 * (exchange, symbol, timeframe, eventTimeMs, revision) — the aligned topic is
 * at-least-once and the windower keeps one row per identity. Crash after the
 * snapshot, before the commit: the snapshot's offsets win; records below them
 * are skipped, nothing is produced twice.
 */
export class AlignerPipeline {
  private readonly partitions = new Map<number, PartitionRuntime>();
  private readonly inFlight = new Map<number, Promise<void>>();

  private readonly producerName: string;

  constructor(private readonly deps: PipelineDeps) {
    this.producerName = deps.producerName ?? 'aligner';
  }

  /** Drops cached state on every rebalance: the next batch reloads the partition's snapshot. */
  onAssignment(assignment: Record<string, number[]>): void {
    this.partitions.clear();
    this.deps.logger.info({ assignment }, 'partitions assigned; state reloads from snapshots');
  }

  async handleBatch(batch: Batch, heartbeat: () => Promise<void>): Promise<void> {
    // One batch of a partition at a time. After a rebalance kafkajs may hand the same
    // partition's records to a new fetch loop while the previous batch is still saving
    // its snapshot; loading the partition then would read the older snapshot and produce
    // that batch's bars a second time. Waiting for the batch in flight avoids it.
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
    } catch (err) {
      // The engine may have applied inputs whose outputs never reached Kafka: forget
      // it, so the retry starts again from the last snapshot (state and offsets agree).
      this.partitions.delete(batch.partition);
      throw err;
    } finally {
      release();
      if (this.inFlight.get(batch.partition) === chain) this.inFlight.delete(batch.partition);
    }
  }

  private async process(batch: Batch, heartbeat: () => Promise<void>): Promise<void> {
    const { topic, partition } = batch;
    const feed = feedOfTopic(topic);
    if (!feed) throw new Error(`aligner subscribed to unexpected topic ${topic}`);
    const rt = await this.runtimeFor(partition);
    const floor = BigInt(rt.offsets[topic] ?? '0');
    const fresh = batch.messages.filter((m) => BigInt(m.offset) >= floor);
    if (fresh.length === 0) return;

    const nowMs = this.deps.now();
    const inputs: EngineInput<DeadLetterSource>[] = [];
    const dlq: Message[] = [];
    for (const m of fresh) {
      this.deps.metrics.recordsIn.inc({ feed });
      const ref: DeadLetterSource = {
        topic,
        partition,
        offset: m.offset,
        key: m.key?.toString('utf8') ?? null,
        value: m.value,
        headers: headersToStrings(m.headers),
      };
      const decoded = decodeRecord(FEED_RECORD_KIND[feed], m.value);
      if (!decoded.ok) {
        const ruleId = `contract.${decoded.error.rule}`;
        this.deps.metrics.dlq.inc({ stage: 'aligner', feed, rule: ruleId });
        this.deps.metrics.ruleHits.inc({ feed, rule: ruleId, action: 'reject' });
        const keyParts = ref.key?.split('|');
        dlq.push(
          deadLetterToMessage(
            buildDeadLetter(
              ref,
              {
                ruleId,
                message: decoded.error.message,
                exchange: keyParts?.[0] ?? null,
                symbol: keyParts?.[1] ?? null,
              },
              'aligner',
              nowMs,
            ),
            this.producerName,
          ),
        );
        continue;
      }
      inputs.push({ feed, record: decoded.value as EngineInput<DeadLetterSource>['record'], ref });
    }

    const out = rt.engine.apply(inputs, nowMs);
    await heartbeat(); // a long batch on a starved CPU must not outlive the session
    for (const h of out.hits)
      this.deps.metrics.ruleHits.inc({ feed: h.feed, rule: h.ruleId, action: h.action });
    for (const r of out.rejected) {
      this.deps.metrics.dlq.inc({ stage: 'aligner', feed: r.feed, rule: r.ruleId });
      if (r.late) this.deps.metrics.late.inc({ feed: r.feed });
      dlq.push(
        deadLetterToMessage(
          buildDeadLetter(
            r.ref,
            { ruleId: r.ruleId, message: r.message, exchange: r.exchange, symbol: r.symbol },
            'aligner',
            nowMs,
          ),
          this.producerName,
        ),
      );
    }
    const barMessages = out.bars.map((b) => barMessage(b, nowMs, this.producerName));
    // Bounded requests: one record batch per partition must stay under the broker's message.max.bytes.
    for (const [topicName, messages] of [
      [TOPICS.alignedBar, barMessages],
      [TOPICS.deadLetter, dlq],
    ] as const)
      for (const chunk of chunksByBytes(messages, MAX_SEND_BYTES))
        await this.deps.producer.send({ topic: topicName, messages: chunk });

    const acked = this.deps.now();
    await heartbeat();
    for (const b of out.bars) {
      this.deps.metrics.barsEmitted.inc({
        timeframe: b.timeframe,
        kind: b.revision > 0 ? 'revision' : 'first',
      });
      this.deps.metrics.freshness.observe(
        { exchange: b.exchange, symbol: b.symbol, feed: 'bar' },
        b.eventTimeMs + timeframeMs(b.timeframe),
      );
      this.deps.metrics.latency.observe(Math.max(0, acked - b.knownAtMs) / 1000);
    }
    for (const [key, wm] of out.watermarks) {
      const [exchange, symbol] = key.split('|');
      this.deps.metrics.watermarkLag.set(
        { exchange: exchange ?? '', symbol: symbol ?? '' },
        Math.max(0, acked - wm) / 1000,
      );
    }

    const last = fresh[fresh.length - 1]!;
    rt.offsets[topic] = (BigInt(last.offset) + 1n).toString();
    await this.deps.snapshots.save(partition, {
      offsets: { ...rt.offsets },
      state: rt.engine.snapshot(),
      savedAtMs: acked,
    });
    this.deps.metrics.snapshots.inc();
    await this.deps.consumer.commitOffsets([{ topic, partition, offset: rt.offsets[topic]! }]);
    const high = BigInt(batch.highWatermark);
    this.deps.metrics.consumerLag.set(
      { topic, partition: String(partition) },
      Number(high - BigInt(rt.offsets[topic]!)),
    );
    await heartbeat();
  }

  private async runtimeFor(partition: number): Promise<PartitionRuntime> {
    let rt = this.partitions.get(partition);
    if (rt) return rt;
    const snap = await this.deps.snapshots.load(partition);
    rt = { engine: this.deps.createEngine(snap?.state ?? null), offsets: { ...(snap?.offsets ?? {}) } };
    this.partitions.set(partition, rt);
    this.deps.logger.info(
      { partition, offsets: rt.offsets, restored: snap !== null },
      'partition state loaded',
    );
    return rt;
  }
}

export function barMessage(bar: AlignedBar, producedAtMs: number, producerName = 'aligner'): Message {
  return {
    key: streamKey(bar.exchange, bar.symbol),
    value: JSON.stringify(bar),
    headers: {
      [HEADERS.schema]: schemaHeader('aligned_bar'),
      [HEADERS.producer]: producerName,
      [HEADERS.producedAtMs]: String(producedAtMs),
      'perpflow-schema-version': String(SCHEMA_VERSION),
    },
  };
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
