/**
 * `perpflow reprocess`: rebuild the aligned dataset of a range from the raw archive, as
 * BullMQ jobs (one per series and month) that any number of `perpflow reprocess-worker`
 * processes share; this command enqueues them, starts `--workers` of its own, shows
 * progress and waits. `perpflow reprocess-worker` serves the queue on any host.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAlignConfig } from '@perpflow/align';
import { listArchiveObjects } from '@perpflow/archive';
import { EXCHANGES } from '@perpflow/contracts';
import { normalizePrefix, versionDescriptorKey, versionPrefix } from '@perpflow/dataset';
import { parseQualityConfig } from '@perpflow/quality';
import { Progress, parseTimeText, SERVICE_ENV, SERVICE_NODE_FLAGS } from '@perpflow/runtime';
import { COMMAND_MAX_ATTEMPTS, createS3Client, S3ObjectStore } from '@perpflow/s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadEngineConfig, loadReprocessConfig, type ReprocessConfig, readJsonFile } from '../config.js';
import type { EngineConfig } from '../domain/engine.js';
import { datasetVersionOf } from '../version.js';
import { planReprocessJobs, type ReprocessJobData, reprocessJobId, reprocessKeyPrefix } from './plan.js';
import type { ReprocessJobResult } from './worker.js';

const USAGE = `usage: perpflow reprocess --from <time> --to <time> --exchange <id> [--symbol <s>]...
                          [--quality-config <file>] [--align-config <file>] [--workers <n>]
                          [--prefix <S3 prefix>] [--json]
  Rebuilds the aligned bars of [from, to) (widened to whole windows) from the raw archive
  under <prefix>/raw with the live aligner's code, into <prefix>/versions/<id>/aligned/v1,
  where <id> is the dataset version the config names. The config is the live aligner's
  (ALIGNER_* keys); --quality-config replaces the quality thresholds (ALIGNER_QUALITY_CONFIG's
  format), --align-config overrides align keys (timeframe, allowedLatenessMs, ...).
  One BullMQ job per raw partition and month (the live aligner's unit: every series of
  that partition): run it again after a crash and finished jobs are not redone.
  --workers (default 1) worker processes start here; 0 starts none and waits for
  \`perpflow reprocess-worker\` processes elsewhere. Without --symbol, every series of
  the exchange. Times: YYYY-MM-DD, ISO with zone, or epoch ms.
  Exit 0: every job done; 1: a job failed (its error names the archive object or key).`;

const WORKER_USAGE = `usage: perpflow reprocess-worker
  Serves the reprocess queue of S3_BUCKET/S3_PREFIX (Redis REDIS_URL, REPROCESS_QUEUE)
  until SIGTERM. Start any number, on any host that reaches the same Redis and S3.`;

const USAGE_EXIT = 2;

interface Request {
  fromMs: number;
  toMs: number;
  exchange: string;
  symbols: string[];
  qualityFile: string | undefined;
  alignFile: string | undefined;
  workers: number;
  prefix: string | undefined;
  json: boolean;
}

function parseRequest(argv: string[]): Request | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      exchange: { type: 'string' },
      symbol: { type: 'string', multiple: true },
      'quality-config': { type: 'string' },
      'align-config': { type: 'string' },
      workers: { type: 'string', default: '1' },
      prefix: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  for (const k of ['from', 'to', 'exchange'] as const)
    if (values[k] === undefined) throw new Error(`--${k} is required`);
  const fromMs = parseTimeText('from', values.from as string);
  const toMs = parseTimeText('to', values.to as string);
  if (toMs <= fromMs) throw new Error(`--to ${values.to} must be after --from ${values.from}`);
  const exchange = values.exchange as string;
  if (!(EXCHANGES as readonly string[]).includes(exchange))
    throw new Error(`--exchange ${exchange}: not one of ${EXCHANGES.join(', ')}`);
  if (!/^\d{1,2}$/.test(values.workers)) throw new Error(`--workers ${values.workers}: a whole number 0-99`);
  return {
    fromMs,
    toMs,
    exchange,
    symbols: values.symbol ?? [],
    qualityFile: values['quality-config'],
    alignFile: values['align-config'],
    workers: Number(values.workers),
    prefix: values.prefix,
    json: values.json,
  };
}

/** The live config, with the files' overrides. A bad file or key is a ConfigError naming it. */
function engineOf(config: ReprocessConfig, req: Request): Pick<EngineConfig, 'quality' | 'align'> {
  const live = loadEngineConfig(config);
  const quality = req.qualityFile
    ? parseQualityConfig(readJsonFile(req.qualityFile, '--quality-config'))
    : live.quality;
  const align = req.alignFile
    ? parseAlignConfig(
        { ...live.align, ...(readJsonFile(req.alignFile, '--align-config') as object) },
        '--align-config',
      )
    : live.align;
  return { quality, align };
}

/** Raw partitions with archived candles of the exchange in the range (day indexes only, no object read). */
async function archivedPartitions(store: S3ObjectStore, prefix: string, req: Request): Promise<number[]> {
  const listing = await listArchiveObjects((k) => store.get(k), prefix, {
    feed: 'ohlcv',
    exchange: req.exchange,
    fromMs: req.fromMs,
    toMs: req.toMs,
  });
  return [...new Set(listing.objects.map((o) => o.partition))].sort((a, b) => a - b);
}

/**
 * This file's worker entry, to start worker processes with the same code: beside this
 * file, the TypeScript source run through tsx, or the build (`dist/…/cli.js`) run as is.
 */
const BUILT = import.meta.url.endsWith('.js');
const WORKER_MAIN = fileURLToPath(new URL(BUILT ? './worker-main.js' : './worker-main.ts', import.meta.url));

/**
 * A worker process's node arguments: SERVICE_NODE_FLAGS (as every service), then
 * REPROCESS_WORKER_NODE_FLAGS (V8 takes the last value of a flag given twice), then the
 * worker's entry.
 */
export function workerNodeArgs(nodeFlags: string): string[] {
  const flags = nodeFlags.trim() === '' ? [] : nodeFlags.trim().split(/ +/);
  return [
    ...SERVICE_NODE_FLAGS,
    ...flags,
    ...(BUILT ? [] : ['--conditions=@perpflow/source', '--import', import.meta.resolve('tsx')]),
    WORKER_MAIN,
  ];
}

function startWorkerProcess(env: NodeJS.ProcessEnv, nodeFlags: string): ChildProcess {
  return spawn(process.execPath, workerNodeArgs(nodeFlags), {
    env: { ...SERVICE_ENV, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** A job as the progress loop sees it in one poll. */
export type SeenJob =
  | { state: 'completed'; result: ReprocessJobResult }
  | { state: 'failed'; reason: string }
  | { state: 'active'; records: number }
  | { state: 'waiting' };

/**
 * Reads one job's state, then the job. In that order: a job read first and asked its
 * state after could complete in between, and then hold no return value (the command
 * failed "Cannot read properties of null (reading 'records')" with 2 workers in the
 * bench). A job whose state says completed was completed, with its value, when read.
 * Failed is final: attempts used up, or an UnrecoverableError (retries wait in 'delayed').
 */
export async function readJob(
  queue: Pick<Queue<ReprocessJobData, ReprocessJobResult>, 'getJobState' | 'getJob'>,
  id: string,
): Promise<SeenJob> {
  const state = await queue.getJobState(id);
  if (state !== 'completed' && state !== 'failed' && state !== 'active') return { state: 'waiting' };
  const job = await queue.getJob(id);
  if (!job) return { state: 'waiting' };
  if (state === 'completed') {
    const result = job.returnvalue as ReprocessJobResult | null | undefined;
    return result == null
      ? { state: 'failed', reason: `job ${id} completed without a result (its BullMQ returnvalue is empty)` }
      : { state: 'completed', result };
  }
  if (state === 'failed') return { state: 'failed', reason: job.failedReason };
  const p = job.progress as { records?: number } | number;
  return { state: 'active', records: typeof p === 'object' && p !== null ? (p.records ?? 0) : 0 };
}

export async function runReprocessCli(argv: string[]): Promise<number> {
  let req: Request;
  let config: ReprocessConfig;
  let engine: Pick<EngineConfig, 'quality' | 'align'>;
  let prefix: string;
  try {
    const parsed = parseRequest(argv);
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    req = parsed;
    config = loadReprocessConfig();
    engine = engineOf(config, req);
    prefix = normalizePrefix(req.prefix ?? config.S3_PREFIX);
  } catch (err) {
    console.error(`perpflow reprocess: ${(err as Error).message}\n${USAGE}`);
    return USAGE_EXIT;
  }
  const say = (line: string) => (req.json ? process.stderr : process.stdout).write(`${line}\n`);
  const version = datasetVersionOf(engine);
  const store = new S3ObjectStore(
    createS3Client(config, { maxAttempts: COMMAND_MAX_ATTEMPTS }),
    config.S3_BUCKET,
  );
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true });
  const workers: ChildProcess[] = [];
  let stopping = false;
  try {
    await redis.connect();
    const descriptorKey = versionDescriptorKey(prefix, version.id);
    if ((await store.get(descriptorKey)) === null)
      await store.put(descriptorKey, Buffer.from(version.json, 'utf8'), 'application/json');
    say(
      `version ${version.id}: tree s3://${config.S3_BUCKET}/${versionPrefix(prefix, version.id)}/aligned/v1/`,
    );
    const partitions = await archivedPartitions(store, prefix, req);
    if (partitions.length === 0) {
      console.error(
        `perpflow reprocess: no archived candles of ${req.exchange} in the range under s3://${config.S3_BUCKET}/${prefix}/raw/; ` +
          'is the archiver running with this S3_PREFIX? (its day indexes are raw/feed=ohlcv/exchange=<id>/date=<day>/_index.json)',
      );
      return 1;
    }
    const symbols = req.symbols.length > 0 ? req.symbols : null;
    const jobs = planReprocessJobs(
      { fromMs: req.fromMs, toMs: req.toMs, exchange: req.exchange, partitions, symbols },
      version.id,
      engine,
    );
    const keyPrefix = reprocessKeyPrefix(config.S3_BUCKET, prefix);
    const queue = new Queue<ReprocessJobData, ReprocessJobResult>(config.REPROCESS_QUEUE, {
      connection: redis,
      prefix: keyPrefix,
    });
    const ids = jobs.map(reprocessJobId);
    let resumed = 0;
    const toAdd: { name: string; data: ReprocessJobData; opts: object }[] = [];
    for (const [i, data] of jobs.entries()) {
      const id = ids[i] as string;
      const existing = await queue.getJob(id);
      if (existing) {
        const state = await existing.getState();
        if (state === 'failed') await existing.retry('failed');
        else resumed += state === 'completed' ? 1 : 0;
        continue;
      }
      toAdd.push({
        name: 'series-period',
        data,
        opts: {
          jobId: id,
          attempts: 5,
          backoff: { type: 'exponential', delay: 2_000 },
          removeOnComplete: false,
          removeOnFail: false,
        },
      });
    }
    if (toAdd.length > 0) await queue.addBulk(toAdd);
    say(
      `${jobs.length} jobs (${partitions.length} raw partition${partitions.length === 1 ? '' : 's'} × ` +
        `${jobs.length / partitions.length} period${jobs.length === partitions.length ? '' : 's'}, ` +
        `${symbols === null ? 'every series' : `${symbols.length} series`}): ${toAdd.length} added, ${resumed} already done; ` +
        `${req.workers} worker process${req.workers === 1 ? '' : 'es'} here`,
    );

    // Worker processes of this command; one that dies is started again (without a crash hook).
    const workerEnv = { ...process.env, S3_PREFIX: prefix };
    const startWorker = (slot: number, env: NodeJS.ProcessEnv) => {
      const child = startWorkerProcess(env, config.REPROCESS_WORKER_NODE_FLAGS);
      workers[slot] = child;
      child.once('exit', (code, signal) => {
        if (stopping) return;
        say(`worker ${slot + 1} exited (${signal ?? code}); starting it again (unfinished jobs resume)`);
        startWorker(slot, { ...env, REPROCESS_CRASH_AT: '' });
      });
    };
    for (let i = 0; i < req.workers; i++) startWorker(i, workerEnv);

    const progress = new Progress({
      unit: 'jobs',
      label: `reprocess ${version.id}`,
      tty: !req.json && process.stdout.isTTY === true,
      write: (t) => say(t.replace(/\n$/, '')),
    });
    const results = new Map<string, ReprocessJobResult>();
    const failed = new Map<string, string>();
    for (;;) {
      let running = 0;
      let records = 0;
      for (const id of ids) {
        if (results.has(id) || failed.has(id)) continue;
        const seen = await readJob(queue, id);
        if (seen.state === 'completed') results.set(id, seen.result);
        else if (seen.state === 'failed') failed.set(id, seen.reason);
        else if (seen.state === 'active') {
          running++;
          records += seen.records;
        }
      }
      for (const r of results.values()) records += r.records;
      const done = results.size + failed.size;
      const bars = [...results.values()].reduce((n, r) => n + r.bars, 0);
      progress.update(
        results.size,
        ids.length,
        `${records} records, ${bars} bars, ${running} running${failed.size ? `, ${failed.size} FAILED` : ''}`,
        done === ids.length,
      );
      if (done === ids.length) break;
      if (req.workers === 0 && running === 0 && done === 0)
        progress.update(0, ids.length, 'waiting for perpflow reprocess-worker processes');
      await new Promise((r) => setTimeout(r, 500));
    }
    const all = [...results.values()];
    const summary = {
      version: version.id,
      tree: `${versionPrefix(prefix, version.id)}/aligned/v1/`,
      jobs: ids.length,
      completed: results.size,
      failed: [...failed].map(([id, reason]) => ({ id, reason })),
      records: all.reduce((n, r) => n + r.records, 0),
      objects: all.reduce((n, r) => n + r.objects, 0),
      bars: all.reduce((n, r) => n + r.bars, 0),
      revisions: all.reduce((n, r) => n + r.revisions, 0),
      windows: all.reduce((n, r) => n + r.windows, 0),
      deadLetters: all.reduce<Record<string, number>>((acc, r) => {
        for (const [k, v] of Object.entries(r.deadLetters)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
    };
    if (req.json) console.log(JSON.stringify(summary));
    else {
      say(
        `done: ${summary.completed}/${summary.jobs} jobs, ${summary.records} records from ${summary.objects} archive objects, ` +
          `${summary.bars} bars (${summary.revisions} superseded revisions) in ${summary.windows} windows`,
      );
      const dl = Object.entries(summary.deadLetters);
      if (dl.length > 0)
        say(`turned away (as live dead-letters them): ${dl.map(([k, v]) => `${k} ${v}`).join(', ')}`);
      say(`read it: perpflow pull --version ${version.id} ...  (perpflow datasets lists it)`);
    }
    for (const f of summary.failed) console.error(`perpflow reprocess: job ${f.id} failed: ${f.reason}`);
    await queue.close();
    return summary.failed.length > 0 ? 1 : 0;
  } catch (err) {
    console.error(`perpflow reprocess: ${(err as Error).message}`);
    return 1;
  } finally {
    stopping = true;
    for (const w of workers) w?.kill('SIGTERM');
    await Promise.all(
      workers.map((w) => (w && w.exitCode === null ? new Promise((r) => w.once('exit', r)) : undefined)),
    );
    redis.disconnect();
  }
}

export async function runReprocessWorkerCli(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(WORKER_USAGE);
    return 0;
  }
  if (argv.length > 0) {
    console.error(`perpflow reprocess-worker: takes no arguments (got ${argv.join(' ')})\n${WORKER_USAGE}`);
    return USAGE_EXIT;
  }
  const { runWorkerProcess } = await import('./worker-main.js');
  return runWorkerProcess();
}
