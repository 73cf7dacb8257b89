import { type ExchangeId, PerpflowError } from '@perpflow/contracts';
import { type Logger, retry } from '@perpflow/runtime';
import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type CcxtExchange, callExchange } from '../adapters/exchange.js';
import type { CheckpointStore } from '../adapters/checkpoints.js';
import type { RecordSink } from '../adapters/kafka-sink.js';
import {
  candleFromOhlcv,
  isClosed,
  type Normalized,
  openInterestFromCcxt,
  settledFundingFromCcxt,
} from '../domain/normalize.js';
import { type PageSpec, pageLimits, pagesOf } from '../domain/paging.js';
import { OPEN_INTEREST_HISTORY_PARAMS } from '../venues/index.js';
import { publishNormalized } from '../ingest/collector.js';
import type { RateGate } from '../ingest/gate.js';
import type { IngestMetrics } from '../metrics.js';
import {
  type BackfillFeed,
  type BackfillJobData,
  type BackfillSpec,
  chunksOf,
  planBackfill,
} from './plan.js';
import { timeframeMs } from '@perpflow/contracts';

/** Default prefix of the queue names (INGEST_BACKFILL_QUEUE). */
export const DEFAULT_QUEUE_PREFIX = 'perpflow-backfill';

/**
 * One queue per exchange (and per shard when the symbols are sharded over n
 * workers), so each exchange has its own concurrency and rate budget and a
 * sharded symbol is only ever fetched by the worker that owns it live. The
 * prefix separates deployments (and test runs) sharing one Redis: every worker
 * on a prefix must point at the same exchange.
 */
export function queueName(
  exchange: ExchangeId,
  shard?: { index: number; count: number },
  prefix = DEFAULT_QUEUE_PREFIX,
): string {
  return !shard || shard.count <= 1
    ? `${prefix}-${exchange}`
    : `${prefix}-${exchange}-shard-${shard.index}-of-${shard.count}`;
}

/**
 * The Redis keys of a backfill's state, namespaced by the queue prefix like the queues,
 * so two deployments (or test runs) sharing one Redis never list or count each other's
 * backfills. The default prefix keeps the names it always had (`perpflow:backfill:<id>`),
 * so state written before this change is still found.
 */
export function backfillKeys(prefix = DEFAULT_QUEUE_PREFIX) {
  const base = prefix === DEFAULT_QUEUE_PREFIX ? 'perpflow:backfill' : `perpflow:backfill:${prefix}`;
  return {
    meta: (id: string) => `${base}:${id}`,
    done: (id: string) => `${base}:${id}:done`,
    failed: (id: string) => `${base}:${id}:failed`,
    index: prefix === DEFAULT_QUEUE_PREFIX ? 'perpflow:backfills' : `perpflow:backfills:${prefix}`,
    /** A job's resume point, below the checkpoint store's own `perpflow:ckpt:` prefix. */
    checkpoint: (id: string, exchange: string, symbol: string) =>
      prefix === DEFAULT_QUEUE_PREFIX
        ? `backfill:${id}:${exchange}|${symbol}`
        : `backfill:${prefix}:${id}:${exchange}|${symbol}`,
  };
}

export interface BackfillStatus {
  id: string;
  spec: Omit<BackfillSpec, 'symbols'> & { symbolCount: number };
  total: number;
  done: number;
  failed: number;
  cancelled: boolean;
  createdAtMs: number;
  /** 0..1: completed chunks over all chunks, from each job's progress. */
  progress: number;
}

/** Starts, lists and cancels backfills (the CLI's side). */
export class BackfillControl {
  constructor(
    private readonly redis: Redis,
    private readonly now: () => number = Date.now,
    private readonly queuePrefix = DEFAULT_QUEUE_PREFIX,
  ) {
    this.keys = backfillKeys(queuePrefix);
  }

  private readonly keys: ReturnType<typeof backfillKeys>;

  async start(spec: BackfillSpec): Promise<BackfillStatus> {
    const jobs = planBackfill(spec);
    const count = spec.shards ?? 1;
    const queueOf = (shard: number) => queueName(spec.exchange, { index: shard, count }, this.queuePrefix);
    const { symbols, ...rest } = spec;
    await this.redis.hset(this.keys.meta(spec.id), {
      spec: JSON.stringify({ ...rest, symbolCount: symbols.length }),
      jobIds: JSON.stringify(jobs.map((j) => j.id)),
      jobQueues: JSON.stringify(jobs.map((j) => queueOf(j.shard))),
      total: String(jobs.length),
      createdAtMs: String(this.now()),
      cancelled: '0',
    });
    await this.redis.zadd(this.keys.index, this.now(), spec.id);
    for (let shard = 0; shard < count; shard++) {
      const mine = jobs.filter((j) => j.shard === shard);
      if (mine.length === 0) continue;
      await this.addJobs(queueOf(shard), mine);
    }
    return (await this.status(spec.id)) as BackfillStatus;
  }

  private async addJobs(name: string, jobs: { id: string; data: BackfillJobData }[]): Promise<void> {
    const queue = new Queue<BackfillJobData>(name, { connection: this.redis });
    try {
      for (let i = 0; i < jobs.length; i += 500) {
        await queue.addBulk(
          jobs.slice(i, i + 500).map((j) => ({
            name: 'range',
            data: j.data,
            opts: {
              jobId: j.id,
              attempts: 10,
              backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
              removeOnComplete: { count: 10_000 },
              removeOnFail: false,
            },
          })),
        );
      }
    } finally {
      await queue.close();
    }
  }

  async status(id: string): Promise<BackfillStatus | null> {
    const meta = await this.redis.hgetall(this.keys.meta(id));
    if (!meta.spec) return null;
    const [done, failed] = await Promise.all([
      this.redis.scard(this.keys.done(id)),
      this.redis.scard(this.keys.failed(id)),
    ]);
    const spec = JSON.parse(meta.spec) as BackfillStatus['spec'];
    const jobIds = JSON.parse(meta.jobIds ?? '[]') as string[];
    const jobQueues = JSON.parse(meta.jobQueues ?? '[]') as string[];
    let progressSum = 0;
    const queues = new Map<string, Queue<BackfillJobData>>();
    try {
      for (const [i, jobId] of jobIds.entries()) {
        const name = jobQueues[i] ?? queueName(spec.exchange, undefined, this.queuePrefix);
        let queue = queues.get(name);
        if (!queue) {
          queue = new Queue<BackfillJobData>(name, { connection: this.redis });
          queues.set(name, queue);
        }
        const job = await Job.fromId(queue, jobId);
        const finished = job
          ? await job.isCompleted()
          : await this.redis.sismember(this.keys.done(id), jobId);
        progressSum += finished ? 100 : typeof job?.progress === 'number' ? job.progress : 0;
      }
    } finally {
      await Promise.all([...queues.values()].map((q) => q.close()));
    }
    return {
      progress: jobIds.length === 0 ? 1 : progressSum / (100 * jobIds.length),
      id,
      spec,
      total: Number(meta.total),
      done,
      failed,
      cancelled: meta.cancelled === '1',
      createdAtMs: Number(meta.createdAtMs),
    };
  }

  async list(): Promise<BackfillStatus[]> {
    const ids = await this.redis.zrange(this.keys.index, 0, -1);
    const out: BackfillStatus[] = [];
    for (const id of ids) {
      const s = await this.status(id);
      if (s) out.push(s);
    }
    return out;
  }

  /** Marks it cancelled (a running job sees the mark before its next chunk) and removes its waiting jobs. */
  async cancel(id: string): Promise<number> {
    const s = await this.status(id);
    if (!s) throw new Error(`no backfill "${id}" (see: perpflow-backfill list)`);
    await this.redis.hset(this.keys.meta(id), 'cancelled', '1');
    const names = new Set<string>(
      JSON.parse((await this.redis.hget(this.keys.meta(id), 'jobQueues')) ?? '[]'),
    );
    if (names.size === 0) names.add(queueName(s.spec.exchange, undefined, this.queuePrefix));
    let removed = 0;
    for (const name of names) {
      const queue = new Queue<BackfillJobData>(name, { connection: this.redis });
      try {
        const waiting = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
        for (const job of waiting)
          if (job?.data.backfillId === id) {
            await job.remove();
            removed++;
          }
      } finally {
        await queue.close();
      }
    }
    return removed;
  }
}

export interface BackfillWorkerDeps {
  redis: Redis;
  exchanges: Map<ExchangeId, { ex: CcxtExchange; gate: RateGate }>;
  sink: RecordSink;
  checkpoints: CheckpointStore;
  metrics: IngestMetrics;
  logger: Logger;
  now: () => number;
  concurrency: number;
  /** Prefix of the queue names (INGEST_BACKFILL_QUEUE). */
  queuePrefix: string;
  /** This worker's shard (INGEST_SHARD): it consumes its shard's queue, and the unsharded one. */
  shard: { index: number; count: number };
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
  for (const [exchange, { ex, gate }] of deps.exchanges)
    for (const name of names(exchange)) {
      const worker = new Worker<BackfillJobData>(name, (job) => runJobOnce(deps, ex, gate, job), {
        connection: deps.redis.duplicate({ maxRetriesPerRequest: null }),
        concurrency: deps.concurrency,
      });
      worker.on('completed', (job) => void onFinished(deps, job, 'completed'));
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
  job: Job<BackfillJobData>,
): Promise<unknown> {
  try {
    return await runJob(deps, ex, gate, job);
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
  job: Job<BackfillJobData>,
): Promise<void> {
  const d = job.data;
  const ckKey = backfillKeys(deps.queuePrefix).checkpoint(d.backfillId, d.exchange, d.symbol);
  const resumeAt = (await deps.checkpoints.get(ckKey)) ?? d.fromMs;
  const chunks = chunksOf(d.fromMs, d.toMs, d.chunkMs);
  const fundingCache: FundingCache = { fromMs: Number.POSITIVE_INFINITY, coveredToMs: -1, rows: [] };
  const candleAsk: CandleAsk = { atMs: Number.NEGATIVE_INFINITY };
  const pub = { sink: deps.sink, metrics: deps.metrics, logger: deps.logger, now: deps.now };
  for (const [i, chunk] of chunks.entries()) {
    if (chunk.toMs <= resumeAt) continue; // done before a crash: never refetched
    if ((await deps.redis.hget(backfillKeys(deps.queuePrefix).meta(d.backfillId), 'cancelled')) === '1')
      return;
    // Funding and open interest first, candles last (see planBackfill).
    for (const feed of (['funding', 'open_interest', 'ohlcv'] as const).filter((f) => d.feeds.includes(f))) {
      const from = Math.max(chunk.fromMs, resumeAt);
      for await (const page of pagesOf(
        pageSpec(feed, d, ex, gate, deps, fundingCache, candleAsk),
        from,
        chunk.toMs,
      )) {
        const receivedAtMs = deps.now();
        const stamp = { exchange: d.exchange, symbol: d.symbol, source: 'backfill' as const, receivedAtMs };
        const items = page.rows.flatMap((r): Item[] => {
          if (feed === 'ohlcv') {
            const t = timeOf(r);
            // Never publish an open candle from a backfill: it is not final. Judged at the
            // time the page was requested, not received: an answer given just before a close
            // and parsed after it still holds the candle open, with partial values.
            if (t !== null && !isClosed(t, d.timeframe, candleAsk.atMs)) return [];
            return [{ ...candleFromOhlcv(r as unknown[], stamp, d.timeframe, true), symbol: d.symbol }];
          }
          if (feed === 'open_interest')
            return [{ ...openInterestFromCcxt(r as Record<string, number>, stamp), symbol: d.symbol }];
          return [{ ...settledFundingFromCcxt(r as Record<string, number>, stamp), symbol: d.symbol }];
        });
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

type Item = Normalized<{ exchange: string; symbol: string; eventTimeMs: number; receivedAtMs: number }> & {
  symbol: string;
};

function timeOf(r: unknown): number | null {
  const t = Array.isArray(r) ? r[0] : (r as { timestamp?: unknown } | null)?.timestamp;
  return typeof t === 'number' ? t : null;
}

/**
 * Funding history rows a job already fetched. One page holds months of 8 h
 * settlements, so the first day's call answers for the following days too:
 * without this, a job made one call per day, and 50 jobs broke Binance's own
 * limit on that endpoint (500 calls per 5 min) in the 30-day bench.
 */
interface FundingCache {
  fromMs: number;
  /** Rows are complete for [fromMs, coveredToMs]. */
  coveredToMs: number;
  rows: Record<string, unknown>[];
}

/** When the last candle page was requested (our clock, less CLOCK_MARGIN_MS). */
interface CandleAsk {
  atMs: number;
}
/** How far our clock may run ahead of the exchange's when judging a candle closed. */
const CLOCK_MARGIN_MS = 1_000;

function pageSpec(
  feed: BackfillFeed,
  d: BackfillJobData,
  ex: CcxtExchange,
  gate: RateGate,
  deps: BackfillWorkerDeps,
  fundingCache: FundingCache,
  candleAsk: CandleAsk,
): PageSpec<unknown> {
  // Each page retries retriable errors (5xx, timeouts, rate limits after the gate's pause)
  // a few times with backoff and jitter before the job itself fails and BullMQ retries it.
  const call = <T>(method: string, fn: () => Promise<T>): Promise<T> =>
    retry(
      async () => {
        await gate.pass();
        try {
          return await callExchange(ex, method, deps.metrics, fn, gate);
        } catch (err) {
          gate.onError(err);
          throw err;
        }
      },
      {
        retries: 4,
        baseDelayMs: 500,
        onRetry: (err, attempt, delayMs) =>
          deps.logger.warn(
            { exchange: d.exchange, symbol: d.symbol, method, attempt, delayMs, err: (err as Error).message },
            'backfill page retry',
          ),
      },
    );
  if (feed === 'ohlcv')
    return {
      fetch: (since, limit) =>
        call('fetchOHLCV', () => {
          candleAsk.atMs = deps.now() - CLOCK_MARGIN_MS; // this attempt's request time
          return ex.fetchOHLCV(d.symbol, d.timeframe, since, limit);
        }),
      timeOf,
      limit: pageLimits(d.exchange).ohlcv,
      stepMs: timeframeMs(d.timeframe),
    };
  if (feed === 'open_interest')
    return {
      // 5m is the finest open-interest history the exchanges serve.
      fetch: (since, limit) =>
        call('fetchOpenInterestHistory', () =>
          ex.fetchOpenInterestHistory(
            d.symbol,
            '5m',
            since,
            limit,
            OPEN_INTEREST_HISTORY_PARAMS[d.exchange]?.(since, limit, 300_000),
          ),
        ),
      timeOf,
      limit: pageLimits(d.exchange).openInterestHistory,
      stepMs: 300_000,
    };
  return {
    fetch: async (since, limit) => {
      const c = fundingCache;
      // Served from the cache only when it covers a time past the chunk (the pager then stops).
      if (since >= c.fromMs && c.coveredToMs >= since + d.chunkMs)
        return c.rows.filter((r) => (timeOf(r) ?? -1) >= since);
      const rows = await call('fetchFundingRateHistory', () =>
        ex.fetchFundingRateHistory(d.symbol, since, limit),
      );
      const times = rows.map(timeOf);
      if (times.length > 0 && times.every((t) => t !== null)) {
        const last = Math.max(...(times as number[]));
        // A short page holds everything the exchange has from `since` up to its now.
        Object.assign(c, {
          fromMs: since,
          coveredToMs: rows.length < limit ? deps.now() : last,
          rows,
        });
      }
      return rows;
    },
    timeOf,
    limit: pageLimits(d.exchange).fundingHistory,
    stepMs: 1,
  };
}
