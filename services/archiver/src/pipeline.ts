import {
  type ArchiveFeed,
  type ArchiveHeader,
  type FlushPlan,
  type KafkaRecord,
  type LedgerEntry,
  ledgerKey,
  PartitionBuffer,
  planFlush,
  type RotationLimits,
  toArchiveRow,
} from '@perpflow/archive';
import { isRetriable } from '@perpflow/contracts';
import { lostGroupMembership } from '@perpflow/kafka';
import { forEachPool, type Logger, retry } from '@perpflow/runtime';
import type { RecordHeaders } from '@perpflow/kafka';
import type { ArchiveStore } from './adapters/archive-store.js';
import type { FlushStep } from './crash-hook.js';
import type { ArchiverMetrics } from './metrics.js';

/**
 * Topic-partitions of one feed flushed at once: each flush is a few S3 round trips
 * (ledger, object, manifest, day index, then the commit) that keep the archiver idle.
 */
const FLUSHES_PER_FEED = 4;

/** Buffers written at once when the held bytes pass ARCHIVER_MAX_BUFFERED_BYTES. */
const RELIEVE_AT_ONCE = 8;

/** What the pipeline needs from the Kafka consumer. */
export interface OffsetCommitter {
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
}

/** A fetched batch, as kafkajs hands it over (only the fields used). */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: {
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers?: RecordHeaders;
  }[];
}

export interface ArchiverOptions {
  prefix: string;
  /** topic → feed of every archived topic. */
  feeds: ReadonlyMap<string, ArchiveFeed>;
  limits: RotationLimits;
  retryMaxDelayMs: number;
  /**
   * Record bytes held in all buffers together; past it the fullest buffers are written
   * until half is left, and the batch waits for that (the only back-pressure).
   */
  maxBufferedBytes: number;
}

export interface ArchiverDeps {
  consumer: OffsetCommitter;
  store: Pick<ArchiveStore, 'readLedger' | 'writeFlush'>;
  metrics: ArchiverMetrics;
  logger: Logger;
  now: () => number;
  options: ArchiverOptions;
  atStep?: (step: FlushStep) => void;
}

interface PartitionState {
  topic: string;
  partition: number;
  feed: ArchiveFeed;
  buffer: PartitionBuffer;
  /** First offset whose ledger entry was looked up (one GET per flush range). */
  ledgerCheckedAt: string | null;
  /** The ledger entry the next flush repeats, if any. */
  pinnedLedger: LedgerEntry | null;
}

/** Whether two byte strings are equal (short ones: a loop costs less than a native call). */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.byteLength;
  if (b.byteLength !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A copy in memory of its own: `Buffer.from` cuts short copies from Node's shared 8 KiB
 * pool, and one kept copy keeps its whole pool.
 */
function ownCopy(b: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(b.byteLength);
  b.copy(out);
  return out;
}

/**
 * One shared copy of each short byte string that repeats from record to record: a raw
 * record's key (`exchange|symbol`, the few series of a partition) and its header values
 * (schema, producer and source repeat; the produce time repeats within a produce batch).
 * Every buffered record held its own copies, six buffers a record: 600k Buffer objects
 * (60 MiB of heap) in a heap snapshot of a 1M-record catch-up. The bytes are never
 * written to after (the encoder and the parser only read them). Bounded: strings up to
 * `maxLength` bytes, and the table starts over past `maxEntries`.
 */
export class RepeatedBytes {
  private readonly bytes = new Map<string, Buffer>();
  private readonly headers = new Map<string, ArchiveHeader>();
  private readonly texts = new Map<string, string>();

  constructor(
    private readonly maxEntries = 4_096,
    private readonly maxLength = 96,
  ) {}

  /** The last `of` answer and the bytes it was asked for: consecutive records often share a key. */
  private lastIn: Uint8Array | null = null;
  private lastOut: Buffer | null = null;

  /** A copy of `b`, shared with every earlier equal one (a longer one gets its own). */
  of(b: Buffer): Buffer {
    if (b.byteLength > this.maxLength) return ownCopy(b);
    if (this.lastOut !== null && equalBytes(this.lastIn as Uint8Array, b)) return this.lastOut;
    const id = b.toString('latin1');
    let known = this.bytes.get(id);
    if (known === undefined) {
      if (this.bytes.size >= this.maxEntries) this.bytes.clear();
      known = ownCopy(b);
      this.bytes.set(id, known);
    }
    this.lastIn = known;
    this.lastOut = known;
    return known;
  }

  /** The header (name, value), one object for every equal pair. */
  header(name: string, value: Buffer | string | null): ArchiveHeader {
    const bytes = value === null ? null : typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    if (bytes !== null && bytes.byteLength > this.maxLength) return { name, value: ownCopy(bytes) };
    // The name's length first: no name and value can spell another pair's id.
    const id = `${name.length}:${name}${bytes === null ? '!' : `=${bytes.toString('latin1')}`}`;
    let known = this.headers.get(id);
    if (known === undefined) {
      if (this.headers.size >= this.maxEntries) this.headers.clear();
      known = { name, value: bytes === null ? null : this.of(bytes) };
      this.headers.set(id, known);
    }
    return known;
  }

  /** One string object for every equal text (the exchange and symbol parsed from each value). */
  text(t: string | null): string | null {
    if (t === null || t.length > this.maxLength) return t;
    const known = this.texts.get(t);
    if (known !== undefined) return known;
    if (this.texts.size >= this.maxEntries) this.texts.clear();
    this.texts.set(t, t);
    return t;
  }
}

/**
 * kafkajs headers → (name, bytes) pairs in wire order; a repeated name arrives as an array.
 * Each pair is `repeated`'s shared one, and a record whose pairs are those of `previous`
 * gets `previous` itself (consecutive records of a producer's batch carry the same).
 */
export function headersOf(
  headers: RecordHeaders | undefined,
  repeated: RepeatedBytes,
  previous: readonly ArchiveHeader[] = [],
): ArchiveHeader[] {
  const out: ArchiveHeader[] = [];
  let same = true;
  const add = (name: string, one: Buffer | string | null | undefined) => {
    if (one === undefined) return;
    // The pair at this place in the previous record, when equal, without building its id.
    const p = previous[out.length];
    const h =
      p !== undefined &&
      p.name === name &&
      Buffer.isBuffer(one) &&
      p.value !== null &&
      equalBytes(p.value, one)
        ? p
        : repeated.header(name, one);
    if (h !== p) same = false;
    out.push(h);
  };
  if (headers === undefined) return previous.length === 0 ? (previous as ArchiveHeader[]) : out;
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (Array.isArray(v)) for (const one of v) add(name, one);
    else add(name, v);
  }
  return same && out.length === previous.length ? (previous as ArchiveHeader[]) : out;
}

/**
 * One buffer of exactly a batch's values, which the batch's values are copied into.
 * kafkajs gives each record's bytes as a view of the whole fetch response, so a buffered
 * record kept the response alive until its object was written (up to
 * ARCHIVER_MAX_OBJECT_AGE_MS, an hour by default); the archiver peaked at 701 MiB
 * archiving 173k records. Keys and header values repeat: RepeatedBytes.
 */
export class BatchBytes {
  private readonly buffer: Buffer;
  private at = 0;

  constructor(messages: ConsumedBatch['messages']) {
    let n = 0;
    for (const m of messages) n += m.value?.byteLength ?? 0;
    this.buffer = Buffer.allocUnsafeSlow(n);
  }

  /** A copy of `b` in the batch's buffer (null stays null). */
  copy(b: Buffer): Buffer;
  copy(b: Buffer | null): Buffer | null;
  copy(b: Buffer | null): Buffer | null {
    if (b === null) return null;
    const start = this.at;
    this.at += b.copy(this.buffer, start);
    return this.buffer.subarray(start, this.at);
  }
}

/**
 * consume (topic, partition) → PartitionBuffer of @perpflow/archive → when one is due
 * (bytes, records, age): look up the ledger at its first offset (an earlier writer's
 * plan fixes the range) → planFlush → ledger, objects, manifests, day indexes on S3 →
 * commit the offset after the flush's last record.
 *
 * Crash anywhere before the commit: the records are consumed again from the committed
 * offset, the ledger entry there fixes the same range, and the same rows give the same
 * keys and bytes: each offset ends up in exactly one object. S3 failing: the write
 * backs off and retries; consumption goes on until the buffers hold maxBufferedBytes,
 * then the batch handler waits for it (consumption stops).
 *
 * Expelled from the group (a commit or heartbeat answered "not aware of this member",
 * e.g. a session timeout missed under load): flushing stops at once and the batch
 * handler (the one waiting, or the next) rejects with the broker's error, so kafkajs
 * rejoins; the next owner re-reads
 * from the last commit. Swallowing it kept one member writing and failing every commit
 * for 116 s in a fresh CI, until kafkajs noticed by itself.
 */
export class ArchiverPipeline {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly repeated = new RepeatedBytes();
  private flushing: Promise<void> | null = null;
  /** A flushSoon queued behind the running flush, not started yet. */
  private flushWaiting = false;
  private stopped = false;
  /** The broker's error once this member's generation ended; cleared by the next join. */
  private lost: Error | null = null;
  /** Counts joins, so a late answer of an earlier generation does not mark the current one lost. */
  private generation = 0;

  constructor(private readonly deps: ArchiverDeps) {}

  /**
   * Buffers a batch. A buffer that reached its size or record limit gets a flush beside
   * consumption (flushSoon); past `maxBufferedBytes` the batch waits until the fullest
   * buffers are written (back-pressure), sending group heartbeats meanwhile so a slow S3
   * does not cost the partitions (kafkajs heartbeats only between batches otherwise).
   */
  async handleBatch(batch: ConsumedBatch, heartbeat?: () => Promise<void>): Promise<void> {
    if (this.lost) throw this.lost;
    const feed = this.deps.options.feeds.get(batch.topic);
    if (!feed) throw new Error(`batch of topic ${batch.topic}, which is not archived`);
    const state = this.stateOf(batch.topic, batch.partition, feed);
    const nowMs = this.deps.now();
    let added = 0;
    const bytes = new BatchBytes(batch.messages);
    const repeated = this.repeated;
    let headers: ArchiveHeader[] = [];
    for (const m of batch.messages) {
      headers = headersOf(m.headers, repeated, headers);
      const record: KafkaRecord = {
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        kafkaTimestampMs: Number(m.timestamp),
        key: m.key === null ? null : repeated.of(m.key),
        value: bytes.copy(m.value),
        headers,
      };
      const row = toArchiveRow(feed, record);
      row.exchange = repeated.text(row.exchange);
      row.symbol = repeated.text(row.symbol);
      if (!state.buffer.add(row, nowMs)) continue;
      added++;
      if (row.contractError !== null) this.deps.metrics.recordsUnparsed.inc({ feed });
    }
    this.deps.metrics.recordsIn.inc({ feed }, added);
    this.updateGauges();
    const d = state.buffer.decide(nowMs);
    const max = this.deps.options.maxBufferedBytes;
    if (this.bufferedBytes() <= max) {
      // A full buffer is written beside consumption: waiting for it held every partition
      // for its flush's round trips (16.5k instead of 39k records/s with S3 30 ms away).
      if (d.due && (d.reason === 'bytes' || d.reason === 'records')) this.flushSoon();
      return;
    }
    const generation = this.generation;
    const beat = heartbeat
      ? setInterval(() => void heartbeat().catch((err) => this.noteLost(err, generation)), 3_000)
      : null;
    try {
      await this.serialised(() => this.relieve(max / 2));
    } finally {
      if (beat) clearInterval(beat);
    }
    if (this.lost) throw this.lost;
  }

  /** Record bytes held in every buffer. */
  bufferedBytes(): number {
    let n = 0;
    for (const s of this.partitions.values()) n += s.buffer.size.bytes;
    return n;
  }

  /**
   * Writes the fullest buffers whole (what is due first, then the rest as a `final` flush
   * would), RELIEVE_AT_ONCE at a time, until at most `target` bytes are held. A buffer that
   * cannot be written now (a ledger pin waiting for its range) is passed over; after a
   * failure (S3 down) no further buffer is started.
   */
  private async relieve(target: number): Promise<void> {
    const generation = this.generation;
    const fullest = [...this.partitions.entries()].sort(
      (a, b) => b[1].buffer.size.bytes - a[1].buffer.size.bytes,
    );
    const tried = new Set<PartitionState>();
    let failed = false;
    for (;;) {
      // The fullest untried buffers that bring the held bytes to the target once written.
      let held = this.bufferedBytes();
      const chosen: [string, PartitionState][] = [];
      for (const entry of fullest) {
        if (held <= target) break;
        if (tried.has(entry[1])) continue;
        tried.add(entry[1]);
        chosen.push(entry);
        held -= entry[1].buffer.size.bytes;
      }
      if (chosen.length === 0) break;
      await forEachPool(chosen, RELIEVE_AT_ONCE, async ([id, state]) => {
        if (failed || this.stopped || this.lost || this.partitions.get(id) !== state) return;
        try {
          while (
            state.buffer.size.records > 0 &&
            !this.lost &&
            (await this.flushPartition(state, true, generation))
          );
        } catch (err) {
          failed = true;
          this.noteFlushFailure(state, err);
        }
      });
      if (failed || this.stopped || this.lost) break;
    }
    this.updateGauges();
  }

  /** True from a refused commit or heartbeat until the next join. */
  get membershipLost(): boolean {
    return this.lost !== null;
  }

  /** Writes every due buffer (`final`: everything buffered). Serialised: one flush at a time. */
  flush(final = false): Promise<void> {
    return this.serialised(() => this.flushOnce(final));
  }

  /**
   * A flush of what is due, after the one running (at most one waits: it writes whatever
   * is due when it starts). Its failures are counted and logged per partition.
   */
  private flushSoon(): void {
    if (this.flushWaiting) return;
    this.flushWaiting = true;
    void this.serialised(() => {
      this.flushWaiting = false;
      return this.flushOnce(false);
    });
  }

  /** Runs `work` after every flush queued before it. */
  private serialised(work: () => Promise<void>): Promise<void> {
    const run = (this.flushing ?? Promise.resolve()).then(work);
    const tail = run.finally(() => {
      if (this.flushing === tail) this.flushing = null;
    });
    this.flushing = tail;
    return tail;
  }

  /** True while a flush runs or waits: the age tick skips then, so an S3 outage does not queue a flush per tick. */
  get busy(): boolean {
    return this.flushing !== null;
  }

  /**
   * After a (re)join: kafkajs re-reads every partition from its committed offset, so
   * what is buffered will come again; drop it rather than hold two copies.
   */
  onGroupJoin(): void {
    this.generation++;
    this.lost = null;
    this.partitions.clear();
    this.updateGauges();
  }

  stop(): void {
    this.stopped = true;
  }

  private stateOf(topic: string, partition: number, feed: ArchiveFeed): PartitionState {
    const id = `${topic}|${partition}`;
    let s = this.partitions.get(id);
    if (!s) {
      s = {
        topic,
        partition,
        feed,
        buffer: new PartitionBuffer(this.deps.options.limits),
        ledgerCheckedAt: null,
        pinnedLedger: null,
      };
      this.partitions.set(id, s);
    }
    return s;
  }

  /**
   * Feeds flush at once, and within a feed up to FLUSHES_PER_FEED topic-partitions at once;
   * their day-index updates (read and written whole) take turns in the store. Serial
   * flushes left the archiver idle half the time, waiting on S3.
   */
  private async flushOnce(final: boolean): Promise<void> {
    const generation = this.generation;
    const byFeed = new Map<ArchiveFeed, [string, PartitionState][]>();
    for (const entry of this.partitions) {
      const lane = byFeed.get(entry[1].feed);
      if (lane) lane.push(entry);
      else byFeed.set(entry[1].feed, [entry]);
    }
    await Promise.all([...byFeed.values()].map((lane) => this.flushLane(lane, final, generation)));
    this.updateGauges();
  }

  private async flushLane(
    lane: [string, PartitionState][],
    final: boolean,
    generation: number,
  ): Promise<void> {
    await forEachPool(lane, FLUSHES_PER_FEED, async ([id, state]) => {
      // Several objects may be due at once (a slow S3 let the buffer grow).
      for (;;) {
        if (this.partitions.get(id) !== state || this.stopped || this.lost) break;
        try {
          if (!(await this.flushPartition(state, final, generation))) break;
        } catch (err) {
          this.noteFlushFailure(state, err);
          break;
        }
      }
    });
  }

  /** Never silent: counted, alerted (ArchiverFlushFailing) and logged every tick. */
  private noteFlushFailure(state: PartitionState, err: unknown): void {
    this.deps.metrics.flushFailures.inc({ feed: state.feed });
    this.deps.logger.error(
      { topic: state.topic, partition: state.partition, err: (err as Error).message },
      'archive flush failed; its records stay buffered and uncommitted, retried next tick',
    );
  }

  /** One flush of a partition if one is due; false when none was. */
  private async flushPartition(state: PartitionState, final: boolean, generation: number): Promise<boolean> {
    const first = state.buffer.firstOffset;
    if (first === null) return false;
    let d = state.buffer.decide(this.deps.now(), final);
    if (!d.due) return false;
    const { prefix } = this.deps.options;
    let replay = state.buffer.pinnedLastOffset !== null;
    let ledger: LedgerEntry | null = state.pinnedLedger;
    if (!replay && state.ledgerCheckedAt !== first) {
      ledger = await this.withRetry('ledger read', () =>
        this.deps.store.readLedger(ledgerKey(prefix, state.topic, state.partition, first)),
      );
      state.ledgerCheckedAt = first;
      if (ledger) {
        state.buffer.pin(ledger.lastOffset);
        state.pinnedLedger = ledger;
        this.deps.logger.info(
          { topic: state.topic, partition: state.partition, first, last: ledger.lastOffset },
          'ledger entry found: this flush repeats an earlier writer’s range',
        );
        d = state.buffer.decide(this.deps.now(), final);
        if (!d.due) return false;
        replay = true;
      }
    }
    const plan = planFlush(prefix, state.feed, d.rows);
    if (replay) this.checkReplay(state, plan, ledger);
    await this.withRetry('flush', () => this.deps.store.writeFlush(plan));
    this.onDurable(state, plan, replay);
    await this.commit(state, plan.ledger.lastOffset, generation);
    return true;
  }

  /** A replay must reproduce the earlier writer's objects; if the bytes differ (another encoder version), the new ones replace them at the same keys. */
  private checkReplay(state: PartitionState, plan: FlushPlan, ledger: LedgerEntry | null): void {
    const want = JSON.stringify(ledger?.objects ?? null);
    const got = JSON.stringify(plan.ledger.objects);
    if (want !== got || ledger?.lastOffset !== plan.ledger.lastOffset)
      this.deps.logger.warn(
        {
          topic: state.topic,
          partition: state.partition,
          ledger: ledger?.objects,
          plan: plan.ledger.objects,
        },
        'replayed flush differs from its ledger entry; the objects at the same keys are replaced',
      );
  }

  private onDurable(state: PartitionState, plan: FlushPlan, replay: boolean): void {
    const m = this.deps.metrics;
    const feed = state.feed;
    const nowMs = this.deps.now();
    for (const addedAtMs of state.buffer.markDurable(plan.ledger.lastOffset))
      m.durableDelay.observe(Math.max(0, nowMs - addedAtMs) / 1000);
    m.recordsArchived.inc({ feed }, plan.ledger.rowCount);
    m.objectsWritten.inc({ feed }, plan.objects.length);
    m.bytesWritten.inc(
      { feed },
      plan.objects.reduce((n, o) => n + o.body.byteLength, 0),
    );
    if (replay) m.ledgerReplays.inc();
    state.pinnedLedger = null;
    this.deps.logger.debug({ ...plan.ledger, objects: plan.objects.length }, 'flush durable');
  }

  private async commit(state: PartitionState, lastOffset: string, generation: number): Promise<void> {
    const c = {
      topic: state.topic,
      partition: state.partition,
      offset: (BigInt(lastOffset) + 1n).toString(),
    };
    try {
      await this.deps.consumer.commitOffsets([c]);
      this.deps.atStep?.('after-commit');
    } catch (err) {
      // Its next owner re-reads from the last commit; the ledger makes it rewrite the same objects.
      this.deps.logger.warn({ commit: c, err: (err as Error).message }, 'offset commit failed');
      this.noteLost(err, generation);
    }
  }

  private noteLost(err: unknown, generation: number): void {
    if (!lostGroupMembership(err) || generation !== this.generation || this.lost) return;
    this.lost = err as Error;
    this.deps.metrics.membershipLost.inc();
    this.deps.logger.warn(
      { err: (err as Error).message },
      'this member left the group: flushing stops until kafkajs rejoins, and the records are re-read from the last commit',
    );
  }

  private withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return retry(fn, {
      retries: Number.POSITIVE_INFINITY,
      maxDelayMs: this.deps.options.retryMaxDelayMs,
      shouldRetry: (err) => !this.stopped && isRetriable(err),
      onRetry: (err, attempt, delayMs) =>
        this.deps.logger.warn(
          { what, attempt, delayMs, err: (err as Error).message },
          'S3 failed; backing off',
        ),
    });
  }

  private updateGauges(): void {
    let n = 0;
    for (const s of this.partitions.values()) n += s.buffer.size.records;
    this.deps.metrics.bufferedRecords.set(n);
  }
}
