import {
  encodeSymbol,
  monthPlanOf,
  type MonthPlan,
  normalizePrefix,
  planCompaction,
  type SeriesId,
  seriesIdString,
  utcMonth,
} from '@perpflow/dataset';
import { type Logger, retry } from '@perpflow/runtime';
import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CompactionStore } from '../adapters/compaction-store.js';
import type { WindowerMetrics } from '../metrics.js';

/** Default queue name (COMPACTION_QUEUE). */
export const DEFAULT_COMPACTION_QUEUE = 'perpflow-compaction';
/** The one job scheduler of a queue: every windower upserts it, so there is one however many run. */
export const SCAN_SCHEDULER_ID = 'scan';

/**
 * BullMQ's Redis key prefix for a dataset: the queue of one (bucket, S3 prefix) never
 * hands its jobs to a worker of another dataset sharing the Redis (test runs do).
 */
export function compactionKeyPrefix(bucket: string, prefix: string): string {
  return `bull:${bucket}/${normalizePrefix(prefix)}`;
}

export interface ScanJobData {
  kind: 'scan';
}
export interface MonthJobData {
  kind: 'month';
  series: SeriesId;
  monthStartMs: number;
  /** sourcesHashOf the month's index entries when the scan planned it (part of the job id). */
  sourcesHash: string;
}
export type CompactionJobData = ScanJobData | MonthJobData;

export type MonthOutcome = 'compacted' | 'recompacted' | 'skipped';

export interface MonthJobResult {
  kind: 'month';
  outcome: MonthOutcome;
  series: SeriesId;
  /** `YYYY-MM`. */
  month: string;
  /** Day objects merged (0 when skipped). */
  days: number;
  rows: number;
  bytes: number;
  /** Why it was skipped: the month's status when the job ran. */
  status: MonthPlan['status'];
}

export interface ScannedMonth {
  jobId: string;
  series: SeriesId;
  month: string;
  /** False: a job for exactly this work was already waiting or running. */
  added: boolean;
}

export interface ScanResult {
  kind: 'scan';
  series: number;
  /** Compacted months whose sources differ from the index (compactable or not). */
  stale: number;
  /** Months that need a job, one per (series, month, sources). */
  months: ScannedMonth[];
}

/** What a scan job keeps as its result. */
export interface ScanSummary {
  kind: 'scan';
  series: number;
  stale: number;
  /** Months that needed a job, and how many of those jobs this scan added. */
  months: number;
  added: number;
}

/**
 * Deterministic id of a month job: series, month and sources hash. A re-scan of the
 * same state names the same job, which BullMQ does not add twice while it exists;
 * a day rewritten since gives another id. (BullMQ ids may not contain `:`.)
 */
export function monthJobId(series: SeriesId, monthStartMs: number, sourcesHash: string): string {
  return [
    'month',
    series.timeframe,
    series.exchange,
    encodeSymbol(series.symbol),
    utcMonth(monthStartMs),
    sourcesHash.slice(0, 32),
  ].join('.');
}

/** Settings of the compaction queue and worker; defaults are the config's. */
export interface CompactionOptions {
  /** Queue name. Default 'perpflow-compaction'. */
  queue: string;
  /** Redis key prefix (compactionKeyPrefix of the bucket and S3 prefix). */
  keyPrefix: string;
  /** Every this long the scheduler adds a scan job. Default 600,000. */
  scanIntervalMs: number;
  /** Jobs run at once by this process's worker. Default 1. */
  concurrency: number;
  /** Attempts of a month job (exponential backoff from 5 s). Default 5. */
  attempts: number;
  /** Job lock, and the interval of the stalled check. Default 30,000 (BullMQ's). */
  lockDurationMs: number;
}

export interface CompactionDeps {
  redis: Redis;
  store: CompactionStore;
  metrics: Pick<
    WindowerMetrics,
    'compactionJobs' | 'compactionMonths' | 'compactionSources' | 'compactionBytes' | 'compactionStaleMonths'
  >;
  logger: Logger;
  now: () => number;
  options: CompactionOptions;
}

/**
 * A log call that writes at most once per interval and says how many it held back:
 * while Redis is down every connection reports each reconnect attempt (~5 a second).
 */
export function throttledLog(log: (fields: object, msg: string) => void, msg: string, everyMs = 30_000) {
  let last = Number.NEGATIVE_INFINITY;
  let held = 0;
  return (err: Error) => {
    const now = Date.now();
    if (now - last < everyMs) {
      held++;
      return;
    }
    log({ err: err.message, heldBack: held }, msg);
    last = now;
    held = 0;
  };
}

/** Series read at once by a scan (each: index GET, compacted folder LIST, manifest GETs). */
const SCAN_PARALLEL_SERIES = 8;

/**
 * Month compaction on BullMQ: a scheduler adds a scan job every interval; a scan
 * plans every series and adds one job per month to (re)compact; a month job re-reads
 * the index, re-checks the plan and writes object, then manifest.
 */
export class Compaction {
  readonly queue: Queue<CompactionJobData>;
  private worker: Worker<CompactionJobData> | null = null;
  private workerConnection: Redis | null = null;

  constructor(private readonly deps: CompactionDeps) {
    this.queue = new Queue<CompactionJobData>(deps.options.queue, {
      connection: deps.redis,
      prefix: deps.options.keyPrefix,
    });
    this.queue.on('error', throttledLog(deps.logger.warn.bind(deps.logger), 'compaction queue error'));
  }

  /** Starts this process's worker. */
  startWorker(): Worker<CompactionJobData> {
    if (this.worker) return this.worker;
    const o = this.deps.options;
    this.workerConnection = this.deps.redis.duplicate({ maxRetriesPerRequest: null });
    this.worker = new Worker<CompactionJobData>(o.queue, (job) => this.process(job), {
      connection: this.workerConnection,
      prefix: o.keyPrefix,
      concurrency: o.concurrency,
      lockDuration: o.lockDurationMs,
      stalledInterval: o.lockDurationMs,
    });
    this.worker.on(
      'error',
      throttledLog(this.deps.logger.warn.bind(this.deps.logger), 'compaction worker error'),
    );
    this.worker.on('failed', (job, err) =>
      this.deps.logger.warn(
        { jobId: job?.id, attempts: job?.attemptsMade, err: err.message },
        'compaction job attempt failed',
      ),
    );
    return this.worker;
  }

  /**
   * Upserts the scan scheduler (its first scan runs at once), retrying while Redis is
   * unreachable: the windower's own work never waits for it.
   */
  async schedule(signal?: AbortSignal): Promise<void> {
    await retry(
      () =>
        this.queue.upsertJobScheduler(
          SCAN_SCHEDULER_ID,
          { every: this.deps.options.scanIntervalMs },
          {
            name: 'scan',
            data: { kind: 'scan' },
            opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
          },
        ),
      {
        retries: Number.POSITIVE_INFINITY,
        baseDelayMs: 1_000,
        maxDelayMs: 30_000,
        shouldRetry: () => true,
        ...(signal ? { signal } : {}),
        onRetry: (err, attempt, delayMs) =>
          this.deps.logger.warn(
            { err: (err as Error).message, attempt, delayMs },
            'compaction scheduler not set yet (Redis?)',
          ),
      },
    );
  }

  private async process(job: Job<CompactionJobData>): Promise<ScanSummary | MonthJobResult> {
    const { metrics } = this.deps;
    const kind = job.data.kind;
    try {
      if (job.data.kind === 'scan') {
        const r = await this.scan();
        metrics.compactionJobs.inc({ kind, outcome: 'scanned' });
        // Kept in Redis with the job: counts, not the (possibly thousands of) months.
        return {
          kind: 'scan',
          series: r.series,
          stale: r.stale,
          months: r.months.length,
          added: r.months.filter((m) => m.added).length,
        };
      }
      const r = await this.compactMonth(job.data);
      metrics.compactionJobs.inc({ kind, outcome: r.outcome });
      return r;
    } catch (err) {
      metrics.compactionJobs.inc({ kind, outcome: 'error' });
      throw err;
    }
  }

  /** Plans every series and enqueues the months to (re)compact. */
  async scan(): Promise<ScanResult> {
    const { store } = this.deps;
    const series = await store.listSeries();
    const months: ScannedMonth[] = [];
    let stale = 0;
    for (let i = 0; i < series.length; i += SCAN_PARALLEL_SERIES) {
      const plans = await Promise.all(
        series.slice(i, i + SCAN_PARALLEL_SERIES).map(async (s) => {
          const index = await store.readIndex(s);
          return index ? planCompaction(index, await store.readCompacted(s)) : null;
        }),
      );
      for (const plan of plans) {
        if (!plan) continue;
        stale += plan.stale.length;
        for (const m of plan.toCompact) months.push(await this.enqueueMonth(m));
      }
    }
    this.deps.metrics.compactionStaleMonths.set(stale);
    const added = months.filter((m) => m.added).length;
    if (months.length > 0)
      this.deps.logger.info(
        { series: series.length, stale, months: months.length, added },
        'compaction scan',
      );
    return { kind: 'scan', series: series.length, stale, months };
  }

  private async enqueueMonth(m: MonthPlan): Promise<ScannedMonth> {
    const jobId = monthJobId(m.series, m.monthStartMs, m.sourcesHash);
    const out = { jobId, series: m.series, month: m.month };
    const existing = await this.queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return { ...out, added: false };
      // It ran (or gave up), yet the month still needs exactly this work (it was skipped
      // while a day was reopened, or it failed every attempt): run it again.
      await existing.remove().catch(() => undefined);
    }
    const data: MonthJobData = {
      kind: 'month',
      series: m.series,
      monthStartMs: m.monthStartMs,
      sourcesHash: m.sourcesHash,
    };
    await this.queue.add('month', data, {
      jobId,
      attempts: this.deps.options.attempts,
      backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
      removeOnComplete: { age: 86_400, count: 10_000 },
      removeOnFail: { age: 7 * 86_400 },
    });
    return { ...out, added: true };
  }

  /**
   * One month job: the index and the month's compacted manifest are read again and the
   * month is compacted only if it still needs it (from the days the index lists now,
   * which may be newer than the scan's). Object, then manifest.
   */
  async compactMonth(d: MonthJobData): Promise<MonthJobResult> {
    const { store, metrics } = this.deps;
    const month = utcMonth(d.monthStartMs);
    const index = await store.readIndex(d.series);
    const skipped = (status: MonthPlan['status']): MonthJobResult => ({
      kind: 'month',
      outcome: 'skipped',
      series: d.series,
      month,
      days: 0,
      rows: 0,
      bytes: 0,
      status,
    });
    if (!index) return skipped('open');
    const plan = monthPlanOf(index, d.monthStartMs, await store.readCompactedMonth(d.series, d.monthStartMs));
    if (!(plan.status === 'new' || (plan.status === 'stale' && plan.compactable)))
      return skipped(plan.status);
    const built = await store.compactMonth(index, d.monthStartMs, this.deps.now());
    const reason = plan.status === 'stale' ? 'stale' : 'new';
    metrics.compactionMonths.inc({ timeframe: d.series.timeframe, reason });
    metrics.compactionSources.inc({ timeframe: d.series.timeframe }, built.manifest.sources.length);
    metrics.compactionBytes.inc(built.body.byteLength);
    this.deps.logger.info(
      {
        series: seriesIdString(d.series),
        month,
        days: built.manifest.sources.length,
        rows: built.manifest.object.rowCount,
        bytes: built.body.byteLength,
        reason,
      },
      'month compacted',
    );
    return {
      kind: 'month',
      outcome: reason === 'stale' ? 'recompacted' : 'compacted',
      series: d.series,
      month,
      days: built.manifest.sources.length,
      rows: built.manifest.object.rowCount,
      bytes: built.body.byteLength,
      status: plan.status,
    };
  }

  /** Waits for the running jobs, then lets go of Redis (the shared connection is the caller's). */
  async close(): Promise<void> {
    await this.worker?.close();
    this.workerConnection?.disconnect();
    await this.queue.close();
  }
}
