import { randomUUID } from 'node:crypto';
import { ArchiveObjectCorrupt, ArchiveObjectMissing } from '@perpflow/archive';
import {
  DATASET_WRITER_VERSION,
  parquetWriterMemoryBytes,
  parseSeriesIndex,
  prepareWindowWrite,
  type SeriesIndex,
  serializeSeriesIndex,
  seriesIndexKey,
  upsertSeriesIndex,
  versionPrefix,
  type WindowManifest,
} from '@perpflow/dataset';
import { forEachPool, type Logger } from '@perpflow/runtime';
import type { ObjectStore } from '@perpflow/s3';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { datasetVersionOf } from '../version.js';
import type { ReprocessJobData } from './plan.js';
import { type RebuildStats, type RebuiltWindow, rebuildWindows } from './rebuild.js';

/** Default queue name (REPROCESS_QUEUE). */
export const DEFAULT_REPROCESS_QUEUE = 'perpflow-reprocess';
/**
 * Windows whose puts may be in flight at once in one job (each an object, then its
 * manifest): enough to keep a worker off S3's round trips, few enough to hold little.
 */
const WINDOWS_IN_FLIGHT = 8;
/** Series indexes updated at once when a job's windows are all written. */
const INDEXES_AT_ONCE = 8;

/** The writer named in reprocessed manifests and Parquet metadata. */
export const REPROCESS_WRITER = `perpflow-reprocess 0.1.0 (${DATASET_WRITER_VERSION})`;

/** What a finished job keeps as its result (the coordinator sums them for its progress line). */
export interface ReprocessJobResult extends RebuildStats {
  /** The window objects written, key and sha256 (the same request gives the same list). */
  written: { key: string; sha256: string }[];
}

/** Progress a running job reports: the archive read so far. */
export interface ReprocessJobProgress {
  objects: number;
  records: number;
}

export interface ReprocessWorkerDeps {
  redis: Redis;
  store: ObjectStore;
  /** Dataset prefix: the tree goes to `<prefix>/versions/<id>/aligned/v1`, the archive is `<prefix>/raw`. */
  prefix: string;
  logger: Logger;
  /** Test hook: called at each step of a job (the fault tests SIGKILL the process there). */
  atStep?: (step: ReprocessStep) => void;
}

export type ReprocessStep = 'after-object-put' | 'after-manifest-put' | 'after-index';

/**
 * One job: rebuild the windows from the archive; as each window is done, put its object(s)
 * and manifest (in that order; up to WINDOWS_IN_FLIGHT windows at once, windowPutter);
 * once every put has succeeded, update each series index under a per-series
 * Redis lock (jobs of one series in other months may run at once on other workers). Killed at
 * any step, BullMQ's stalled check hands the job to a worker again; it rewrites the same
 * keys with the same bytes, so the tree holds each bar once.
 */
export async function runReprocessJob(
  deps: ReprocessWorkerDeps,
  data: ReprocessJobData,
  onProgress: (p: ReprocessJobProgress) => void = () => undefined,
): Promise<ReprocessJobResult> {
  const mine = datasetVersionOf(data.engine).id;
  if (mine !== data.version)
    throw new UnrecoverableError(
      `this worker's engine gives version ${mine} for the job's config, the job is for ${data.version}: ` +
        'the worker runs other quality or align code than the coordinator; run both from one release',
    );
  const step = deps.atStep ?? (() => undefined);
  const tree = versionPrefix(deps.prefix, data.version);
  const written: { key: string; sha256: string }[] = [];
  /** Manifests put, by series index key: each index is updated once, after its windows. */
  const manifests = new Map<string, { manifest: WindowManifest; key: string }[]>();
  const putter = windowPutter(deps.store, step, WINDOWS_IN_FLIGHT);
  const sink = async (w: RebuiltWindow) => {
    const prepared = prepareWindowWrite({ ...w, prefix: tree, writerVersion: REPROCESS_WRITER });
    await putter.add(prepared);
    for (const put of prepared.puts)
      if (put.key !== prepared.manifestKey) written.push({ key: put.key, sha256: put.sha256 });
    const indexKey = seriesIndexKey(tree, prepared.manifest.window);
    const list = manifests.get(indexKey) ?? [];
    list.push({ manifest: prepared.manifest, key: prepared.manifestKey });
    manifests.set(indexKey, list);
  };
  let stats: RebuildStats;
  try {
    stats = await rebuildWindows((k) => deps.store.get(k), deps.prefix, data, sink, onProgress);
  } catch (err) {
    // A corrupt or missing archive object does not heal by retrying: fail now, naming it.
    if (err instanceof ArchiveObjectCorrupt || err instanceof ArchiveObjectMissing)
      throw new UnrecoverableError(err.message);
    throw err;
  } finally {
    // Puts still going when the rebuild ends either way are waited for.
    await putter.settled();
  }
  // Every window's object and manifest put, or the job fails with the first put's error.
  putter.throwIfFailed();
  // Each series' index under its own lock, INDEXES_AT_ONCE series at a time (a read and a
  // write each, round trips to S3).
  await forEachPool([...manifests], INDEXES_AT_ONCE, ([indexKey, list]) =>
    withSeriesLock(deps.redis, indexKey, async (key) => {
      const raw = await deps.store.get(key);
      let index: SeriesIndex | null = raw === null ? null : parseSeriesIndex(raw);
      for (const m of list) index = upsertSeriesIndex(index, m.manifest, m.key);
      await deps.store.put(key, serializeSeriesIndex(index as SeriesIndex), 'application/json');
    }),
  );
  step('after-index');
  return { ...stats, written };
}

type PreparedWindowWrite = ReturnType<typeof prepareWindowWrite>;

/**
 * A job's window writes, off the rebuild's path: `add` starts a window's puts (its
 * object(s), then its manifest, in that order) and returns once fewer than `limit`
 * windows are in flight, so the rebuild goes on to the next windows while S3 answers.
 * `add` throws the first failed put's error; `settled` waits for every put started;
 * `throwIfFailed` then says whether all succeeded. The job updates its series indexes
 * only after that, so an index never names a manifest not yet written.
 */
export function windowPutter(
  store: Pick<ObjectStore, 'put'>,
  step: (s: ReprocessStep) => void,
  limit: number,
): {
  add(prepared: PreparedWindowWrite): Promise<void>;
  settled(): Promise<void>;
  throwIfFailed(): void;
} {
  const inFlight = new Set<Promise<void>>();
  let failed: { err: unknown } | null = null;
  const throwIfFailed = () => {
    if (failed) throw failed.err;
  };
  return {
    async add(prepared) {
      while (inFlight.size >= limit) await Promise.race(inFlight);
      throwIfFailed();
      const puts = (async () => {
        for (const put of prepared.puts) {
          if (put.key === prepared.manifestKey) step('after-object-put');
          await store.put(put.key, put.body, put.contentType);
        }
        step('after-manifest-put');
      })();
      // Tracked promises never reject: the first error is kept for add and throwIfFailed.
      const tracked: Promise<void> = puts.then(
        () => void inFlight.delete(tracked),
        (err: unknown) => {
          inFlight.delete(tracked);
          failed ??= { err };
        },
      );
      inFlight.add(tracked);
    },
    async settled() {
      await Promise.all(inFlight);
    },
    throwIfFailed,
  };
}

/**
 * Runs `fn` holding a Redis lock named by the index key (SET NX PX, released only by its
 * holder). A holder killed mid-update leaves the lock to expire after `ttlMs`; the update
 * is a read-modify-write of an idempotent upsert, so the next holder's write is complete.
 */
async function withSeriesLock(
  redis: Redis,
  indexKey: string,
  fn: (key: string) => Promise<void>,
  ttlMs = 30_000,
): Promise<void> {
  const lock = `perpflow:reprocess-lock:${indexKey}`;
  const token = randomUUID();
  const deadline = Date.now() + 5 * ttlMs;
  while ((await redis.set(lock, token, 'PX', ttlMs, 'NX')) !== 'OK') {
    if (Date.now() > deadline)
      throw new Error(`series index lock ${lock} still held after ${5 * ttlMs} ms; retrying the job`);
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 100)));
  }
  try {
    await fn(indexKey);
  } finally {
    // Delete only our own lock (it may have expired and been taken by another worker).
    await redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
      1,
      lock,
      token,
    );
  }
}

export interface ReprocessWorkerOptions {
  queue: string;
  keyPrefix: string;
  /** Jobs run at once by this process. Default 1 (the rebuild is CPU-bound: one per core). */
  concurrency: number;
  /** Job lock and the stalled check's interval. Default 30,000. */
  lockDurationMs: number;
}

const mib = (bytes: number) => Math.round(bytes / 1_048_576);
function memoryMiB(): {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** parquet-wasm's linear memory (never shrinks): part of `external`, not of `arrayBuffers`. */
  wasm: number;
} {
  const m = process.memoryUsage();
  return {
    rss: mib(m.rss),
    heapUsed: mib(m.heapUsed),
    heapTotal: mib(m.heapTotal),
    external: mib(m.external),
    arrayBuffers: mib(m.arrayBuffers),
    wasm: mib(parquetWriterMemoryBytes()),
  };
}

/** A BullMQ worker serving the reprocess queue of one dataset. */
export function startReprocessWorker(deps: ReprocessWorkerDeps, options: ReprocessWorkerOptions): Worker {
  const worker = new Worker<ReprocessJobData, ReprocessJobResult>(
    options.queue,
    async (job: Job<ReprocessJobData, ReprocessJobResult>) => {
      const t0 = Date.now();
      let last = 0;
      const result = await runReprocessJob(deps, job.data, (p) => {
        if (Date.now() - last < 1_000) return;
        last = Date.now();
        void job.updateProgress(p).catch(() => undefined);
      });
      deps.logger.info(
        {
          job: job.id,
          records: result.records,
          objects: result.objects,
          bars: result.bars,
          windows: result.windows,
          ms: Date.now() - t0,
          // Where a worker's memory is (MiB): the heap, ArrayBuffers (archive bytes, Parquet
          // output) and WebAssembly memory (parquet-wasm), which never shrinks.
          memoryMiB: memoryMiB(),
        },
        'reprocess job done',
      );
      return result;
    },
    {
      connection: deps.redis,
      prefix: options.keyPrefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.lockDurationMs,
      autorun: true,
    },
  );
  worker.on('failed', (job, err) =>
    deps.logger.error({ job: job?.id, attempt: job?.attemptsMade, err: err.message }, 'reprocess job failed'),
  );
  return worker;
}
