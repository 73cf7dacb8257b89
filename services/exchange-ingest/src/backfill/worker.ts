import { type ExchangeId, PerpflowError } from '@perpflow/contracts';
import type { Logger } from '@perpflow/runtime';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CcxtExchange } from '../adapters/exchange.js';
import type { CheckpointStore } from '../adapters/checkpoints.js';
import type { RecordSink } from '../adapters/kafka-sink.js';
import { pagesOf } from '../domain/paging.js';
import { publishNormalized } from '../ingest/collector.js';
import type { RateGate } from '../ingest/gate.js';
import type { IngestMetrics } from '../metrics.js';
import { BackfillClock } from './clock.js';
import { backfillKeys, queueName } from './keys.js';
import { type CandleAsk, type FundingCache, normalizePage, pageSpec } from './pages.js';
import { type BackfillJobData, backfillableFeeds, candleHistoryStartMs, chunksOf } from './plan.js';

export interface BackfillWorkerDeps {
  redis: Redis;
  exchanges: Map<ExchangeId, { ex: CcxtExchange; gate: RateGate }>;
  sink: RecordSink;
  checkpoints: CheckpointStore;
  metrics: IngestMetrics;
  logger: Logger;
  now: () => number;
  concurrency: number;
  /**
   * BullMQ lock of a running job, also the stalled-check interval (INGEST_BACKFILL_LOCK_MS):
   * a job whose worker died goes back to the queue one to two times this long after.
   */
  lockDurationMs: number;
  /** Prefix of the queue names (INGEST_BACKFILL_QUEUE). */
  queuePrefix: string;
  /** This worker's shard (INGEST_SHARD): it consumes its shard's queue, and the unsharded one. */
  shard: { index: number; count: number };
  /** TEST ONLY (INGEST_CRASH_AT): called where a crash test may SIGKILL the process. */
  atStep?: (step: 'after-job-completed') => void;
}

/**
 * Runs backfill jobs. Each chunk is published and acknowledged by Kafka BEFORE its
 * checkpoint is written; a crash in between re-publishes that one chunk on resume
 * (same records but for receivedAtMs; the aligner drops them as duplicates).
 */
export function startBackfillWorkers(deps: BackfillWorkerDeps): Worker<BackfillJobData>[] {
  const workers: Worker<BackfillJobData>[] = [];
  const names = (exchange: ExchangeId) =>
    deps.shard.count > 1
      ? [queueName(exchange, deps.shard, deps.queuePrefix), queueName(exchange, undefined, deps.queuePrefix)]
      : [queueName(exchange, undefined, deps.queuePrefix)];
  for (const [exchange, { ex, gate }] of deps.exchanges) {
    const clock = new BackfillClock(deps.now);
    for (const name of names(exchange)) {
      const worker = new Worker<BackfillJobData>(name, (job) => runJobOnce(deps, ex, gate, clock, job), {
        connection: deps.redis.duplicate({ maxRetriesPerRequest: null }),
        concurrency: deps.concurrency,
        lockDuration: deps.lockDurationMs,
        stalledInterval: deps.lockDurationMs,
      });
      worker.on('completed', (job) => {
        // BullMQ has completed the job; a crash here is the one the job's own SADD covers.
        deps.atStep?.('after-job-completed');
        void onFinished(deps, job, 'completed');
      });
      worker.on('failed', (job, err) => {
        deps.logger.warn(
          { jobId: job?.id, attempts: job?.attemptsMade, err: err.message },
          'backfill job attempt failed',
        );
        if (job && (err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1)))
          void onFinished(deps, job, 'failed');
      });
      worker.on('error', (err) => deps.logger.error({ err: err.message, exchange }, 'backfill worker error'));
      workers.push(worker);
    }
  }
  return workers;
}

/**
 * A job's error as BullMQ should see it: an error that says retrying cannot help (a
 * contract violation, a request the exchange rejects, a bad config) fails the job now
 * instead of after its ten attempts; everything else is retried with backoff.
 */
export function jobError(err: unknown): Error {
  if (err instanceof PerpflowError && !err.retriable)
    return new UnrecoverableError(
      `${err.code}: ${err.message} (not retried: the same request fails the same way)`,
    );
  return err instanceof Error ? err : new Error(String(err));
}

async function runJobOnce(
  deps: BackfillWorkerDeps,
  ex: CcxtExchange,
  gate: RateGate,
  clock: BackfillClock,
  job: Job<BackfillJobData>,
): Promise<unknown> {
  try {
    return await runJob(deps, ex, gate, clock, job);
  } catch (err) {
    throw jobError(err);
  }
}

async function onFinished(
  deps: BackfillWorkerDeps,
  job: Job<BackfillJobData>,
  outcome: 'completed' | 'failed',
): Promise<void> {
  const id = job.data.backfillId;
  const keys = backfillKeys(deps.queuePrefix);
  await deps.redis.sadd(outcome === 'completed' ? keys.done(id) : keys.failed(id), job.id ?? '');
  deps.metrics.backfillJobs.inc({ outcome });
  const [total, done] = await Promise.all([
    deps.redis.hget(keys.meta(id), 'total'),
    deps.redis.scard(keys.done(id)),
  ]);
  if (total) deps.metrics.backfillProgress.set({ backfill: id }, done / Number(total));
}

async function runJob(
  deps: BackfillWorkerDeps,
  ex: CcxtExchange,
  gate: RateGate,
  clock: BackfillClock,
  job: Job<BackfillJobData>,
): Promise<void> {
  const d = job.data;
  const ckKey = backfillKeys(deps.queuePrefix).checkpoint(d.backfillId, d.exchange, d.symbol);
  const resumeAt = (await deps.checkpoints.get(ckKey)) ?? d.fromMs;
  const chunks = chunksOf(d.fromMs, d.toMs, d.chunkMs);
  const fundingCache: FundingCache = { fromMs: Number.POSITIVE_INFINITY, coveredToMs: -1, rows: [] };
  const candleAsk: CandleAsk = { atMs: Number.NEGATIVE_INFINITY };
  const pub = { sink: deps.sink, metrics: deps.metrics, logger: deps.logger, now: deps.now };
  const { feeds, skipped } = backfillableFeeds(d.exchange, d.feeds);
  for (const s of skipped) {
    // Reported once per job, never requested: retrying cannot make the venue have the history.
    deps.logger.info(
      { exchange: d.exchange, symbol: d.symbol, feed: s.feed, reason: s.reason },
      'backfill feed unavailable on this venue; skipped',
    );
    await job.log(`${s.feed} skipped: ${s.reason}`);
  }
  const candlesFromMs = candleHistoryStartMs(d.exchange, d.timeframe, deps.now()) ?? Number.NEGATIVE_INFINITY;
  if (feeds.includes('ohlcv') && d.fromMs < candlesFromMs) {
    const note = `candles before ${new Date(candlesFromMs).toISOString()} are beyond the venue's candle history: not backfillable, not requested`;
    deps.logger.warn({ exchange: d.exchange, symbol: d.symbol, fromMs: d.fromMs, candlesFromMs }, note);
    await job.log(`ohlcv: ${note}`);
  }
  for (const [i, chunk] of chunks.entries()) {
    if (chunk.toMs <= resumeAt) continue; // done before a crash: never refetched
    if ((await deps.redis.hget(backfillKeys(deps.queuePrefix).meta(d.backfillId), 'cancelled')) === '1')
      return;
    // Funding and open interest first, candles last (see planBackfill).
    for (const feed of (['funding', 'open_interest', 'ohlcv'] as const).filter((f) => feeds.includes(f))) {
      const from = Math.max(
        chunk.fromMs,
        resumeAt,
        feed === 'ohlcv' ? candlesFromMs : Number.NEGATIVE_INFINITY,
      );
      if (from >= chunk.toMs) continue; // older than the venue keeps: noted above
      for await (const page of pagesOf(
        pageSpec(feed, {
          job: d,
          ex,
          gate,
          metrics: deps.metrics,
          logger: deps.logger,
          now: deps.now,
          fundingCache,
          candleAsk,
          clock,
        }),
        from,
        chunk.toMs,
      )) {
        const items = normalizePage(feed, page.rows, d, deps.now(), candleAsk);
        await publishNormalized(
          pub,
          {
            exchange: d.exchange,
            feed,
            origin: `backfill/${feed}`,
            source: 'backfill',
            timeframe: d.timeframe,
          },
          items,
        );
      }
    }
    // Everything of this chunk is acknowledged by Kafka: move the checkpoint past it.
    await deps.checkpoints.set(ckKey, chunk.toMs);
    await job.updateProgress(Math.round(((i + 1) / chunks.length) * 100));
  }
  // The job adds itself to the done set here, before BullMQ completes it, and not only in
  // the 'completed' handler: that handler runs after the completion, so a SIGKILL between
  // the two would leave a finished job out of `done` for good (status at 100 % but short
  // of `total`). A crash before BullMQ completes the job makes it stall and run again:
  // every chunk is behind the checkpoint and skipped, and this SADD repeats (a set: no-op).
  await deps.redis.sadd(backfillKeys(deps.queuePrefix).done(d.backfillId), job.id ?? '');
}
