/**
 * The client proposed if kafkajs is the ceiling: @platformatic/kafka (pure JS, no
 * native addon), measured on the same paths in the bench only. The services keep kafkajs.
 */
import { Consumer, ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka';
import type { Message } from 'kafkajs';
import { uniqueName } from '../../test/src/harness.js';

export interface Throughput {
  recordsPerSec: number;
  mbPerSec: number;
  error?: string;
}

export async function alternativeProduce<R>(
  brokers: string,
  topic: string,
  records: readonly R[],
  toMessage: (r: R, producedAtMs: number) => Message,
  page: number,
  concurrency: number,
): Promise<Throughput> {
  const producer = new Producer({
    clientId: 'perpflow-bench-alt',
    bootstrapBrokers: brokers.split(','),
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  });
  try {
    let bytes = 0;
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      for (;;) {
        const i = next;
        next += page;
        if (i >= records.length) return;
        const at = Date.now();
        const messages = records.slice(i, i + page).map((r) => {
          const m = toMessage(r, at);
          const value = String(m.value);
          const key = String(m.key);
          const headers = new Map(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
          bytes += value.length + key.length;
          return { topic, key, value, headers };
        });
        await producer.send({ messages });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const s = (performance.now() - t0) / 1000;
    return { recordsPerSec: records.length / s, mbPerSec: bytes / s / 1_048_576 };
  } catch (err) {
    return { recordsPerSec: 0, mbPerSec: 0, error: `@platformatic/kafka: ${(err as Error).message}` };
  } finally {
    await producer.close().catch(() => undefined);
  }
}

/** CPU and wall time of a timed run of sends. */
export interface SendCost {
  seconds: number;
  cpuSeconds: number;
  error?: string;
}

/**
 * Sends `warm` (untimed), then `timed`, each chunk one request awaited before the next
 * (acks=all, idempotent), with @platformatic/kafka: the aligner's publish path on the other client.
 */
export async function alternativeSend(
  brokers: string,
  topic: string,
  warm: readonly Message[][],
  timed: readonly Message[][],
): Promise<SendCost> {
  const producer = new Producer({
    clientId: 'perpflow-bench-alt-send',
    bootstrapBrokers: brokers.split(','),
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  });
  const convert = (chunk: readonly Message[]) =>
    chunk.map((m) => ({
      topic,
      key: String(m.key),
      value: String(m.value),
      headers: new Map(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])),
    }));
  try {
    for (const chunk of warm) await producer.send({ messages: convert(chunk) });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const chunk of timed) await producer.send({ messages: convert(chunk) });
    const cpu = process.cpuUsage(c0);
    return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } catch (err) {
    return { seconds: 0, cpuSeconds: 0, error: `@platformatic/kafka: ${(err as Error).message}` };
  } finally {
    await producer.close().catch(() => undefined);
  }
}

/** Reads `count` messages of `topics` from the earliest offset with @platformatic/kafka; no processing. */
export async function alternativeConsume(
  brokers: string,
  topics: string[],
  count: number,
): Promise<Throughput> {
  const consumer = new Consumer({
    clientId: 'perpflow-bench-alt',
    groupId: uniqueName('bench-alt'),
    bootstrapBrokers: brokers.split(','),
  });
  try {
    const stream = await consumer.consume({ topics, mode: 'earliest', autocommit: false, maxWaitTime: 200 });
    let n = 0;
    let bytes = 0;
    let t0 = 0;
    for await (const m of stream) {
      if (n === 0) t0 = performance.now();
      n++;
      bytes += (m.value as Buffer | undefined)?.length ?? 0;
      if (n >= count) break;
    }
    const s = (performance.now() - t0) / 1000;
    await stream.close();
    return { recordsPerSec: n / s, mbPerSec: bytes / s / 1_048_576 };
  } catch (err) {
    return { recordsPerSec: 0, mbPerSec: 0, error: `@platformatic/kafka: ${(err as Error).message}` };
  } finally {
    await consumer.close(true).catch(() => undefined);
  }
}
