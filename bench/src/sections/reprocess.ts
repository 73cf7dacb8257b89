/**
 * Reprocess: rebuilding aligned bars from the raw archive on S3 (issue #13 point 5).
 * Raw records of many symbols are archived as the archiver lays them out (Parquet per
 * topic-partition and day, manifests, day indexes) on the bench's S3 server; then
 * - the in-process core: every job's rebuildWindows (archive decode, contract, quality,
 *   align) and window encode, from bytes in memory: records/s and records per CPU-second;
 * - `perpflow reprocess` with 1 and then 2 `reprocess-worker` processes (BullMQ on the
 *   bench's Redis, objects from and to S3): records/s, bars/s, the workers' records per
 *   CPU-second beside the core's, and each worker's peak RSS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  type ArchiveRow,
  type DayIndex,
  type KafkaRecord,
  PartitionBuffer,
  planFlush,
  serializeDocument,
  toArchiveRow,
  upsertDayIndex,
} from '@perpflow/archive';
import { FEED_RECORD_KIND, type Feed, TOPICS } from '@perpflow/contracts';
import { toMessage } from '@perpflow/kafka';
import { prepareWindowWrite } from '@perpflow/dataset';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from '@perpflow/runtime';
import {
  DEFAULT_REPROCESS_WORKER_NODE_FLAGS,
  loadConfig as loadAlignerConfig,
  loadEngineConfig,
} from '../../../services/aligner/src/config.js';
import { planReprocessJobs } from '../../../services/aligner/src/reprocess/plan.js';
import { rebuildWindows } from '../../../services/aligner/src/reprocess/rebuild.js';
import { datasetVersionOf } from '../../../services/aligner/src/version.js';
import {
  DEFAULT_MAX_OBJECT_BYTES,
  DEFAULT_MAX_OBJECT_RECORDS,
} from '../../../services/archiver/src/config.js';
import { DATA_DIR, entryArgs, ROOT, STACK_S3_CREDENTIALS, uniqueName } from '../../../test/src/harness.js';
import { type BenchConfig, serviceNodeArgs } from '../config.js';
import { rawRecords, recentDays, universe } from '../market-data.js';
import { benchS3 } from '../pipeline-procs.js';
import type { FigureInput } from '../report.js';
import { cpuSecondsOf, memoryOf, selfCpuSeconds } from '../system.js';
import type { SectionResult } from './publish.js';

const PARTITIONS = 12;
const S3_CONCURRENCY = 8;
const EXCHANGE = 'binanceusdm';
const enc = new TextEncoder();

/** A stable partition per series (FNV-1a of the key): the four topics agree, as Kafka's partitioner makes them. */
function partitionOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % PARTITIONS;
}

/**
 * The archive's objects, manifests and day indexes of the records, as a key → bytes map.
 * Each topic-partition's records are cut into objects where the archiver cuts them with
 * its defaults (ARCHIVER_MAX_OBJECT_BYTES of record bytes, ARCHIVER_MAX_OBJECT_RECORDS):
 * one object per partition-day instead held 18 MiB of records at 500 symbols, and a
 * worker's WebAssembly memory grows to the largest object it decodes (133 MiB there).
 */
export function archiveOf(prefix: string, recs: ReturnType<typeof rawRecords>): Map<string, Uint8Array> {
  const byTp = new Map<string, { feed: Feed; rows: KafkaRecord[] }>();
  for (const r of recs) {
    const key = `${r.record.exchange}|${r.record.symbol}`;
    const partition = partitionOf(key);
    const topic = TOPICS.raw[r.feed];
    const tp = `${topic}/${partition}`;
    let g = byTp.get(tp);
    if (!g) {
      g = { feed: r.feed, rows: [] };
      byTp.set(tp, g);
    }
    // As exchange-ingest publishes it (toMessage: key, JSON value, its four headers).
    const m = toMessage(r.record, {
      kind: FEED_RECORD_KIND[r.feed],
      producer: 'exchange-ingest',
      producedAtMs: r.record.receivedAtMs + 1,
      source: 'backfill',
    });
    g.rows.push({
      topic,
      partition,
      offset: String(g.rows.length),
      kafkaTimestampMs: r.record.receivedAtMs + 3,
      key: enc.encode(m.key as string),
      value: enc.encode(m.value as string),
      headers: Object.entries(m.headers ?? {}).map(([name, v]) => ({ name, value: enc.encode(String(v)) })),
    });
  }
  const out = new Map<string, Uint8Array>();
  const indexes = new Map<string, DayIndex | null>();
  // The archiver's own rotation (PartitionBuffer) with its default limits; no age limit,
  // as in a catch-up.
  const limits = {
    maxObjectBytes: DEFAULT_MAX_OBJECT_BYTES,
    maxObjectRecords: DEFAULT_MAX_OBJECT_RECORDS,
    maxObjectAgeMs: Number.POSITIVE_INFINITY,
  };
  const flushes: { feed: Feed; rows: ArchiveRow[] }[] = [];
  for (const { feed, rows } of byTp.values()) {
    const buffer = new PartitionBuffer(limits);
    const take = (final: boolean) => {
      for (let d = buffer.decide(0, final); d.due; d = buffer.decide(0, final)) {
        flushes.push({ feed, rows: d.rows });
        buffer.markDurable(d.rows[d.rows.length - 1]!.offset);
      }
    };
    for (const r of rows) {
      buffer.add(toArchiveRow(feed, r), 0);
      take(false);
    }
    take(true);
  }
  for (const { feed, rows } of flushes) {
    const plan = planFlush(prefix, feed, rows);
    for (const o of plan.objects) {
      out.set(o.key, o.body);
      out.set(o.manifestKey, serializeDocument(o.manifest));
      const ix = upsertDayIndex(indexes.get(o.indexKey) ?? null, o.manifest, o.manifestKey);
      indexes.set(o.indexKey, ix);
    }
  }
  for (const [k, ix] of indexes) if (ix) out.set(k, serializeDocument(ix));
  return out;
}

/**
 * REPROCESS_WORKER_NODE_FLAGS of the comparison run (BENCH_REPROCESS_OTHER_FLAGS): the
 * young generation's cap alone, the workers' default before the old generation's growth
 * was set, so every run shows what that setting costs and saves (docs/BENCHMARKS.md).
 */
export const OTHER_WORKER_FLAGS = '--max-semi-space-size=4';

/** V8's old-space cap of a worker process (BENCH_REPROCESS_WORKER_HEAP_MB; 0: V8's default). */
const heapArgs = (c: BenchConfig) =>
  c.reprocessWorkerHeapMb > 0 ? [`--max-old-space-size=${c.reprocessWorkerHeapMb}`] : [];

interface WorkerRun {
  workers: number;
  seconds: number;
  records: number;
  bars: number;
  jobs: number;
  workerCpuSeconds: number;
  peakRssMiB: number[];
}

/** `perpflow reprocess --workers 0` and `n` reprocess-worker processes, on a queue of its own. */
async function runWorkers(
  c: BenchConfig,
  prefix: string,
  range: { fromMs: number; toMs: number },
  n: number,
  label: string,
  /** REPROCESS_WORKER_NODE_FLAGS of these workers: `perpflow reprocess`'s default unless given. */
  nodeFlags = DEFAULT_REPROCESS_WORKER_NODE_FLAGS,
) {
  const env = {
    ...SERVICE_ENV,
    ...process.env,
    ...STACK_S3_CREDENTIALS,
    S3_ENDPOINT: c.s3Endpoint,
    S3_BUCKET: c.s3Bucket,
    S3_PREFIX: prefix,
    REDIS_URL: c.redisUrl,
    REPROCESS_QUEUE: uniqueName('bench-reprocess'),
    // Each job's 'reprocess job done' line, with the worker's memory, goes to the worker's log.
    LOG_LEVEL: 'info',
  };
  // `perpflow` as the image runs it: its build (npm run bench builds first), or its source.
  const cwd = join(ROOT, 'services/windower');
  const node = (args: string[]) => [...entryArgs('services/windower', 'src/perpflow.ts'), ...args];
  const logs = join(DATA_DIR, 'logs');
  mkdirSync(logs, { recursive: true });
  const workers: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const log = openSync(join(logs, `bench-${label}-worker-${i + 1}.log`), 'w');
    workers.push(
      spawn(
        process.execPath,
        // As `perpflow reprocess --workers n` starts them: the services' flags, then these.
        [
          ...SERVICE_NODE_FLAGS,
          // BENCH_SERVICE_NODE_FLAGS, and with BENCH_PROFILE=1 a CPU profile written at its exit.
          ...serviceNodeArgs(c, `${label}-worker-${i + 1}`),
          ...nodeFlags.split(' ').filter(Boolean),
          ...heapArgs(c),
          ...node(['reprocess-worker']),
        ],
        { cwd, env, stdio: ['ignore', log, log] },
      ),
    );
    closeSync(log);
  }
  const peaks = workers.map(() => 0);
  const sampler = setInterval(() => {
    for (const [i, w] of workers.entries()) {
      const m = w.pid ? memoryOf(w.pid) : null;
      if (m) peaks[i] = Math.max(peaks[i]!, m.peakMiB);
    }
  }, 500);
  try {
    const t0 = performance.now();
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        node([
          'reprocess',
          '--from',
          String(range.fromMs),
          '--to',
          String(range.toMs),
          '--exchange',
          EXCHANGE,
          '--workers',
          '0',
          '--json',
        ]),
        { cwd, env: { ...env, LOG_LEVEL: 'warn' } },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      // 'close', not 'exit': the pipes may still hold the last output at 'exit'.
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`perpflow reprocess exited ${r.status}: ${r.stderr.slice(-2000)}`);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
      records: number;
      bars: number;
      jobs: number;
    };
    let cpu = 0;
    for (const [i, w] of workers.entries()) {
      cpu += (w.pid ? cpuSecondsOf(w.pid) : null) ?? 0;
      const m = w.pid ? memoryOf(w.pid) : null;
      if (m) peaks[i] = Math.max(peaks[i]!, m.peakMiB);
    }
    return {
      workers: n,
      seconds,
      records: summary.records,
      bars: summary.bars,
      jobs: summary.jobs,
      workerCpuSeconds: cpu,
      peakRssMiB: peaks,
    } satisfies WorkerRun;
  } finally {
    clearInterval(sampler);
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(
      workers.map((w) => (w.exitCode === null ? new Promise((res) => w.once('exit', res)) : null)),
    );
  }
}

/** The three targets of a 2-worker run: rate, records per CPU-second against the core's, peak RSS (of `also` too). */
function targetRows(
  names: { rate: string; ratio: string; rss: string },
  run: WorkerRun,
  corePerCpu: number,
  core: { name: string; value: number },
  notePrefix: string,
  also: WorkerRun[] = [],
): FigureInput[] {
  const mib = (r: WorkerRun) =>
    `${r.workers} worker${r.workers === 1 ? '' : 's'} ${r.peakRssMiB.map((m) => m.toFixed(0)).join(', ')} MiB`;
  return [
    {
      name: names.rate,
      value: run.records / run.seconds,
      unit: 'records/s',
      reference: core,
      target: { op: '>=', value: 100_000 },
      note: `${notePrefix}${Math.round(run.bars / run.seconds)} bars/s`,
    },
    {
      name: names.ratio,
      value: run.records / run.workerCpuSeconds / corePerCpu,
      unit: 'ratio',
      target: { op: '>=', value: 0.7 },
      note: `${Math.round(run.records / run.workerCpuSeconds)} records per worker CPU-second`,
    },
    {
      name: names.rss,
      value: Math.max(...also.flatMap((r) => r.peakRssMiB), ...run.peakRssMiB),
      unit: 'MiB',
      target: { op: '<=', value: 300 },
      note: [...also, run].map(mib).join('; '),
    },
  ];
}

export async function benchReprocess(c: BenchConfig): Promise<SectionResult> {
  const { fromMs, toMs } = recentDays(c.reprocessDays);
  const u = universe(c.reprocessSymbols, fromMs);
  const recs = rawRecords(u, fromMs, toMs);
  const prefix = `bench/${uniqueName('reprocess')}`;
  const archive = archiveOf(prefix, recs);
  const archiveBytes = [...archive.values()].reduce((n, b) => n + b.byteLength, 0);
  console.log(
    `bench: reprocess: ${recs.length} raw records of ${c.reprocessSymbols} symbols × ${c.reprocessDays} days, ` +
      `${archive.size} archive keys (${(archiveBytes / 1_048_576).toFixed(1)} MiB)`,
  );

  // The archive to S3 (the same keys the archiver writes).
  const s3 = benchS3(c);
  const keys = [...archive.keys()];
  let next = 0;
  await Promise.all(
    Array.from({ length: S3_CONCURRENCY }, async () => {
      for (;;) {
        const k = keys[next++];
        if (k === undefined) return;
        await s3.send(new PutObjectCommand({ Bucket: c.s3Bucket, Key: k, Body: archive.get(k) }));
      }
    }),
  );
  s3.destroy();

  // The in-process core: every job, from bytes in memory, windows encoded but not put.
  const engine = loadEngineConfig(loadAlignerConfig({}));
  const version = datasetVersionOf(engine).id;
  const partitions = [...new Set([...archive.keys()].map((k) => /\+(\d+)\+\d{20}\.parquet$/.exec(k)?.[1]))]
    .filter((p): p is string => p !== undefined)
    .map(Number);
  const jobs = planReprocessJobs(
    { fromMs, toMs, exchange: EXCHANGE, partitions, symbols: null },
    version,
    engine,
  );
  const get = async (k: string) => archive.get(k) ?? null;
  const cpu0 = selfCpuSeconds();
  const t0 = performance.now();
  let coreRecords = 0;
  let coreBars = 0;
  for (const job of jobs) {
    const s = await rebuildWindows(get, prefix, job, async (w) => {
      prepareWindowWrite({ ...w, prefix: `${prefix}/versions/${version}` });
    });
    coreRecords += s.records;
    coreBars += s.bars;
  }
  const coreSeconds = (performance.now() - t0) / 1000;
  const coreCpuSeconds = selfCpuSeconds() - cpu0;
  const corePerCpu = coreRecords / coreCpuSeconds;

  const one = await runWorkers(c, prefix, { fromMs, toMs }, 1, 'reprocess-1');
  const two = await runWorkers(c, prefix, { fromMs, toMs }, 2, 'reprocess-2');
  const otherFlags = c.reprocessOtherFlags ?? OTHER_WORKER_FLAGS;
  const other = await runWorkers(c, prefix, { fromMs, toMs }, 2, 'reprocess-other', otherFlags);
  for (const r of [one, two, other])
    if (r.records !== coreRecords || r.bars !== coreBars)
      throw new Error(
        `workers read ${r.records} records and wrote ${r.bars} bars; the core ${coreRecords} and ${coreBars}`,
      );
  const core = { name: 'in-process core (same jobs, no S3, no Redis)', value: coreRecords / coreSeconds };
  const figures: FigureInput[] = [
    {
      name: 'reprocess, in-process core',
      value: coreRecords / coreSeconds,
      unit: 'records/s',
      note: `${coreRecords} records, ${jobs.length} jobs, ${coreBars} bars; archive decode + contract + quality + align + encode`,
    },
    { name: 'reprocess, in-process core, per CPU-second', value: corePerCpu, unit: 'records/CPU-s' },
    {
      name: 'reprocess, 1 worker process',
      value: one.records / one.seconds,
      unit: 'records/s',
      reference: core,
      note: `${Math.round(one.bars / one.seconds)} bars/s; S3 reads and writes, BullMQ`,
    },
    ...targetRows(
      {
        rate: 'reprocess, 2 worker processes',
        ratio: 'reprocess, 2 workers, records per CPU-second ÷ the core’s',
        rss: 'reprocess, peak RSS of a worker process',
      },
      two,
      corePerCpu,
      core,
      '',
      [one],
    ),
    ...targetRows(
      {
        rate: 'reprocess, 2 workers with other flags (BENCH_REPROCESS_OTHER_FLAGS)',
        ratio: 'reprocess, 2 workers with other flags, records per CPU-second ÷ the core’s',
        rss: 'reprocess, peak RSS of a worker with other flags',
      },
      other,
      corePerCpu,
      core,
      `${otherFlags}; `,
    ),
  ];
  return {
    figures,
    details: {
      records: recs.length,
      symbols: c.reprocessSymbols,
      days: c.reprocessDays,
      archive: { keys: archive.size, bytes: archiveBytes, prefix },
      version,
      core: {
        jobs: jobs.length,
        records: coreRecords,
        bars: coreBars,
        seconds: coreSeconds,
        cpuSeconds: coreCpuSeconds,
      },
      workers: [one, two, other],
    },
  };
}
