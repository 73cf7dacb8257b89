import { streamKey } from '@perpflow/contracts';
import { createKafka, ensureTopics, pipelineTopics } from '@perpflow/kafka';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { STACK, uniqueName } from './harness.js';

export function testKafka(): Kafka {
  return new Kafka({
    clientId: uniqueName('test'),
    brokers: STACK.kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
  });
}

export async function ensurePipelineTopics(): Promise<void> {
  await ensureTopics(
    createKafka({ clientId: 'perpflow-test-admin', brokers: STACK.kafkaBrokers.split(',') }),
    pipelineTopics(),
  );
}

/** Produces raw values (objects are JSON-encoded; strings/Buffers go as they are) with the stream key. */
export async function produceRaw(
  kafka: Kafka,
  topic: string,
  items: { exchange: string; symbol: string; value: unknown }[],
): Promise<void> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: items.map((i) => ({
        key: streamKey(i.exchange, i.symbol),
        value: typeof i.value === 'string' || Buffer.isBuffer(i.value) ? i.value : JSON.stringify(i.value),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** Reads every message of a topic whose key matches, from the beginning up to the current end. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  keyFilter: (key: string) => boolean,
): Promise<{ key: string; value: Buffer; offset: string; partition: number }[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  const out: { key: string; value: Buffer; offset: string; partition: number }[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 200 });
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
              out.push({ key, value: m.value, offset: m.offset, partition: batch.partition });
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
