/**
 * Windower: rows/s of the windower's Parquet encoder (@perpflow/dataset, parquet-wasm
 * + apache-arrow, ZSTD) to memory, one file per (symbol, UTC day) as the windower
 * writes them, and through S3 PUTs to the stack's S3 server; beside DuckDB (COPY …
 * TO parquet, ZSTD) and parquetjs-lite (the baseline) writing the same rows to one
 * file each; file sizes.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type AlignedBar, decodeRecord, streamKey } from '@perpflow/contracts';
import {
  ALIGNED_BAR_COLUMNS,
  type ColumnSpec,
  encodeBarsToParquet,
  encodeBarsToParquetStream,
  objectKey,
  parquetWriterMemoryBytes,
  WindowBook,
} from '@perpflow/dataset';
import { DuckDBInstance } from '@duckdb/node-api';
import parquet from 'parquetjs-lite';
import { freePort, metricSum, startService, stopService, uniqueName } from '../../../test/src/harness.js';
import { type BenchConfig, serviceNodeArgs } from '../config.js';
import { benchKafka, createTopic, endOffsets, pollCommitted, sendAll, withAdmin } from '../kafka-admin.js';
import { alignedBars, DAY_MS, recentDays, universe } from '../market-data.js';
import type { FigureInput } from '../report.js';
import { ensureTopics, pipelineTopics } from '@perpflow/kafka';
import { cpuSecondsOf, MemoryMaxima, PeakMemory, selfCpuSeconds } from '../system.js';
import type { SectionResult } from './publish.js';

const S3_CONCURRENCY = 4;
/**
 * Windows encoded before the timed pass. V8 first runs parquet-wasm's code unoptimized
 * and compiles its hot functions while the first ~100–200 files are written (≈ 1
 * CPU-second once per process, 5–10× slower files meanwhile); the windower is a
 * long-running process, so the target is measured after it. The warm-up is reported.
 */
const WARMUP_WINDOWS = 200;

export async function benchWindower(c: BenchConfig): Promise<SectionResult> {
  const { fromMs, toMs } = recentDays(c.windowerDays);
  const u = universe(c.windowerSymbols, fromMs - DAY_MS);
  // One window = one symbol-day, as the windower writes 1m bars.
  const windows: AlignedBar[][] = [];
  for (const series of alignedBars(u, fromMs, toMs))
    for (let d = fromMs; d < toMs; d += DAY_MS)
      windows.push(series.filter((b) => b.eventTimeMs >= d && b.eventTimeMs < d + DAY_MS));
  const all = windows.flat();
  const rows = all.length;
  const dir = join(tmpdir(), uniqueName('perpflow-bench-parquet'));
  mkdirSync(dir, { recursive: true });
  try {
    // Ours, per window, in memory: the first windows of a fresh process, then all of them.
    const warmup = windows.slice(0, Math.min(WARMUP_WINDOWS, windows.length));
    const warmupRows = warmup.reduce((n, w) => n + w.length, 0);
    const warmCpu0 = selfCpuSeconds();
    let t0 = performance.now();
    for (const w of warmup) encodeBarsToParquet(w);
    const warmupSeconds = (performance.now() - t0) / 1000;
    const warmupCpuSeconds = selfCpuSeconds() - warmCpu0;
    let bytesPerWindow = 0;
    const cpu0 = selfCpuSeconds();
    t0 = performance.now();
    for (const w of windows) bytesPerWindow += encodeBarsToParquet(w).byteLength;
    const perWindowSeconds = (performance.now() - t0) / 1000;
    const perWindowCpuSeconds = selfCpuSeconds() - cpu0;

    // Ours, one file of every row (the same file the references write): streamed one
    // row group at a time first, then whole (wasm memory never shrinks, so this order
    // shows what each needs).
    const streamCpu0 = selfCpuSeconds();
    t0 = performance.now();
    let streamedBytes = 0;
    for await (const part of await encodeBarsToParquetStream(all)) streamedBytes += part.byteLength;
    const streamedSeconds = (performance.now() - t0) / 1000;
    const streamedCpuSeconds = selfCpuSeconds() - streamCpu0;
    const wasmAfterStreamed = parquetWriterMemoryBytes();
    const oneCpu0 = selfCpuSeconds();
    t0 = performance.now();
    const oneFile = encodeBarsToParquet(all);
    const oneFileSeconds = (performance.now() - t0) / 1000;
    const oneFileCpuSeconds = selfCpuSeconds() - oneCpu0;
    const wasmAfterOneFile = parquetWriterMemoryBytes();

    // Ours to S3: encode + PUT per window, a few PUTs in flight.
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: c.s3Endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const prefix = `bench/${uniqueName('windower')}`;
    let next = 0;
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: S3_CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          const w = windows[i];
          if (!w) return;
          const first = w[0]!;
          const key = objectKey(prefix, {
            timeframe: first.timeframe,
            exchange: first.exchange,
            symbol: first.symbol,
            unit: 'day',
            startMs: Math.floor(first.eventTimeMs / DAY_MS) * DAY_MS,
          });
          await s3.send(new PutObjectCommand({ Bucket: c.s3Bucket, Key: key, Body: encodeBarsToParquet(w) }));
        }
      }),
    );
    const s3Seconds = (performance.now() - t0) / 1000;
    s3.destroy();

    const held = windowBookMemory(all);
    const service = await windowerHoldingOpenWindows(c, all);

    const duck = await duckdbWrite(all, join(dir, 'duckdb.parquet'));
    const baselineRows = all.slice(0, Math.min(rows, c.baselineRows));
    const lite = await parquetjsLiteWrite(baselineRows, join(dir, 'parquetjs-lite.parquet'));

    const duckRef = { name: 'DuckDB COPY to Parquet (ZSTD), one file', value: rows / duck.seconds };
    const liteRef = { name: 'parquetjs-lite (SNAPPY), baseline', value: lite.rows / lite.seconds };
    const figures: FigureInput[] = [
      {
        name: 'dataset encoder, one file per symbol-day',
        value: rows / perWindowSeconds,
        unit: 'rows/s',
        reference: duckRef,
        target: { op: '>=', value: 300_000 },
        note: `${windows.length} windows of ≤ 1440 rows, after ${warmup.length} warm-up windows`,
      },
      {
        name: 'dataset encoder, per symbol-day, per CPU-second',
        value: rows / perWindowCpuSeconds,
        unit: 'rows/CPU-s',
        note: 'steadier than wall time on a loaded machine',
      },
      {
        name: `dataset encoder, first ${warmup.length} symbol-days of a process`,
        value: warmupRows / warmupCpuSeconds,
        unit: 'rows/CPU-s',
        note: `${warmupSeconds.toFixed(2)} s wall, ${warmupCpuSeconds.toFixed(2)} CPU-s: V8 compiles parquet-wasm meanwhile`,
      },
      {
        name: 'dataset encoder, one file of all rows',
        value: rows / oneFileSeconds,
        unit: 'rows/s',
        reference: duckRef,
      },
      {
        name: 'dataset encoder, one file of all rows, per CPU-second',
        value: rows / oneFileCpuSeconds,
        unit: 'rows/CPU-s',
      },
      {
        name: 'dataset encoder, one file streamed in row groups',
        value: rows / streamedSeconds,
        unit: 'rows/s',
        reference: duckRef,
        note: 'encodeBarsToParquetStream, 131,072 rows per row group',
      },
      {
        name: 'dataset encoder, one file streamed, per CPU-second',
        value: rows / streamedCpuSeconds,
        unit: 'rows/CPU-s',
      },
      {
        name: 'Parquet writer wasm memory after the streamed file',
        value: wasmAfterStreamed / 1_048_576,
        unit: 'MiB',
        note: 'after the per-window files and the streamed file',
      },
      {
        name: 'Parquet writer wasm memory after the whole file',
        value: wasmAfterOneFile / 1_048_576,
        unit: 'MiB',
        note: 'wasm memory grows to the largest file and never shrinks',
      },
      {
        name: 'dataset encoder vs baseline, one file',
        value: rows / oneFileSeconds,
        unit: 'rows/s',
        reference: liteRef,
      },
      {
        name: 'dataset encoder + S3 PUT per symbol-day',
        value: rows / s3Seconds,
        unit: 'rows/s',
        reference: duckRef,
        note: `${S3_CONCURRENCY} PUTs in flight to ${c.s3Endpoint}`,
      },
      {
        name: 'file size, one file of all rows',
        value: oneFile.byteLength / rows,
        unit: 'B/row',
        reference: { name: 'DuckDB', value: duck.bytes / rows },
      },
      {
        name: 'file size, one file streamed in row groups',
        value: streamedBytes / rows,
        unit: 'B/row',
        reference: { name: 'DuckDB', value: duck.bytes / rows },
      },
      {
        name: 'window book, rows held in open windows',
        value: held.bookBytes / rows,
        unit: 'B/row',
        reference: {
          name: 'the same bars as decoded objects (what the book held before)',
          value: held.objectBytes / rows,
        },
        note: `heap + ArrayBuffers after a full collection, ${rows} rows in ${windows.length} open windows: ${(held.bookBytes / 1_048_576).toFixed(1)} MiB (objects ${(held.objectBytes / 1_048_576).toFixed(1)}); a UTC day of 500 symbols is 720,000 rows`,
      },
      {
        name: 'windower service holding the rows in open windows, peak RSS',
        value: service.peakRssMiB,
        unit: 'MiB',
        target: { op: '<=', value: 300 },
        note: service.complete
          ? `${rows} bars of ${c.windowerSymbols} symbols × ${c.windowerDays} day(s) through Kafka, every offset committed in ${service.seconds.toFixed(1)} s (${service.cpuSeconds?.toFixed(1) ?? '?'} CPU-s); ${service.rowsHeld} rows in ${service.windowsOpen} open windows at the end (the last day's: the watermark is its end, short of end + the 2 min lateness)`
          : `timed out: ${service.committed} of ${rows} bars committed`,
      },
      {
        name: 'file size, per symbol-day files',
        value: bytesPerWindow / rows,
        unit: 'B/row',
        reference: { name: 'parquetjs-lite (one file)', value: lite.bytes / lite.rows },
      },
    ];
    return {
      figures,
      details: {
        rows,
        windows: windows.length,
        warmup: {
          windows: warmup.length,
          rows: warmupRows,
          seconds: warmupSeconds,
          cpuSeconds: warmupCpuSeconds,
        },
        perWindow: { seconds: perWindowSeconds, cpuSeconds: perWindowCpuSeconds, bytes: bytesPerWindow },
        oneFile: { seconds: oneFileSeconds, cpuSeconds: oneFileCpuSeconds, bytes: oneFile.byteLength },
        streamed: { seconds: streamedSeconds, cpuSeconds: streamedCpuSeconds, bytes: streamedBytes },
        wasmMemoryBytes: { afterStreamed: wasmAfterStreamed, afterOneFile: wasmAfterOneFile },
        s3: { seconds: s3Seconds, concurrency: S3_CONCURRENCY, prefix },
        duckdb: duck,
        parquetjsLite: lite,
        windowBook: held,
        windowerService: service,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The windower service (from its build, as the image runs it) consuming `bars` from a
 * topic of its own into a prefix of its own, with its defaults (10 s flush interval,
 * 2 min lateness): the windows of the last day stay open, as a live windower's windows of
 * the current UTC day do until it ends. Peak RSS (VmHWM) from ready to every offset
 * committed.
 */
async function windowerHoldingOpenWindows(c: BenchConfig, bars: readonly AlignedBar[]) {
  const kafka = benchKafka(c.kafkaBrokers, 'perpflow-bench-windower-service');
  await ensureTopics(kafka, pipelineTopics());
  const topic = uniqueName('bench.windower-open');
  await createTopic(kafka, topic, 12);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await sendAll(
    producer,
    topic,
    bars.map((b) => ({ key: streamKey(b.exchange, b.symbol), value: JSON.stringify(b) })),
    2_000,
    2,
  );
  await producer.disconnect();
  const from = new Map([[topic, new Map([...Array(12).keys()].map((p) => [p, 0n]))]]);
  const produced = (await endOffsets(kafka, [topic])).get(topic);
  const total = [...(produced?.values() ?? [])].reduce((n, v) => n + v, 0n);
  if (total !== BigInt(bars.length)) throw new Error(`produced ${total} of ${bars.length} bars`);
  const port = await freePort();
  const group = uniqueName('bench-windower-open');
  const windower = await startService({
    name: 'bench-windower-open',
    workspace: 'services/windower',
    nodeArgs: serviceNodeArgs(c, 'windower-open'),
    env: {
      KAFKA_BROKERS: c.kafkaBrokers,
      REDIS_URL: c.redisUrl,
      S3_ENDPOINT: c.s3Endpoint,
      S3_BUCKET: c.s3Bucket,
      S3_PREFIX: `bench/${uniqueName('windower-open')}`,
      WINDOWER_TOPIC: topic,
      WINDOWER_GROUP_ID: group,
      METRICS_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    readyPort: port,
  });
  const mem = new PeakMemory({ windower: windower.child.pid });
  const cpuAtReady = cpuSecondsOf(windower.child.pid as number);
  const t0 = performance.now();
  // The largest of each part of its memory seen (the service's own metrics, every 250 ms).
  const memory = new MemoryMaxima(windower.metricsUrl as string, metricSum);
  try {
    const committed = await pollCommitted(kafka, group, from, total, {
      deadlineMs: Date.now() + 180_000 + bars.length / 2,
      everyMs: 250,
      tick: () => memory.sample(),
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpuAtEnd = cpuSecondsOf(windower.child.pid as number);
    const cpuSeconds = cpuAtReady !== null && cpuAtEnd !== null ? cpuAtEnd - cpuAtReady : null;
    const url = windower.metricsUrl as string;
    const windowsOpen = await metricSum(url, 'perpflow_windower_windows_open');
    const rowsHeld = await metricSum(url, 'perpflow_windower_buffered_rows');
    const peakRssMiB = mem.stop().windower ?? null;
    return {
      complete: committed >= total,
      committed: Number(committed),
      seconds,
      cpuSeconds,
      windowsOpen,
      rowsHeld,
      peakRssMiB,
      maxMiB: memory.maxMiB,
      topic,
    };
  } finally {
    mem.stop();
    await stopService(windower);
    await withAdmin(kafka, (a) => a.deleteTopics({ topics: [topic] })).catch(() => undefined);
  }
}

/**
 * Bytes a WindowBook holds for `bars` in open windows (no watermark: none closes), each
 * bar decoded from its JSON as the windower decodes a message, beside the same decoded
 * objects held in an array: heap used plus ArrayBuffers, after full collections.
 */
function windowBookMemory(bars: readonly AlignedBar[]): { bookBytes: number; objectBytes: number } {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const decoded = (b: AlignedBar): AlignedBar => {
    const d = decodeRecord('aligned_bar', Buffer.from(JSON.stringify(b)));
    if (!d.ok) throw new Error(`bench bar broke the contract: ${d.error.message}`);
    return d.value as AlignedBar;
  };
  // `size` reads what `build` made after the collections, so that it is still alive then.
  const held = <T>(build: () => T, size: (kept: T) => number): number => {
    gc();
    gc();
    const m0 = process.memoryUsage();
    const kept = build();
    gc();
    gc();
    const m1 = process.memoryUsage();
    const n = size(kept);
    if (n !== bars.length) throw new Error(`held ${n} of ${bars.length} bars`);
    return m1.heapUsed - m0.heapUsed + (m1.arrayBuffers - m0.arrayBuffers);
  };
  const bookBytes = held(
    () => {
      const book = new WindowBook({ flushIntervalMs: 10_000, allowedLatenessMs: 120_000 });
      bars.forEach((b, i) => {
        book.add(decoded(b), { topic: 'bench', partition: 0, offset: String(i) }, 0, null);
      });
      return book;
    },
    (book) => book.stats().rows,
  );
  const objectBytes = held(
    () => bars.map(decoded),
    (objects) => objects.length,
  );
  return { bookBytes, objectBytes };
}

const DUCK_TYPES: Record<ColumnSpec['kind'], string> = {
  utf8: 'VARCHAR',
  timestamp_ms: 'BIGINT',
  float64: 'DOUBLE',
  int32: 'INTEGER',
  bool: 'BOOLEAN',
};

/** DuckDB from the same JS rows: appender into a table, then COPY … ORDER BY ts TO Parquet (ZSTD). */
async function duckdbWrite(bars: readonly AlignedBar[], file: string) {
  const t0 = performance.now();
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const cols = ALIGNED_BAR_COLUMNS;
  await con.run(`CREATE TABLE bars (${cols.map((c) => `${c.name} ${DUCK_TYPES[c.kind]}`).join(', ')})`);
  const app = await con.createAppender('bars');
  for (const b of bars) {
    for (const col of cols) {
      const v = b[col.field];
      if (v === null || v === undefined) app.appendNull();
      else if (col.kind === 'utf8') app.appendVarchar(v as string);
      else if (col.kind === 'timestamp_ms') app.appendBigInt(BigInt(v as number));
      else if (col.kind === 'float64') app.appendDouble(v as number);
      else if (col.kind === 'int32') app.appendInteger(v as number);
      else app.appendBoolean(v as boolean);
    }
    app.endRow();
  }
  app.closeSync();
  const select = cols
    .map((c) => (c.kind === 'timestamp_ms' ? `epoch_ms(${c.name}) AS ${c.name}` : c.name))
    .join(', ');
  await con.run(
    `COPY (SELECT ${select} FROM bars ORDER BY ts) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`,
  );
  con.closeSync();
  db.closeSync();
  return { seconds: (performance.now() - t0) / 1000, bytes: statSync(file).size };
}

const LITE_TYPES: Record<ColumnSpec['kind'], string> = {
  utf8: 'UTF8',
  timestamp_ms: 'TIMESTAMP_MILLIS',
  float64: 'DOUBLE',
  int32: 'INT32',
  bool: 'BOOLEAN',
};

async function parquetjsLiteWrite(bars: readonly AlignedBar[], file: string) {
  const t0 = performance.now();
  const schema = new parquet.ParquetSchema(
    Object.fromEntries(
      ALIGNED_BAR_COLUMNS.map((c) => [
        c.name,
        { type: LITE_TYPES[c.kind], optional: c.nullable, compression: 'SNAPPY' },
      ]),
    ),
  );
  const writer = await parquet.ParquetWriter.openFile(schema, file);
  for (const b of bars) {
    const row: Record<string, unknown> = {};
    for (const c of ALIGNED_BAR_COLUMNS) {
      const v = b[c.field];
      if (v !== null) row[c.name] = c.kind === 'timestamp_ms' ? new Date(v as number) : v;
    }
    await writer.appendRow(row);
  }
  await writer.close();
  return { rows: bars.length, seconds: (performance.now() - t0) / 1000, bytes: statSync(file).size };
}
