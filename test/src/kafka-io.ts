import { streamKey } from '@perpflow/contracts';
import {
  createKafka,
  dropKafkajsTimeoutWarning,
  ensureTopics,
  headersToStrings,
  pipelineTopics,
} from '@perpflow/kafka';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { STACK, TOPICS, uniqueName } from './harness.js';

export function testKafka(): Kafka {
  dropKafkajsTimeoutWarning();
  return new Kafka({
    clientId: uniqueName('test'),
    brokers: STACK.kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
  });
}

export async function ensurePipelineTopics(): Promise<void> {
  await ensureTopics(
    createKafka({ clientId: 'perpflow-test-admin', brokers: STACK.kafkaBrokers.split(',') }),
    pipelineTopics(TOPICS),
  );
}

/** An idempotent producer (one request in flight: sends keep their order) for the length of `work`. */
export async function withProducer<T>(kafka: Kafka, work: (producer: Producer) => Promise<T>): Promise<T> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    return await work(producer);
  } finally {
    await producer.disconnect();
  }
}

/** Produces raw values (objects are JSON-encoded; strings/Buffers go as they are) with the stream key. */
export async function produceRaw(
  kafka: Kafka,
  topic: string,
  items: { exchange: string; symbol: string; value: unknown; headers?: Record<string, string> }[],
): Promise<void> {
  await withProducer(kafka, (producer) =>
    producer.send({
      topic,
      messages: items.map((i) => ({
        key: streamKey(i.exchange, i.symbol),
        value: typeof i.value === 'string' || Buffer.isBuffer(i.value) ? i.value : JSON.stringify(i.value),
        ...(i.headers ? { headers: i.headers } : {}),
      })),
    }),
  );
}

/**
 * Reads every message of a topic whose key matches, from the beginning (or from `from`:
 * partition → offset, e.g. the ends recorded when a test started) up to the current end.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  keyFilter: (key: string) => boolean,
  from?: Map<number, string>,
): Promise<
  { key: string; value: Buffer; offset: string; partition: number; headers: Record<string, string> }[]
> {
  const groupId = uniqueName('reader');
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  if (from)
    await admin.setOffsets({
      groupId,
      topic,
      partitions: [...from].map(([partition, offset]) => ({ partition, offset })),
    });
  await admin.disconnect();
  const remaining = new Map(
    ends
      .filter((e) => BigInt(e.high) > BigInt(from?.get(e.partition) ?? e.low))
      .map((e) => [e.partition, BigInt(e.high)]),
  );
  const out: {
    key: string;
    value: Buffer;
    offset: string;
    partition: number;
    headers: Record<string, string>;
  }[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 60_000);
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const key = m.key?.toString() ?? '';
            if (keyFilter(key) && m.value)
              out.push({
                key,
                value: m.value,
                offset: m.offset,
                partition: batch.partition,
                headers: headersToStrings(m.headers),
              });
          }
          const end = remaining.get(batch.partition);
          if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

/** Creates a topic of the test's own (name from uniqueName), so a suite reads only what it produced. */
export async function createTestTopic(kafka: Kafka, topic: string, numPartitions = 1): Promise<void> {
  await ensureTopics(kafka, [{ topic, numPartitions }]);
}

export async function deleteTestTopics(kafka: Kafka, topics: string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
