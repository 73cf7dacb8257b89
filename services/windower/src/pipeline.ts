import { type AlignedBar, decodeRecord, isRetriable, timeframeMs } from '@perpflow/contracts';
import { type Logger, retry } from '@perpflow/runtime';
import type { Batch } from 'kafkajs';
import type { WindowStore } from './adapters/window-store.js';
import { mergeOffsetRanges, type OpenWindow, sortedRows, WindowBook } from './domain/window-book.js';
import type { WindowerMetrics } from './metrics.js';

/** What the pipeline needs from the Kafka consumer. */
export interface OffsetCommitter {
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  pause(topics: { topic: string }[]): void;
  resume(topics: { topic: string }[]): void;
}

export interface WindowerOptions {
  topic: string;
  /** A changed window is written at most this often. */
  flushIntervalMs: number;
  /** Rows of changed windows held before the consumer is paused until a flush. */
  maxBufferedRows: number;
  /** Written windows untouched this long are dropped from memory. */
  windowIdleMs: number;
  /** Upper bound of one S3 backoff. */
  retryMaxDelayMs: number;
}

export interface WindowerDeps {
  consumer: OffsetCommitter;
  windows: WindowStore;
  metrics: WindowerMetrics;
  logger: Logger;
  now: () => number;
  options: WindowerOptions;
}

interface Tracked {
  window: OpenWindow;
  /** Bumped on every add: a write clears `dirty` only if nothing arrived meanwhile. */
  version: number;
}

/**
 * consume aligned bars → window book (last revision per bar time) → every flush
 * interval, for each changed window: read back the existing object once (merge),
 * put the Parquet object, then its manifest → only then commit the offsets that
 * were consumed before the flush began.
 *
 * Crash before the commit: the bars are consumed again and rewrite the same keys
 * with the same rows (a re-delivered bar replaces its own row): S3 holds each bar
 * once. S3 failing: writes back off and retry; the consumer is paused meanwhile.
 */
export class WindowerPipeline {
  private readonly book = new WindowBook();
  private readonly tracked = new WeakMap<OpenWindow, Tracked>();
  /** partition → next offset consumed (all its bars are in the book). */
  private readonly consumed = new Map<number, string>();
  private flushing: Promise<void> | null = null;
  private paused = false;
  private stopped = false;

  constructor(private readonly deps: WindowerDeps) {}

  /** Adds a batch to the book synchronously (no await between add and offset bookkeeping). */
  handleBatch(batch: Batch): void {
    const { topic, partition } = batch;
    const nowMs = this.deps.now();
    for (const m of batch.messages) {
      const decoded = decodeRecord('aligned_bar', m.value);
      if (!decoded.ok) {
        this.deps.metrics.rejected.inc();
        this.deps.logger.warn(
          { topic, partition, offset: m.offset, err: decoded.error.message },
          'aligned bar failed the contract; skipped',
        );
      } else {
        const w = this.book.add(decoded.value as AlignedBar, { topic, partition, offset: m.offset }, nowMs);
        const t = this.tracked.get(w);
        if (t) t.version++;
        else this.tracked.set(w, { window: w, version: 1 });
        this.deps.metrics.barsIn.inc();
      }
      this.consumed.set(partition, (BigInt(m.offset) + 1n).toString());
    }
    this.updateGauges();
    if (this.book.bufferedRows() >= this.deps.options.maxBufferedRows) {
      this.pause('buffer full');
      void this.flush();
    }
  }

  /** Starts a flush unless one runs; resolves when the running or started flush ends. */
  flush(): Promise<void> {
    if (!this.flushing)
      this.flushing = this.flushOnce().finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  /** Forgets the uncommitted positions of partitions this member no longer owns. */
  onAssignment(assignment: Record<string, number[]>): void {
    const owned = new Set(assignment[this.deps.options.topic] ?? []);
    for (const p of [...this.consumed.keys()]) if (!owned.has(p)) this.consumed.delete(p);
    this.deps.logger.info({ assignment }, 'partitions assigned');
  }

  stop(): void {
    this.stopped = true;
  }

  private async flushOnce(): Promise<void> {
    const commits = [...this.consumed].map(([partition, offset]) => ({
      topic: this.deps.options.topic,
      partition,
      offset,
    }));
    const dirty = this.book.dirtyWindows();
    let failed = 0;
    for (const w of dirty) {
      try {
        await this.writeWindow(w);
      } catch (err) {
        failed++;
        this.deps.logger.error(
          { window: w.id, err: (err as Error).message },
          'window write failed; it stays dirty and is retried next flush',
        );
      }
    }
    if (failed > 0 || this.stopped) return;
    // One commit per partition: a partition lost in a rebalance must not block the others.
    for (const c of commits) {
      try {
        await this.deps.consumer.commitOffsets([c]);
        if (this.consumed.get(c.partition) === c.offset) this.consumed.delete(c.partition);
      } catch (err) {
        // Its new owner re-reads from the last commit and rewrites the same keys with the same rows.
        this.deps.logger.warn({ commit: c, err: (err as Error).message }, 'offset commit failed');
      }
    }
    this.book.evictIdle(this.deps.now(), this.deps.options.windowIdleMs);
    this.updateGauges();
    if (this.paused && this.book.bufferedRows() < this.deps.options.maxBufferedRows) this.resume();
  }

  private async writeWindow(w: OpenWindow): Promise<void> {
    const t = this.tracked.get(w);
    const version = t?.version ?? 0;
    await retry(
      async () => {
        if (!w.loaded) {
          const existing = await this.deps.windows.read(w.id);
          if (existing) {
            // Bars already in memory came later from Kafka: they win on an equal revision.
            for (const b of existing.bars) {
              const cur = w.rows.get(b.eventTimeMs);
              if (!cur || cur.revision < b.revision) w.rows.set(b.eventTimeMs, b);
            }
            if (existing.manifest) mergeOffsetRanges(w.offsets, existing.manifest.kafkaOffsets);
          }
          w.loaded = true;
        }
        const rows = sortedRows(w.rows);
        const manifest = await this.deps.windows.write(w.id, rows, [...w.offsets], this.deps.now());
        this.deps.metrics.rowsWritten.inc({ timeframe: w.id.timeframe }, manifest.rowCount);
        this.deps.metrics.filesWritten.inc();
        this.deps.metrics.bytesWritten.inc(manifest.bytes);
        if (manifest.maxTsMs !== null)
          this.deps.metrics.freshness.observe(
            { exchange: w.id.exchange, symbol: w.id.symbol, feed: 'bar' },
            manifest.maxTsMs + timeframeMs(w.id.timeframe),
          );
        this.deps.logger.debug(
          { key: manifest.key, rows: manifest.rowCount, bytes: manifest.bytes },
          'window written',
        );
      },
      {
        retries: Number.POSITIVE_INFINITY,
        maxDelayMs: this.deps.options.retryMaxDelayMs,
        shouldRetry: (err) => !this.stopped && isRetriable(err),
        onRetry: (err, attempt, delayMs) => {
          this.deps.metrics.s3Errors.inc();
          this.pause('S3 unavailable');
          this.deps.logger.warn(
            { window: w.id, attempt, delayMs, err: (err as Error).message },
            'S3 write failed; backing off',
          );
        },
      },
    );
    if ((t?.version ?? 0) === version) w.dirty = false;
  }

  private pause(reason: string): void {
    if (this.paused) return;
    this.paused = true;
    this.deps.consumer.pause([{ topic: this.deps.options.topic }]);
    this.deps.logger.warn({ reason }, 'consumer paused');
  }

  private resume(): void {
    this.paused = false;
    this.deps.consumer.resume([{ topic: this.deps.options.topic }]);
    this.deps.logger.info('consumer resumed');
  }

  private updateGauges(): void {
    this.deps.metrics.windowsOpen.set(this.book.size);
    this.deps.metrics.bufferedRows.set(this.book.bufferedRows());
  }
}
