/**
 * Publish: the ingest producer path (contract records → toMessage → idempotent
 * producer, acks=all, pages of 1000 as the backfill sends them) beside Apache
 * Kafka's kafka-producer-perf-test from the stack's jars, same record size.
 */
import { FEED_RECORD_KIND } from '@perpflow/contracts';
import { createIdempotentProducer, toMessage } from '@perpflow/kafka';
import type { Message } from 'kafkajs';
import { uniqueName } from '../../../test/src/harness.js';
import { alternativeProduce } from '../alt-client.js';
import type { BenchConfig } from '../config.js';
import { benchKafka, createTopic } from '../kafka-admin.js';
import { rawRecords, recentDays, universe } from '../market-data.js';
import type { FigureInput } from '../report.js';
import { kafkaTool } from '../system.js';

export const PARTITIONS = 12;
const PAGE = 1_000;

export interface SectionResult {
  figures: FigureInput[];
  details: Record<string, unknown>;
}

export function messageBytes(m: Message): number {
  let n = m.value ? Buffer.byteLength(m.value as string) : 0;
  n += m.key ? Buffer.byteLength(m.key as string) : 0;
  for (const [k, v] of Object.entries(m.headers ?? {}))
    n += k.length + (v ? Buffer.byteLength(String(v)) : 0);
  return n;
}

/** Parses `N records sent, X records/sec (Y MB/sec), ...` from kafka-producer-perf-test. */
export function parseProducerPerf(out: string): { recordsPerSec: number; mbPerSec: number } | null {
  const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(
    out.trim().split('\n').at(-1) ?? '',
  );
  return m ? { recordsPerSec: Number(m[2]), mbPerSec: Number(m[3]) } : null;
}

export async function benchPublish(c: BenchConfig): Promise<SectionResult> {
  const days = recentDays(1);
  const u = universe(Math.ceil(c.publishRecords / 1_440), days.fromMs);
  const candles = rawRecords(u, days.fromMs, days.toMs)
    .filter((r) => r.feed === 'ohlcv')
    .slice(0, c.publishRecords)
    .map((r) => r.record);
  const n = candles.length;
  const kafka = benchKafka(c.kafkaBrokers, 'perpflow-bench-publish');
  const topic = uniqueName('bench.publish');
  await createTopic(kafka, topic, PARTITIONS);

  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  // Warm-up: metadata, producer id, connections (not timed).
  await producer.send({
    topic,
    messages: candles.slice(0, 100).map((r) => toMessage(r, meta(Date.now()))),
  });
  let bytes = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next;
      next += PAGE;
      if (i >= n) return;
      // As KafkaRecordSink.publish: one producedAtMs per page, toMessage per record, one send per page.
      const producedAtMs = Date.now();
      const messages = candles.slice(i, i + PAGE).map((r) => toMessage(r, meta(producedAtMs)));
      for (const m of messages) bytes += messageBytes(m);
      await producer.send({ topic, messages });
    }
  };
  await Promise.all(Array.from({ length: c.publishConcurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await producer.disconnect();
  const recordSize = Math.round(bytes / n);
  const ours = { recordsPerSec: n / seconds, mbPerSec: bytes / seconds / 1_048_576 };

  const javaTopic = uniqueName('bench.publish-java');
  await createTopic(kafka, javaTopic, PARTITIONS);
  const props = [
    `bootstrap.servers=${c.kafkaBrokers}`,
    'acks=all',
    'enable.idempotence=true',
    'max.in.flight.requests.per.connection=1',
  ];
  let java: { recordsPerSec: number; mbPerSec: number } | null = null;
  let javaError: string | null = null;
  try {
    java = parseProducerPerf(
      await kafkaTool('producer-perf-test', [
        '--topic',
        javaTopic,
        '--num-records',
        String(n),
        '--record-size',
        String(recordSize),
        '--throughput',
        '-1',
        '--producer-props',
        ...props,
      ]),
    );
  } catch (err) {
    javaError = (err as Error).message;
  }

  let alt: { recordsPerSec: number; mbPerSec: number; error?: string } | null = null;
  if (c.altClient) {
    const altTopic = uniqueName('bench.publish-alt');
    await createTopic(kafka, altTopic, PARTITIONS);
    alt = await alternativeProduce(
      c.kafkaBrokers,
      altTopic,
      candles,
      (r, at) => toMessage(r, meta(at)),
      PAGE,
      c.publishConcurrency,
    );
  }

  const ref = (v: number | null | undefined) => ({
    name: 'kafka-producer-perf-test (Java, same jars)',
    value: v ?? null,
  });
  const figures: FigureInput[] = [
    {
      name: 'ingest producer path (kafkajs, idempotent, acks=all)',
      value: ours.recordsPerSec,
      unit: 'msgs/s',
      reference: ref(java?.recordsPerSec),
      note: `${n} candle records of ${recordSize} B (value+key+headers), pages of ${PAGE}, ${c.publishConcurrency} sends in flight`,
    },
    {
      name: 'ingest producer path, bytes',
      value: ours.mbPerSec,
      unit: 'MiB/s',
      reference: ref(java?.mbPerSec),
    },
  ];
  if (alt)
    figures.push({
      name: 'same path on @platformatic/kafka (proposed client)',
      value: alt.error ? null : alt.recordsPerSec,
      unit: 'msgs/s',
      reference: ref(java?.recordsPerSec),
      ...(alt.error ? { note: alt.error } : {}),
    });
  return {
    figures,
    details: {
      records: n,
      recordBytes: recordSize,
      seconds,
      ours,
      java,
      javaProducerProps: props,
      javaError,
      alternative: alt,
      topic,
    },
  };
}

function meta(producedAtMs: number) {
  return {
    kind: FEED_RECORD_KIND.ohlcv,
    producer: 'exchange-ingest',
    producedAtMs,
    source: 'backfill' as const,
  };
}
