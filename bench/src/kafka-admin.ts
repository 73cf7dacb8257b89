import { createKafka, ensureTopics } from '@perpflow/kafka';
import { retry } from '@perpflow/runtime';
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import { setGroupOffsets } from '../../test/src/kafka-io.js';

export function benchKafka(brokers: string, clientId: string): Kafka {
  return createKafka({ clientId, brokers: brokers.split(',') });
}

export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates a topic and returns once every partition is served: kafkajs's waitForLeaders
 * does not retry the UNKNOWN_TOPIC_OR_PARTITION a KRaft broker answers for a moment (an
 * archiver section failed on it, 2026-12-07), ensureTopics does.
 */
export async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  await ensureTopics(kafka, [{ topic, numPartitions: partitions }]);
}

/** Next offset to be written, per partition. */
export async function endOffsets(
  kafka: Kafka,
  topics: readonly string[],
): Promise<Map<string, Map<number, bigint>>> {
  return withAdmin(kafka, async (a) => {
    const out = new Map<string, Map<number, bigint>>();
    // A topic created a moment ago may still be electing its leaders: retry.
    for (const t of topics)
      out.set(
        t,
        new Map(
          (
            await retry(
              async () => {
                // Fresh metadata each attempt: the cached leader may be the stale one.
                await a.fetchTopicMetadata({ topics: [t] });
                return a.fetchTopicOffsets(t);
              },
              { retries: 10, baseDelayMs: 300, shouldRetry: () => true },
            )
          ).map((p) => [p.partition, BigInt(p.high)]),
        ),
      );
    return out;
  });
}

export function totalOf(ends: Map<string, Map<number, bigint>>): bigint {
  let n = 0n;
  for (const parts of ends.values()) for (const v of parts.values()) n += v;
  return n;
}

/**
 * Commits a new group's offsets at the current end of each topic before anything
 * joins it: the service under test then reads only what the bench writes next,
 * whatever older data the topics hold.
 */
export async function parkGroupAtEnd(
  kafka: Kafka,
  groupId: string,
  topics: readonly string[],
): Promise<void> {
  const ends = await endOffsets(kafka, topics);
  // setGroupOffsets retries (on a fresh broker the offsets topic and its coordinator
  // appear on first use) and reads the offsets back: kafkajs's setOffsets can resolve
  // without a commit when the coordinator moves meanwhile.
  await withAdmin(kafka, async (a) => {
    for (const [topic, parts] of ends)
      await setGroupOffsets(
        a,
        groupId,
        topic,
        [...parts].map(([partition, offset]) => ({ partition, offset: offset.toString() })),
      );
  });
}

/** Messages the group has committed past, summed over `topics`, counted from `from`. */
export async function committedSince(
  admin: Admin,
  groupId: string,
  from: Map<string, Map<number, bigint>>,
): Promise<bigint> {
  const res = await admin.fetchOffsets({ groupId, topics: [...from.keys()] });
  let n = 0n;
  for (const t of res)
    for (const p of t.partitions) {
      const base = from.get(t.topic)?.get(p.partition) ?? 0n;
      const at = BigInt(p.offset);
      if (at > base) n += at - base;
    }
  return n;
}

/**
 * Polls what `groupId` committed since `from` every `everyMs`, calling `tick` at each poll,
 * until `total` messages are committed or `deadlineMs` (epoch ms) passes. Returns the last count.
 */
export async function pollCommitted(
  kafka: Kafka,
  groupId: string,
  from: Map<string, Map<number, bigint>>,
  total: bigint,
  options: { deadlineMs: number; everyMs: number; tick: () => Promise<void> },
): Promise<bigint> {
  return withAdmin(kafka, async (admin) => {
    let committed = 0n;
    while (Date.now() < options.deadlineMs) {
      committed = await committedSince(admin, groupId, from);
      await options.tick();
      if (committed >= total) break;
      await new Promise((r) => setTimeout(r, options.everyMs));
    }
    return committed;
  });
}

/** Sends `messages` in requests of at most `perRequest`, `concurrency` requests at a time. */
export async function sendAll(
  producer: Producer,
  topic: string,
  messages: readonly Message[],
  perRequest = 1_000,
  concurrency = 2,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next;
      next += perRequest;
      if (i >= messages.length) return;
      await producer.send({ topic, messages: messages.slice(i, i + perRequest) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
