/**
 * Aligner: records/s of the pure core in a process of its own (src/core-alone.ts: contract
 * decode of the Kafka bytes + quality rules + alignment, the aligner's own engine) and of the real
 * services/aligner process through Kafka (consume → validate/align → produce →
 * snapshot → commit) on raw records written beforehand, beside Kafka's
 * kafka-consumer-perf-test, kafkajs consuming alone and @platformatic/kafka consuming alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AlignedBar,
  decodeRecord,
  FEED_RECORD_KIND,
  formatRawThrough,
  HEADERS,
  TOPICS,
} from '@perpflow/contracts';
import { createIdempotentProducer, ensureTopics, pipelineTopics, toMessage } from '@perpflow/kafka';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from '@perpflow/runtime';
import type { Message } from 'kafkajs';
import { loadConfig as loadAlignerConfig, loadEngineConfig } from '../../../services/aligner/src/config.js';
import { createPartitionEngine } from '../../../services/aligner/src/domain/engine.js';
import type { EngineInput } from '../../../services/aligner/src/domain/engine-types.js';
import { barMessage, MAX_SEND_BYTES } from '../../../services/aligner/src/pipeline.js';
import { freePort, metricSum, startService, stopService, uniqueName } from '../../../test/src/harness.js';
import { alternativeConsume, type SendCost } from '../alt-client.js';
import { type BenchConfig, serviceNodeArgs } from '../config.js';
import {
  benchKafka,
  committedSince,
  endOffsets,
  parkGroupAtEnd,
  sendAll,
  withAdmin,
} from '../kafka-admin.js';
import {
  countByFeed,
  DAY_MS,
  type RawRecord,
  rawRecords,
  recentDays,
  TF_MS,
  universe,
} from '../market-data.js';
import type { FigureInput } from '../report.js';
import { cpuSecondsOf, kafkaTool, PeakMemory, sleep } from '../system.js';
import type { SectionResult } from './publish.js';

const RAW_TOPICS = Object.values(TOPICS.raw);
/** bench/: where src/produce-alone.ts is run from. */
const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BATCH = 1_000;

/** Bar messages the produce-only figure sends: the first this many bars of the in-process run. */
const PRODUCE_BARS = 100_000;

/** The pure core over `records`; keeps the first `keepBars` bars (for the produce-only figure). */
export function inProcessAlign(records: readonly RawRecord[], values: readonly Buffer[], keepBars = 0) {
  const engineConfig = loadEngineConfig(loadAlignerConfig({}));
  const engine = createPartitionEngine(engineConfig, null);
  const kept: AlignedBar[] = [];
  let bars = 0;
  let rejected = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += BATCH) {
    const inputs: EngineInput<number>[] = [];
    for (let j = i; j < Math.min(records.length, i + BATCH); j++) {
      const feed = records[j]!.feed;
      const d = decodeRecord(FEED_RECORD_KIND[feed], values[j]!);
      if (!d.ok) throw new Error(`bench record broke the contract: ${d.error.message}`);
      inputs.push({ feed, record: d.value as EngineInput<number>['record'], ref: j });
    }
    const out = engine.apply(inputs, Date.now());
    for (const b of out.bars) if (kept.length < keepBars) kept.push(b);
    bars += out.bars.length;
    rejected += out.rejected.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpuSeconds = (c.user + c.system) / 1e6;
  // As the aligner writes it: the JSON a stream at a time, each piece turned into bytes.
  const s0 = performance.now();
  let snapshotBytes = 0;
  for (const piece of engine.snapshotJson()) snapshotBytes += Buffer.from(piece).length;
  const snapshotMs = performance.now() - s0;
  return { seconds, cpuSeconds, bars, rejected, snapshotBytes, snapshotMs, kept };
}

/** Bar messages as `runBatch` makes them (six headers, the raw-through positions of four topics), as JSON lines. */
export function barMessageLines(bars: readonly AlignedBar[]): { lines: string[]; valueBytes: number } {
  const rawThrough = formatRawThrough(
    RAW_TOPICS.map((topic, i) => ({ topic, partition: 3, offset: String(1_234_567 + i * 98_765) })),
  );
  let valueBytes = 0;
  const lines = bars.map((b) => {
    const m = barMessage(b, Date.now(), 'aligner/bench', 'dv-0123456789abcdef');
    (m.headers as Record<string, string>)[HEADERS.rawThrough] = rawThrough;
    valueBytes += Buffer.byteLength(m.value as string);
    return JSON.stringify(m);
  });
  return { lines, valueBytes };
}

/** What src/core-alone.ts prints: the core's timed loop over the section's records. */
interface CoreRun {
  seconds: number;
  cpuSeconds: number;
  bars: number;
  rejected: number;
  snapshotBytes: number;
  snapshotMs: number;
  records: number;
  messages: number;
  valueBytes: number;
}

/** The services' node flags and environment, for a bench script run as a process of its own. */
function runScript(
  script: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [...SERVICE_NODE_FLAGS, '--conditions=@perpflow/source', '--import', 'tsx', script, ...args],
    { cwd: BENCH_DIR, env: { ...SERVICE_ENV, ...process.env }, encoding: 'utf8', timeout: 900_000 },
  );
  return {
    status: r.status,
    stdout: r.stdout ?? '',
    stderr: `${r.stderr ?? ''}${r.error ? r.error.message : ''}`,
  };
}

/** The pure core in a process of its own (src/core-alone.ts); writes the first PRODUCE_BARS bar messages to `file`. */
function coreAlone(c: BenchConfig, fromMs: number, toMs: number, file: string): CoreRun {
  const r = runScript('src/core-alone.ts', [
    String(c.alignerSymbols),
    String(fromMs),
    String(toMs),
    file,
    String(PRODUCE_BARS),
  ]);
  const line = r.stdout.trim().split('\n').at(-1);
  if (r.status !== 0 || !line) throw new Error(`core-alone exited ${r.status}: ${r.stderr.slice(-500)}`);
  return JSON.parse(line) as CoreRun;
}

/**
 * The aligner's publish path alone: the bar messages in `file` sent by src/produce-alone.ts
 * in a process of its own with the services' node flags, in the pipeline's chunks, one
 * request at a time (acks=all).
 */
async function produceBarsAlone(
  c: BenchConfig,
  file: string,
): Promise<{ kafkajs: SendCost; alt: SendCost | null }> {
  const topic = uniqueName('bench.aligner-produce');
  await withAdmin(benchKafka(c.kafkaBrokers, 'perpflow-bench-aligner-produce'), (admin) =>
    admin.createTopics({ topics: [{ topic, numPartitions: 12 }] }),
  );
  const run = async (client: 'kafkajs' | 'platformatic'): Promise<SendCost> => {
    const r = runScript('src/produce-alone.ts', [c.kafkaBrokers, topic, file, client]);
    const line = r.stdout.trim().split('\n').at(-1);
    if (r.status !== 0 || !line)
      return {
        seconds: 0,
        cpuSeconds: 0,
        error: `produce-alone ${client} exited ${r.status}: ${r.stderr.slice(-300)}`,
      };
    return JSON.parse(line) as SendCost;
  };
  const kafkajs = await run('kafkajs');
  const alt = c.altClient ? await run('platformatic') : null;
  return { kafkajs, alt };
}

/** Parses kafka-consumer-perf-test's CSV line: fetch.nMsg.sec (excludes the group join) and nMsg.sec. */
export function parseConsumerPerf(
  out: string,
): { nMsgSec: number; fetchNMsgSec: number; mbSec: number } | null {
  const line = out
    .trim()
    .split('\n')
    .filter((l) => /^\d{4}-/.test(l))
    .at(-1);
  const f = line?.split(',').map((s) => s.trim());
  if (!f || f.length < 10) return null;
  return { mbSec: Number(f[3]), nMsgSec: Number(f[5]), fetchNMsgSec: Number(f[9]) };
}

export async function benchAligner(c: BenchConfig): Promise<SectionResult> {
  const { fromMs } = recentDays(Math.ceil(c.alignerMinutes / 1_440) + 1);
  const toMs = fromMs + c.alignerMinutes * TF_MS;
  const u = universe(c.alignerSymbols, fromMs - DAY_MS);
  const records = rawRecords(u, fromMs, toMs);
  const n = records.length;

  // 1. The pure core, in a process of its own; it writes the bar messages produced alone below.
  const dir = mkdtempSync(join(tmpdir(), 'perpflow-bench-core-'));
  // Removed once the produce reference has read it, or at the bench's exit if the section fails first.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const barsFile = join(dir, 'bars.jsonl');
  const inproc = coreAlone(c, fromMs, toMs, barsFile);
  if (inproc.records !== n) throw new Error(`core-alone built ${inproc.records} records, the section ${n}`);

  // 2. Through Kafka, the real service.
  const kafka = benchKafka(c.kafkaBrokers, 'perpflow-bench-aligner');
  await ensureTopics(kafka, pipelineTopics());
  const group = uniqueName('bench-aligner');
  await parkGroupAtEnd(kafka, group, RAW_TOPICS);
  const rawBefore = await endOffsets(kafka, RAW_TOPICS);
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const p0 = performance.now();
  const byTopic = new Map<string, Message[]>();
  const at = Date.now();
  for (const r of records) {
    const topic = TOPICS.raw[r.feed];
    const list = byTopic.get(topic) ?? [];
    list.push(
      toMessage(r.record, {
        kind: FEED_RECORD_KIND[r.feed],
        producer: 'exchange-ingest',
        producedAtMs: at,
        source: 'backfill',
      }),
    );
    byTopic.set(topic, list);
  }
  for (const [topic, messages] of byTopic) await sendAll(producer, topic, messages, 2_000, 1);
  const prefillSeconds = (performance.now() - p0) / 1000;
  await producer.disconnect();

  const port = await freePort();
  const svcStart = performance.now();
  const aligner = await startService({
    name: 'bench-aligner',
    workspace: 'services/aligner',
    nodeArgs: serviceNodeArgs(c, 'aligner'),
    env: {
      KAFKA_BROKERS: c.kafkaBrokers,
      REDIS_URL: c.redisUrl,
      ALIGNER_GROUP_ID: group,
      METRICS_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    readyPort: port,
  });
  const readyAt = performance.now();
  // CPU from ready on: the service is idle until the first batch, so this is the work of the run.
  const cpuAtReady = cpuSecondsOf(aligner.child.pid!);
  const mem = new PeakMemory({ aligner: aligner.child.pid });
  let firstAt: number | null = null;
  let doneAt: number | null = null;
  let committed = 0n;
  const deadline = Date.now() + 120_000 + n;
  await withAdmin(kafka, async (admin) => {
    while (Date.now() < deadline) {
      const t = performance.now();
      if (firstAt === null && (await metricSum(aligner.metricsUrl!, 'perpflow_aligner_records_in_total')) > 0)
        firstAt = t;
      if (firstAt !== null) committed = await committedSince(admin, group, rawBefore);
      doneAt = t;
      if (committed >= BigInt(n)) return;
      await sleep(100);
    }
  });
  const complete = committed >= BigInt(n);
  const peaks = mem.stop();
  const cpuAtEnd = cpuSecondsOf(aligner.child.pid!);
  const serviceCpuSeconds = cpuAtReady !== null && cpuAtEnd !== null ? cpuAtEnd - cpuAtReady : null;
  const barsEmitted = await metricSum(aligner.metricsUrl!, 'perpflow_aligner_bars_emitted_total');
  const dlq = await metricSum(aligner.metricsUrl!, 'perpflow_dlq_records_total');
  await stopService(aligner);
  // Timed out: the rate of what was committed, said so in the note.
  const throughKafka =
    firstAt !== null && doneAt !== null && doneAt > firstAt
      ? Number(committed) / ((doneAt - firstAt) / 1000)
      : null;

  // 3. References on the same topics.
  const feeds = countByFeed(records);
  let javaConsumer: ReturnType<typeof parseConsumerPerf> = null;
  let javaError: string | null = null;
  try {
    javaConsumer = parseConsumerPerf(
      await kafkaTool('consumer-perf-test', [
        '--bootstrap-server',
        c.kafkaBrokers,
        '--topic',
        TOPICS.raw.ohlcv,
        '--messages',
        String(feeds.ohlcv),
        '--group',
        uniqueName('bench-java-consumer'),
        '--timeout',
        '60000',
      ]),
    );
  } catch (err) {
    javaError = (err as Error).message;
  }
  const kafkajsOnly = await kafkajsConsume(c, RAW_TOPICS, n);
  const produced = {
    ...(await produceBarsAlone(c, barsFile)),
    messages: inproc.messages,
    valueBytes: inproc.valueBytes,
  };
  removeDir();
  process.off('exit', removeDir);
  const alt = c.altClient ? await alternativeConsume(c.kafkaBrokers, RAW_TOPICS, n) : null;

  const javaRef = {
    name: 'kafka-consumer-perf-test (Java, fetch only)',
    value: javaConsumer?.fetchNMsgSec ?? null,
  };
  const figures: FigureInput[] = [
    {
      name: 'in-process: decode + quality + align',
      value: n / inproc.seconds,
      unit: 'records/s',
      note: `${n} records (${c.alignerSymbols} symbols × ${c.alignerMinutes} min, 4 feeds), ${inproc.bars} bars`,
    },
    {
      name: 'in-process, per CPU-second',
      value: n / inproc.cpuSeconds,
      unit: 'records/CPU-s',
      note: 'process.cpuUsage of src/core-alone.ts (a process of its own, the services’ node flags) around the same loop (GC threads included)',
    },
    {
      name: 'through Kafka: services/aligner process',
      value: throughKafka,
      unit: 'records/s',
      reference: javaRef,
      target: { op: '>=', value: 100_000 },
      note: complete
        ? 'first record consumed → every offset committed (log to Redis, produce, snapshot when due, commit per batch)'
        : `TIMED OUT: ${committed} of ${n} records committed; rate of those`,
    },
    {
      name: 'through Kafka, per aligner CPU-second',
      value: serviceCpuSeconds && complete ? Number(committed) / serviceCpuSeconds : null,
      unit: 'records/CPU-s',
      note: 'utime + stime of the aligner process from ready to the last commit (/proc/<pid>/stat)',
    },
    {
      name: 'kafkajs consume only (no processing)',
      value: kafkajsOnly,
      unit: 'records/s',
      reference: javaRef,
    },
  ];
  if (alt)
    figures.push({
      name: '@platformatic/kafka consume only (proposed client)',
      value: alt.error ? null : alt.recordsPerSec,
      unit: 'records/s',
      reference: javaRef,
      ...(alt.error ? { note: alt.error } : {}),
    });
  // CPU per record: the service's and the core's; the produce-alone cost per bar, times the
  // service's bars per record, is the part of the service's that the Kafka client's produce takes.
  const serviceCpuPerRecord = serviceCpuSeconds && complete ? serviceCpuSeconds / Number(committed) : null;
  const coreCpuPerRecord = inproc.cpuSeconds / n;
  const producePerBar = produced.kafkajs.cpuSeconds / produced.messages;
  const barsPerRecord = complete && committed > 0n ? barsEmitted / Number(committed) : null;
  const produceNote = `${produced.messages} bar messages of the in-process run (${Math.round(produced.valueBytes / produced.messages)} B JSON value, six headers), the aligner's chunks of ≤ ${MAX_SEND_BYTES / 1024} KiB, one request at a time, acks=all, idempotent; CPU of src/produce-alone.ts, a process of its own`;
  figures.push(
    {
      name: 'aligner CPU per record ÷ the core’s',
      value: serviceCpuPerRecord !== null ? serviceCpuPerRecord / coreCpuPerRecord : null,
      unit: 'ratio',
      target: { op: '<=', value: 1.5 },
      note: 'through Kafka per aligner CPU-second against in-process per CPU-second, same records',
    },
    {
      name: 'aligner bars produced alone (kafkajs, as the aligner sends them)',
      value: produced.messages / produced.kafkajs.cpuSeconds,
      unit: 'bars/CPU-s',
      note: produceNote,
    },
    {
      name: 'the produce alone, share of the aligner’s CPU per record',
      value:
        serviceCpuPerRecord !== null && barsPerRecord !== null
          ? (producePerBar * barsPerRecord) / serviceCpuPerRecord
          : null,
      unit: 'ratio',
      note: `kafkajs CPU per bar alone × ${barsPerRecord?.toFixed(3) ?? '?'} bars per record ÷ the aligner's CPU per record`,
    },
  );
  if (produced.alt)
    figures.push({
      name: 'aligner bars produced alone (@platformatic/kafka, proposed client)',
      value: produced.alt.error ? null : produced.messages / produced.alt.cpuSeconds,
      unit: 'bars/CPU-s',
      reference: { name: 'kafkajs, same messages', value: produced.messages / produced.kafkajs.cpuSeconds },
      note: produced.alt.error ?? 'the same messages and chunks, one request at a time, acks=all, idempotent',
    });
  // Live, records are few and the time rule decides how often the whole state is rewritten.
  const snapshotEveryMs = loadAlignerConfig({}).ALIGNER_SNAPSHOT_INTERVAL_MS;
  figures.push({
    name: 'the aligner state’s full snapshot, in-process (engine.snapshotJson, as bytes)',
    value: inproc.snapshotMs,
    unit: 'ms',
    note: `${(inproc.snapshotBytes / 1e6).toFixed(1)} MB of JSON, written a stream at a time, for ${c.alignerSymbols} symbols × ${c.alignerMinutes} min (the state keeps the revision horizon, a day); live, one every ALIGNER_SNAPSHOT_INTERVAL_MS = ${snapshotEveryMs / 60_000} min: ${((inproc.snapshotMs / 1000) * (3_600_000 / Math.max(1, snapshotEveryMs))).toFixed(1)} CPU-s an hour, Redis's own not counted`,
  });
  figures.push({
    name: 'aligner peak RSS (VmHWM)',
    value: peaks.aligner ?? null,
    unit: 'MiB',
    target: { op: '<=', value: 300 },
  });
  return {
    figures,
    details: {
      records: n,
      byFeed: feeds,
      symbols: c.alignerSymbols,
      minutes: c.alignerMinutes,
      inProcess: inproc,
      serviceCpuSeconds,
      prefillSeconds,
      prefillRecordsPerSec: n / prefillSeconds,
      serviceStartToReadySeconds: (readyAt - svcStart) / 1000,
      readyToFirstRecordSeconds: firstAt !== null ? (firstAt - readyAt) / 1000 : null,
      firstToCommittedSeconds: firstAt !== null && doneAt !== null ? (doneAt - firstAt) / 1000 : null,
      barsEmitted,
      deadLetters: dlq,
      peakRssMiB: peaks,
      javaConsumer,
      javaError,
      alternative: alt,
      produceAlone: produced,
      group,
    },
  };
}

/** kafkajs reading `count` messages of `topics` from the beginning, doing nothing with them. */
async function kafkajsConsume(c: BenchConfig, topics: string[], count: number): Promise<number | null> {
  const kafka = benchKafka(c.kafkaBrokers, 'perpflow-bench-kafkajs-consume');
  const consumer = kafka.consumer({
    groupId: uniqueName('bench-kafkajs'),
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let seen = 0;
  let t0 = 0;
  let t1 = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 120_000);
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (seen === 0) t0 = performance.now();
        seen += batch.messages.length;
        if (seen >= count && t1 === 0) {
          t1 = performance.now();
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return t1 > 0 ? count / ((t1 - t0) / 1000) : null;
}
