/**
 * Archiver: records/s of the real services/archiver process (consume → Parquet objects,
 * manifests, day indexes on S3 → commit) over raw records of the four feeds written to
 * topics of its own beforehand, beside the rate at which the ingest producer path
 * published those same records in this section (the archiver must keep up with it).
 */
import { FEED_RECORD_KIND, type Feed } from '@perpflow/contracts';
import { createIdempotentProducer, toMessage } from '@perpflow/kafka';
import type { Message } from 'kafkajs';
import { freePort, metricSum, startService, stopService, uniqueName } from '../../../test/src/harness.js';
import { type BenchConfig, serviceNodeArgs } from '../config.js';
import { benchKafka, createTopic, endOffsets, pollCommitted, sendAll, totalOf } from '../kafka-admin.js';
import { rawRecords, recentDays, universe } from '../market-data.js';
import type { FigureInput } from '../report.js';
import { cpuSecondsOf, MemoryMaxima, PeakMemory } from '../system.js';
import { PARTITIONS, type SectionResult } from './publish.js';

export async function benchArchiver(c: BenchConfig): Promise<SectionResult> {
  const days = recentDays(1);
  const u = universe(c.archiverSymbols, days.fromMs);
  const records = rawRecords(u, days.fromMs, days.toMs);
  const n = records.length;
  const kafka = benchKafka(c.kafkaBrokers, 'perpflow-bench-archiver');
  const topics: Record<Feed, string> = {
    ohlcv: uniqueName('bench.arch-ohlcv'),
    open_interest: uniqueName('bench.arch-oi'),
    funding: uniqueName('bench.arch-funding'),
    liquidation: uniqueName('bench.arch-liq'),
  };
  const dlq = uniqueName('bench.arch-dlq');
  for (const t of [...Object.values(topics), dlq]) await createTopic(kafka, t, PARTITIONS);

  // Publish as ingest does (idempotent, acks=all, pages of 1000, 2 in flight): the rate to keep up with.
  const byFeed = new Map<Feed, Message[]>();
  const at = Date.now();
  for (const r of records) {
    const list = byFeed.get(r.feed) ?? [];
    list.push(
      toMessage(r.record, {
        kind: FEED_RECORD_KIND[r.feed],
        producer: 'exchange-ingest',
        producedAtMs: at,
        source: 'backfill',
      }),
    );
    byFeed.set(r.feed, list);
  }
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const p0 = performance.now();
  for (const [feed, messages] of byFeed) await sendAll(producer, topics[feed], messages, 1_000, 2);
  const publishSeconds = (performance.now() - p0) / 1000;
  await producer.disconnect();

  const group = uniqueName('bench-archiver');
  const port = await freePort();
  const prefix = `bench/${uniqueName('archiver')}`;
  const archiver = await startService({
    name: 'bench-archiver',
    workspace: 'services/archiver',
    nodeArgs: serviceNodeArgs(c, 'archiver'),
    env: {
      KAFKA_BROKERS: c.kafkaBrokers,
      S3_ENDPOINT: c.s3Endpoint,
      S3_BUCKET: c.s3Bucket,
      S3_PREFIX: prefix,
      ARCHIVER_GROUP_ID: group,
      ARCHIVER_FROM_BEGINNING: 'true',
      ARCHIVER_TOPICS: [...Object.entries(topics).map(([f, t]) => `${f}=${t}`), `dead_letter=${dlq}`].join(
        ',',
      ),
      // Every buffer is written within a second of its last record: the run ends when all is durable.
      ARCHIVER_MAX_OBJECT_AGE_MS: '1000',
      METRICS_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    readyPort: port,
  });
  const cpuAtReady = cpuSecondsOf(archiver.child.pid!);
  const mem = new PeakMemory({ archiver: archiver.child.pid });
  // The largest heap and external memory seen (the service's own metrics, every 100 ms).
  const memory = new MemoryMaxima(archiver.metricsUrl as string, metricSum);
  const zero = new Map([...Object.values(topics), dlq].map((t) => [t, new Map<number, bigint>()]));
  const total = totalOf(await endOffsets(kafka, [...Object.values(topics), dlq]));
  const t0 = performance.now();
  const committed = await pollCommitted(kafka, group, zero, total, {
    deadlineMs: Date.now() + 300_000,
    everyMs: 100,
    tick: () => memory.sample(),
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpuAtEnd = cpuSecondsOf(archiver.child.pid!);
  const peaks = mem.stop();
  await stopService(archiver);
  if (committed < total) throw new Error(`the archiver committed ${committed} of ${total} records in 300 s`);
  const archiveRate = n / seconds;
  const publishRate = n / publishSeconds;
  const figures: FigureInput[] = [
    {
      name: 'archiver: consume → Parquet + manifest + index on S3 → commit',
      value: archiveRate,
      unit: 'records/s',
      reference: { name: 'ingest producer path publishing the same records', value: publishRate },
      target: { op: '>=', value: 50_000 },
      note: `${n} records of ${c.archiverSymbols} symbols × 1 day (4 feeds), 12 partitions; objects rotated after 1 s`,
    },
    {
      name: 'archiver rate ÷ publish rate',
      value: archiveRate / publishRate,
      unit: 'ratio',
      target: { op: '>=', value: 1 },
    },
    {
      name: 'archiver, per CPU-second',
      value: cpuAtReady !== null && cpuAtEnd !== null ? n / (cpuAtEnd - cpuAtReady) : null,
      unit: 'records/CPU-s',
    },
    { name: 'archiver peak RSS', value: peaks.archiver ?? null, unit: 'MiB' },
  ];
  return {
    figures,
    details: {
      records: n,
      publishSeconds,
      seconds,
      topics,
      dlq,
      prefix,
      peakRssMiB: peaks.archiver,
      maxMiB: memory.maxMiB,
    },
  };
}
