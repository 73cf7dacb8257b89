/**
 * What the archiver's buffers cost in memory per record they hold: 200,000 valid candle records
 * (40 symbols, 500 a batch, the four headers ingest sets, the produce time one per batch)
 * handed to an ArchiverPipeline that never flushes, the heap and ArrayBuffers measured after
 * a full collection before and after; then the Parquet writer's memory after an object of
 * 4 and of 16 MiB (ARCHIVER_MAX_OBJECT_BYTES). Prints one JSON line.
 *
 * npm run bench:archiver-held (node --expose-gc: the collection makes the figures the live
 * memory, not what garbage happens to be left).
 */
import { encodeArchiveParquet, recordBytes, toArchiveRow } from '@perpflow/archive';
import { sampleCandle } from '@perpflow/contracts';
import { parquetWriterMemoryBytes } from '@perpflow/dataset';
import { createLogger } from '@perpflow/runtime';
import { createArchiverMetrics } from '../../services/archiver/src/metrics.js';
import { ArchiverPipeline } from '../../services/archiver/src/pipeline.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc (npm run bench:archiver-held)');
  process.exit(2);
}
const TOPIC = 'perpflow.raw.ohlcv.v1';
const T0 = 1_709_251_200_000;
const metrics = createArchiverMetrics();
const pipeline = new ArchiverPipeline({
  consumer: { commitOffsets: async () => undefined },
  store: { readLedger: async () => null, writeFlush: async () => undefined },
  metrics,
  logger: createLogger({ service: 'archiver-held', level: 'fatal' }),
  now: () => 0,
  options: {
    prefix: 'bench',
    feeds: new Map([[TOPIC, 'ohlcv']]),
    limits: { maxObjectBytes: 2 ** 40, maxObjectRecords: 1e9, maxObjectAgeMs: 1e12 },
    retryMaxDelayMs: 10,
    // Everything stays buffered: no rotation, no memory bound.
    maxBufferedBytes: Number.POSITIVE_INFINITY,
  },
});
const symbols = Array.from({ length: 40 }, (_, i) => `S${i}/USDT:USDT`);
const batches = 400;
const perBatch = 500;
gc();
const before = process.memoryUsage();
let offset = 0;
for (let b = 0; b < batches; b++) {
  const messages = [];
  for (let i = 0; i < perBatch; i++, offset++) {
    const symbol = symbols[offset % symbols.length] as string;
    // Each symbol's candles a minute apart: records that pass their contract, as ingest sends.
    const t = T0 + Math.floor(offset / symbols.length) * 60_000;
    const value = JSON.stringify(
      sampleCandle({ symbol, volume: offset, eventTimeMs: t, openTimeMs: t, receivedAtMs: t + 60_250 }),
    );
    messages.push({
      offset: String(offset),
      timestamp: String(T0 + offset),
      key: Buffer.from(`binanceusdm|${symbol}`),
      value: Buffer.from(value),
      headers: {
        'perpflow-schema': Buffer.from('candle/v1'),
        'perpflow-producer': Buffer.from('exchange-ingest'),
        'perpflow-produced-at-ms': Buffer.from(String(T0 + b)),
        'perpflow-source': Buffer.from('backfill'),
      },
    });
  }
  await pipeline.handleBatch({ topic: TOPIC, partition: 0, messages });
}
gc();
const after = process.memoryUsage();
const unparsed = (await metrics.recordsUnparsed.get()).values.reduce((n, v) => n + v.value, 0);
if (unparsed > 0)
  throw new Error(`${unparsed} records failed their contract: the figures would hold their errors`);
const heap = after.heapUsed - before.heapUsed;
const buffers = after.arrayBuffers - before.arrayBuffers;
const counted = pipeline.bufferedBytes();

/**
 * The Parquet writer's (parquet-wasm's) memory after encoding one object of `mib` MiB of
 * such records (recordBytes, what ARCHIVER_MAX_OBJECT_BYTES counts): it grows to what the
 * largest object needed and never shrinks, so the sizes go up.
 */
const wasmAfterObjectOf = (mib: number): number => {
  const rows = [];
  for (let o = 0, bytes = 0; bytes < mib * 1_048_576; o++) {
    const t = T0 + o * 60_000;
    const row = toArchiveRow('ohlcv', {
      topic: TOPIC,
      partition: 0,
      offset: String(o),
      kafkaTimestampMs: t,
      key: Buffer.from('binanceusdm|BTC/USDT:USDT'),
      value: Buffer.from(
        JSON.stringify(sampleCandle({ volume: o, eventTimeMs: t, openTimeMs: t, receivedAtMs: t + 60_250 })),
      ),
      headers: [{ name: 'perpflow-schema', value: Buffer.from('candle/v1') }],
    });
    bytes += recordBytes(row);
    rows.push(row);
  }
  encodeArchiveParquet(rows);
  return parquetWriterMemoryBytes() / 1_048_576;
};
const wasmMiB = { before: parquetWriterMemoryBytes() / 1_048_576, object4MiB: 0, object16MiB: 0 };
wasmMiB.object4MiB = wasmAfterObjectOf(4);
wasmMiB.object16MiB = wasmAfterObjectOf(16);
console.log(
  JSON.stringify({
    records: offset,
    countedMiB: counted / 1_048_576,
    heapMiB: heap / 1_048_576,
    arrayBuffersMiB: buffers / 1_048_576,
    bytesPerRecord: (heap + buffers) / offset,
    perCountedByte: (heap + buffers) / counted,
    wasmMiB,
  }),
);
