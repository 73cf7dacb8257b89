import {
  type AlignedBar,
  type DeadLetter,
  decodeRecord,
  HEADERS,
  isRetriable,
  parseRawThrough,
  parseStreamKey,
  type RawPosition,
  timeframeMs,
} from '@perpflow/contracts';
import {
  mergeOffsetSpans,
  objectKey,
  type OffsetRange,
  VERSION_ID,
  WindowBook,
  type WindowId,
  type WindowSnapshot,
  windowIdString,
} from '@perpflow/dataset';
import { buildDeadLetter, headersToStrings } from '@perpflow/kafka';
import { forEachPool, type Logger, retry } from '@perpflow/runtime';
import type { FetchedBatch } from '@perpflow/kafka';
import type { WindowStore, WindowWriteResult } from './adapters/window-store.js';
import type { WindowerMetrics } from './metrics.js';

/** Windows whose key is known good, at most (500 symbols hold 500 open 1m windows a day). */
const KEYED_WINDOWS_MAX = 20_000;
/** What the pipeline needs from the Kafka consumer. */
export interface OffsetCommitter {
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  pause(topics: { topic: string }[]): void;
  resume(topics: { topic: string }[]): void;
}

/** Where dead letters go (perpflow.dlq.v1); resolves when the broker acknowledged them. */
export interface DeadLetterSink {
  send(letters: DeadLetter[]): Promise<void>;
}

/** Reads and writes the live tree's version pin (`<prefix>/versions/live.json`). */
export interface VersionPin {
  /** Writes the pin; resolves once it is durable. */
  pin(version: string): Promise<void>;
}

/** Commit steps a crash hook may stop the process at (see WriteStep for the write steps). */
export type CommitStep = 'before-commit' | 'after-commit';

export interface WindowerOptions {
  topic: string;
  /** An open window with changes is written this long after its first unwritten change. */
  flushIntervalMs: number;
  /** A window closes (final write) when the watermark passes its end plus this. */
  allowedLatenessMs: number;
  /** Rows of windows with unwritten changes held before the consumer pauses until a flush. */
  maxBufferedRows: number;
  /** Durable open windows without a new bar for this long leave memory (reloaded from S3 when needed). */
  windowIdleMs: number;
  /** Upper bound of one S3 backoff. */
  retryMaxDelayMs: number;
  /** Windows of different series written at once in a flush (default 1: one at a time). */
  writeConcurrency?: number;
  /** Series (exchange, symbol) that get a freshness label; later ones are counted, not labelled. */
  freshnessMaxSeries: number;
}

export interface WindowerDeps {
  consumer: OffsetCommitter;
  windows: WindowStore;
  deadLetters: DeadLetterSink;
  /** Dataset prefix: a bar whose key cannot be built under it is dead-lettered, not written. */
  prefix: string;
  /**
   * The version the live tree holds, read from its pin at start (null: not pinned yet; the
   * first versioned bar pins it). Bars of another version are dead-lettered (windower.version).
   */
  liveVersion: string | null;
  versionPin: VersionPin;
  metrics: WindowerMetrics;
  logger: Logger;
  now: () => number;
  options: WindowerOptions;
  /** Test hook: called at each commit step (the e2e crash tests SIGKILL the process there). */
  atStep?: (step: CommitStep) => void;
}

/**
 * consume aligned bars → WindowBook of @perpflow/dataset (last revision per bar time,
 * revisions kept) → for each due window (closed, or open and changed for a flush
 * interval): merge the stored window once, then put object(s), manifest, index →
 * markDurable → commit the book's safe offsets, which never pass a bar that is not
 * in a durable object.
 *
 * Crash before a commit: the bars are consumed again and rewrite the same keys with
 * the same rows (a re-delivered bar replaces its own row): S3 holds each bar once.
 * S3 failing: writes back off and retry; the consumer is paused meanwhile.
 */
export class WindowerPipeline {
  private readonly book: WindowBook;
  /** Kafka offset spans of stored manifests, per window key, merged into each rewrite. */
  private readonly storedOffsets = new Map<string, OffsetRange[]>();
  /** Bar close times added per window since its last durable write (durable-delay histogram). */
  private readonly pendingCloses = new Map<string, number[]>();
  private readonly committed = new Map<number, string>();
  /** Dead letters not yet acknowledged: the commit of their partition stays at or below them. */
  private pendingDeadLetters: DeadLetter[] = [];
  /** Per partition, the first offset consumed since the assignment: committing it would be a no-op. */
  private readonly startedAt = new Map<number, string>();
  /** Series with a freshness label (bounded by freshnessMaxSeries). */
  private readonly freshSeries = new Set<string>();
  /**
   * Windows whose object key was built once (a bar's key is its window's): building it
   * for every bar (prefix check, symbol encoding, date text, the key's checks) was a
   * sixth of the windower's busy CPU. Cleared when full; a key that fails is never kept.
   */
  private readonly keyedWindows = new Set<string>();
  private owned: Set<number> | null = null;
  private watermarkMs: number | null = null;
  private flushing: Promise<void> | null = null;
  private paused = false;
  private stopped = false;
  /** The tree's version: the pin read at start, or the first versioned bar's. */
  private treeVersion: string | null;
  /** Set when a bar pinned the tree in memory: written before any window of that version. */
  private pinPending: string | null = null;
  private rawThroughWarned = false;
  /**
   * The last perpflow-raw-through text read and its positions: the aligner gives every bar
   * of one produce round the same positions, and parsing them per bar was a sixth of the
   * windower's time on a bar. The positions are never changed after parsing.
   */
  private lastRawThrough: { text: string; positions: readonly RawPosition[] | null } | null = null;

  constructor(private readonly deps: WindowerDeps) {
    this.treeVersion = deps.liveVersion;
    this.book = new WindowBook({
      allowedLatenessMs: deps.options.allowedLatenessMs,
      flushIntervalMs: deps.options.flushIntervalMs,
    });
  }

  /** Adds a batch to the book synchronously (no await between add and offset bookkeeping). */
  handleBatch(batch: FetchedBatch): void {
    const { topic, partition } = batch;
    const nowMs = this.deps.now();
    const first = batch.messages[0];
    if (first && !this.startedAt.has(partition)) this.startedAt.set(partition, first.offset);
    for (const m of batch.messages) {
      const source = { topic, partition, offset: m.offset };
      const checked = this.check(m.value, m.headers?.[HEADERS.datasetVersion]);
      if ('reason' in checked) {
        // Never fatal: the record goes to the dead-letter topic with its reason, and the
        // commit may pass it once the dead letter is acknowledged.
        const { reason } = checked;
        const key = m.key?.toString('utf8') ?? null;
        const stream = key === null ? null : parseStreamKey(key);
        this.pendingDeadLetters.push(
          buildDeadLetter(
            { ...source, key, value: m.value, headers: headersToStrings(m.headers) },
            { ...reason, exchange: stream?.exchange ?? null, symbol: stream?.symbol ?? null },
            'windower',
            nowMs,
          ),
        );
        this.deps.metrics.rejected.inc({
          rule: reason.ruleId.startsWith('contract.') ? 'contract' : reason.ruleId,
        });
        this.deps.logger.warn(
          { topic, partition, offset: m.offset, rule: reason.ruleId, err: reason.message },
          'aligned record dead-lettered',
        );
        this.book.noteConsumed(source);
        continue;
      }
      const { bar, window } = checked;
      const r = this.book.add(
        bar,
        source,
        nowMs,
        this.rawThroughOf(m.headers?.[HEADERS.rawThrough], source),
        window,
      );
      this.deps.metrics.barsIn.inc();
      if (r.isNewWindow) this.storedOffsets.delete(r.windowKey);
      if (r.outcome !== 'duplicate') {
        const closeMs = bar.eventTimeMs + timeframeMs(bar.timeframe);
        const closes = this.pendingCloses.get(r.windowKey);
        if (closes) closes.push(closeMs);
        else this.pendingCloses.set(r.windowKey, [closeMs]);
        if (this.watermarkMs === null || closeMs > this.watermarkMs) this.watermarkMs = closeMs;
      }
    }
    this.updateGauges();
    if (this.book.stats().dirtyRows >= this.deps.options.maxBufferedRows) {
      this.pause('buffer full');
      void this.flush(true);
    }
  }

  /**
   * Writes the due windows (all changed ones when `all`), then commits. Starts a
   * flush unless one runs; resolves when the running or started flush ends.
   */
  flush(all = false): Promise<void> {
    if (!this.flushing)
      this.flushing = this.flushOnce(all).finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  /** After a rebalance: forget positions of partitions this member no longer owns. */
  onAssignment(assignment: Record<string, number[]>): void {
    const owned = new Set(assignment[this.deps.options.topic] ?? []);
    const known = new Set([...(this.owned ?? []), ...this.committed.keys(), ...this.startedAt.keys()]);
    for (const p of known)
      if (!owned.has(p)) {
        this.book.forgetPartition(this.deps.options.topic, p);
        this.committed.delete(p);
        this.startedAt.delete(p);
      }
    this.owned = owned;
    this.deps.logger.info({ assignment }, 'partitions assigned');
  }

  stop(): void {
    this.stopped = true;
  }

  private async flushOnce(all: boolean): Promise<void> {
    await this.sendDeadLetters();
    if (this.pinPending !== null) {
      // The pin is durable before any object of its version: a reader of the tree always
      // finds which version it holds.
      try {
        await this.deps.versionPin.pin(this.pinPending);
        this.deps.logger.info({ version: this.pinPending }, 'live tree pinned to its dataset version');
        this.pinPending = null;
      } catch (err) {
        this.deps.logger.error(
          { version: this.pinPending, err: (err as Error).message },
          'cannot write the version pin; windows stay pending and the next flush retries',
        );
        return;
      }
    }
    const nowMs = this.deps.now();
    const due = this.book.dueWindows(this.watermarkMs, all ? Number.MAX_SAFE_INTEGER : nowMs);
    let failed = 0;
    // A series' windows one after another, in due order (each write updates the series'
    // index: read, then replace); different series at once, up to writeConcurrency. A
    // write is four requests in a row (object, manifest, index read and write), so one
    // window at a time bounds a flush by S3's latency, not by the work.
    await forEachPool(seriesRuns(due), this.deps.options.writeConcurrency ?? 1, async (run) => {
      for (const d of run)
        try {
          await this.writeWindow(d.windowKey);
        } catch (err) {
          failed++;
          this.deps.logger.error(
            { window: d.windowKey, err: (err as Error).message },
            'window write failed; it stays pending and is retried next flush',
          );
        }
    });
    if (this.stopped && failed > 0) return;
    await this.commit();
    this.book.evictIdle(this.deps.now(), this.deps.options.windowIdleMs);
    this.book.evictLeastRecent(this.deps.options.maxBufferedRows);
    this.updateGauges();
    if (this.paused && failed === 0 && this.book.stats().dirtyRows < this.deps.options.maxBufferedRows)
      this.resume();
  }

  /**
   * The bar, or why it cannot enter the dataset: its contract, a key that cannot be built,
   * or a dataset version other than the tree's (one tree never mixes two versions).
   */
  private check(
    value: Buffer | null,
    versionHeader: Buffer | string | (Buffer | string)[] | undefined,
  ):
    | { bar: AlignedBar; window: { id: WindowId; key: string } }
    | { reason: { ruleId: string; message: string } } {
    const decoded = decodeRecord('aligned_bar', value);
    if (!decoded.ok)
      return { reason: { ruleId: `contract.${decoded.error.rule}`, message: decoded.error.message } };
    const bar = decoded.value as AlignedBar;
    const window = this.book.windowOf(bar);
    const id = windowIdString(window);
    if (!this.keyedWindows.has(id))
      try {
        objectKey(this.deps.prefix, window);
        if (this.keyedWindows.size >= KEYED_WINDOWS_MAX) this.keyedWindows.clear();
        this.keyedWindows.add(id);
      } catch (err) {
        return { reason: { ruleId: 'windower.key', message: (err as Error).message } };
      }
    const version = headerText(versionHeader);
    if (version !== null && !VERSION_ID.test(version))
      return {
        reason: {
          ruleId: 'windower.version',
          message: `header ${HEADERS.datasetVersion} '${version.slice(0, 40)}' is not a dataset version (dv- and 16 hex digits)`,
        },
      };
    if (this.treeVersion === null) {
      if (version === null) return { bar, window: { id: window, key: id } }; // an unversioned tree takes unversioned bars
      this.treeVersion = version;
      this.pinPending = version;
      return { bar, window: { id: window, key: id } };
    }
    if (version === this.treeVersion) return { bar, window: { id: window, key: id } };
    return {
      reason: {
        ruleId: 'windower.version',
        message:
          version === null
            ? `bar without a ${HEADERS.datasetVersion} header; the live tree holds ${this.treeVersion}`
            : `bar of dataset version ${version}; the live tree holds ${this.treeVersion}: a changed aligner config is a new version (README "Dataset versions")`,
      },
    };
  }

  /**
   * A bar's perpflow-raw-through positions, or null when it has none or they cannot be
   * read: the bar still enters its window (it is valid), whose manifest then names no raw
   * positions. An unreadable header is logged once per process, naming the record.
   */
  private rawThroughOf(
    header: Buffer | string | (Buffer | string)[] | undefined,
    source: { topic: string; partition: number; offset: string },
  ): readonly RawPosition[] | null {
    const text = headerText(header);
    if (text === null) return null;
    if (this.lastRawThrough !== null && this.lastRawThrough.text === text)
      return this.lastRawThrough.positions;
    const parsed = parseRawThrough(text);
    this.lastRawThrough = { text, positions: Array.isArray(parsed) ? parsed : null };
    if (Array.isArray(parsed)) return parsed;
    if (!this.rawThroughWarned) {
      this.rawThroughWarned = true;
      this.deps.logger.warn(
        { ...source, err: parsed.error },
        `unreadable ${HEADERS.rawThrough} header: its window's manifest names no raw positions (logged once)`,
      );
    }
    return null;
  }

  private async sendDeadLetters(): Promise<void> {
    if (this.pendingDeadLetters.length === 0) return;
    // A copy: batches handled while the send is in flight push onto pendingDeadLetters, and
    // those letters are not in this send. Sharing the array dropped them from the pending list
    // unsent, and the commit then passed their offsets (a fresh CI lost 60 dead letters so).
    const letters = [...this.pendingDeadLetters];
    try {
      await this.deps.deadLetters.send(letters);
      const sent = new Set(letters);
      this.pendingDeadLetters = this.pendingDeadLetters.filter((l) => !sent.has(l));
      for (const l of letters)
        this.deps.metrics.deadLetters.inc({ stage: 'windower', feed: 'aligned_bar', rule: l.ruleId });
    } catch (err) {
      // Kept: the commit stays below them and the next flush sends them again. Never
      // silent: counted, and DeadLetterSendFailing fires when it keeps failing.
      this.deps.metrics.deadLetterSendFailures.inc();
      this.deps.logger.error(
        { err: (err as Error).message, count: letters.length },
        'dead-letter send failed',
      );
    }
  }

  /** One commit per partition: a partition lost in a rebalance must not block the others. */
  private async commit(): Promise<void> {
    for (const safe of this.book.safeCommitOffsets()) {
      if (safe.topic !== this.deps.options.topic) continue;
      const c = { ...safe, offset: this.capByDeadLetters(safe.partition, safe.offset) };
      if (this.owned && !this.owned.has(c.partition)) continue;
      if ((this.committed.get(c.partition) ?? this.startedAt.get(c.partition)) === c.offset) continue;
      try {
        this.deps.atStep?.('before-commit');
        await this.deps.consumer.commitOffsets([c]);
        this.committed.set(c.partition, c.offset);
        this.deps.atStep?.('after-commit');
      } catch (err) {
        // Its new owner re-reads from the last commit and rewrites the same keys with the same rows.
        this.deps.logger.warn({ commit: c, err: (err as Error).message }, 'offset commit failed');
      }
    }
  }

  private capByDeadLetters(partition: number, offset: string): string {
    let cap = BigInt(offset);
    for (const l of this.pendingDeadLetters)
      if (l.source.partition === partition && BigInt(l.source.offset) < cap) cap = BigInt(l.source.offset);
    return cap.toString();
  }

  private async writeWindow(windowKey: string): Promise<void> {
    await retry(
      async () => {
        let snap: WindowSnapshot | null = this.book.snapshot(windowKey);
        if (!snap.storedMerged) {
          const stored = await this.deps.windows.read(snap.window);
          // No manifest: nothing was ever committed past these rows, so they are re-read with
          // their positions. A manifest without positions: rows of bars that had none.
          const m = stored?.manifest;
          this.book.mergeStored(
            windowKey,
            stored?.latest ?? [],
            stored?.superseded ?? [],
            m ? (m.rawThrough ?? (m.object.rowCount > 0 ? null : undefined)) : undefined,
          );
          this.storedOffsets.set(windowKey, stored?.manifest?.kafkaOffsets ?? []);
          snap = this.book.snapshot(windowKey);
        }
        // Bars added after this snapshot (while the puts run) are not covered by it.
        const closesCovered = this.pendingCloses.get(windowKey)?.length ?? 0;
        const { version, closed } = snap;
        const writing = this.deps.windows.write({
          window: snap.window,
          latest: snap.latest,
          superseded: snap.superseded,
          kafkaOffsets: mergeOffsetSpans(this.storedOffsets.get(windowKey) ?? [], snap.kafkaOffsets),
          watermarkMs: this.watermarkMs,
          closed,
          writtenAtMs: this.deps.now(),
          datasetVersion: this.treeVersion,
          rawThrough: snap.rawThrough,
        });
        // The snapshot's rows are encoded by now: not held while the puts wait on S3 (with
        // several windows in flight, rows held across the waits outlived the young
        // generation and were collected only by full collections).
        snap = null;
        const written = await writing;
        this.book.markDurable(windowKey, version, closed);
        this.onDurable(windowKey, closesCovered, written);
      },
      {
        retries: Number.POSITIVE_INFINITY,
        maxDelayMs: this.deps.options.retryMaxDelayMs,
        shouldRetry: (err) => !this.stopped && isRetriable(err),
        onRetry: (err, attempt, delayMs) => {
          this.pause('S3 unavailable');
          this.deps.logger.warn(
            { window: windowKey, attempt, delayMs, err: (err as Error).message },
            'S3 write failed; backing off',
          );
        },
      },
    );
  }

  private onDurable(windowKey: string, closesCovered: number, written: WindowWriteResult): void {
    const { manifest } = written;
    const m = this.deps.metrics;
    m.rowsWritten.inc({ timeframe: manifest.window.timeframe }, manifest.object.rowCount);
    m.filesWritten.inc(written.files);
    m.bytesWritten.inc(written.bytes);
    if (manifest.maxTsMs !== null) {
      const labels = { exchange: manifest.window.exchange, symbol: manifest.window.symbol, feed: 'bar' };
      const seen = this.freshSeries.has(`${labels.exchange}|${labels.symbol}`);
      if (seen || this.freshSeries.size < this.deps.options.freshnessMaxSeries) {
        this.freshSeries.add(`${labels.exchange}|${labels.symbol}`);
        m.freshness.observe(labels, manifest.maxTsMs + timeframeMs(manifest.window.timeframe));
      } else m.freshnessSeriesDropped.inc();
    }
    // The closes recorded before this snapshot are durable now; later adds stay pending.
    const closes = this.pendingCloses.get(windowKey);
    if (closes) {
      const nowMs = this.deps.now();
      for (const c of closes.splice(0, closesCovered)) m.durableDelay.observe(Math.max(0, nowMs - c) / 1000);
      if (closes.length === 0) this.pendingCloses.delete(windowKey);
    }
    if (this.book.seriesOf(windowKey) === null) this.storedOffsets.delete(windowKey);
    this.deps.logger.debug(
      { key: manifest.object.key, rows: manifest.object.rowCount, bytes: written.bytes },
      'window written',
    );
  }

  private pause(reason: string): void {
    if (this.paused) return;
    this.paused = true;
    this.deps.metrics.consumerPaused.set(1);
    this.deps.consumer.pause([{ topic: this.deps.options.topic }]);
    this.deps.logger.warn({ reason }, 'consumer paused');
  }

  private resume(): void {
    this.paused = false;
    this.deps.metrics.consumerPaused.set(0);
    this.deps.consumer.resume([{ topic: this.deps.options.topic }]);
    this.deps.logger.info('consumer resumed');
  }

  private updateGauges(): void {
    const s = this.book.stats();
    this.deps.metrics.windowsOpen.set(s.windows);
    this.deps.metrics.bufferedRows.set(s.rows);
  }
}

/** Due windows grouped by series (exchange, symbol, timeframe), each group in due order, groups in order of their first window. */
export function seriesRuns<T extends { window: WindowId }>(due: readonly T[]): T[][] {
  const runs = new Map<string, T[]>();
  for (const d of due) {
    const w = d.window;
    const key = `${w.exchange}\u0000${w.symbol}\u0000${w.timeframe}`;
    const run = runs.get(key);
    if (run) run.push(d);
    else runs.set(key, [d]);
  }
  return [...runs.values()];
}

/** The header's value as text; null when absent (a repeated header counts by its first value). */
function headerText(h: Buffer | string | (Buffer | string)[] | undefined): string | null {
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined) return null;
  return typeof v === 'string' ? v : v.toString('utf8');
}
