import { streamKey } from '@perpflow/contracts';
import {
  createKafka,
  dropKafkajsTimeoutWarning,
  ensureTopics,
  headersToStrings,
  pipelineTopics,
} from '@perpflow/kafka';
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { STACK, sleep, TOPICS, uniqueName, waitFor } from './harness.js';

export function testKafka(): Kafka {
  dropKafkajsTimeoutWarning();
  return new Kafka({
    clientId: uniqueName('test'),
    brokers: STACK.kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
  });
}

/**
 * This file's pipeline topics (63 partitions), created and served. Bound: 180 s, not
 * ensureTopics' 60 s. When the end-to-end step starts, five files and the two fault files
 * create ~440 partitions at once beside two starting brokers; a fresh CI (cc9028f, run
 * queue 140–180 on 2 cores) saw the broker take 35 s to create the logs of one file's
 * topics (18.6 s for one partition's), and two files gave up 3–5 s before their topics
 * were served, at 66 s.
 */
export async function ensurePipelineTopics(): Promise<void> {
  await ensureTopics(
    createKafka({ clientId: 'perpflow-test-admin', brokers: STACK.kafkaBrokers.split(',') }),
    pipelineTopics(TOPICS),
    1,
    180_000,
  );
}

/**
 * Commits `partitions` as the offsets of `groupId` (a group with no members) on `topic`,
 * then reads them back until the broker answers with exactly those.
 *
 * kafkajs's `admin.setOffsets` commits from a short-lived consumer and can resolve without
 * a commit: seen when a CPU-starved broker missed its controller heartbeats, was fenced and
 * resigned as group coordinator while that consumer was in the group. The group then had
 * no offset on that topic, the aligner under test started at the log end, and the test
 * waited for offsets that nothing would commit (CI of 6862cdb, aligner-catch-up).
 */
export async function setGroupOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
  partitions: { partition: number; offset: string }[],
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const want = new Map(partitions.map((p) => [p.partition, BigInt(p.offset)]));
  let problem = '';
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.setOffsets({ groupId, topic, partitions });
      const [got] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const wrong = (got?.partitions ?? [])
        .filter((p) => want.has(p.partition) && BigInt(p.offset) !== want.get(p.partition))
        .map((p) => `partition ${p.partition} at ${p.offset}, not ${want.get(p.partition)}`);
      if (wrong.length === 0 && (got?.partitions.length ?? 0) >= want.size) return;
      problem = wrong.length > 0 ? wrong.join(', ') : `${got?.partitions.length ?? 0} partitions answered`;
    } catch (err) {
      problem = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(
        `group ${groupId} did not take its offsets on ${topic} in ${attempt} attempts (${timeoutMs} ms): ${problem}`,
      );
    await sleep(Math.min(2_000, 250 * attempt));
  }
}

/** End offset of every partition of `topics`, keyed `topic/partition`. */
export async function topicEndOffsets(admin: Admin, topics: readonly string[]): Promise<Map<string, bigint>> {
  const ends = new Map<string, bigint>();
  for (const topic of topics)
    for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${p.partition}`, BigInt(p.high));
  return ends;
}

/** The offsets `groupId` has committed on `topics`, keyed `topic/partition` (-1: none). */
async function committedOffsets(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<Map<string, bigint>> {
  const committed = new Map<string, bigint>();
  for (const t of await admin.fetchOffsets({ groupId, topics: [...topics] }))
    for (const p of t.partitions) committed.set(`${t.topic}/${p.partition}`, BigInt(p.offset));
  return committed;
}

/**
 * Commits the log end of every partition of `topics` as the offsets of each of `groupIds`,
 * before any member of those groups runs. A consumer that joins one of them later starts
 * exactly there, however long its join and first fetch take, so it sees every record
 * produced after this returns and none produced before. Replaces "let the group settle at
 * the log end" sleeps: a new group without offsets starts at the end it finds at its first
 * fetch (kafkajs resolves offsets then), which a busy machine can delay past the sleep.
 *
 * A short-lived member of each group commits the ends and leaves (~0.3 s); kafkajs's
 * `admin.setOffsets` takes one topic a call and ~5 s each (its paused consumer waits a
 * fetch interval). The offsets are read back, and setGroupOffsets (which retries) redoes
 * a topic the broker did not take. Returns the ends, keyed `topic/partition`.
 */
export async function startGroupsAtLogEnd(
  kafka: Kafka,
  groupIds: readonly string[],
  topics: readonly string[],
): Promise<Map<string, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map<string, bigint>();
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const topic of topics) {
      const partitions = (await admin.fetchTopicOffsets(topic)).map((p) => ({
        partition: p.partition,
        offset: p.high,
      }));
      byTopic.set(topic, partitions);
      for (const p of partitions) ends.set(`${topic}/${p.partition}`, BigInt(p.offset));
    }
    await Promise.all(
      groupIds.map(async (groupId) => {
        const member = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
        try {
          await member.connect();
          await member.subscribe({ topics: [...topics], fromBeginning: false });
          const joined = new Promise((resolve) => member.on(member.events.GROUP_JOIN, resolve));
          await member.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
          // kafkajs retries a failed join inside run(): the wait is bounded.
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('not joined in 60 s')), 60_000);
          });
          await Promise.race([joined, late]).finally(() => clearTimeout(timer));
          member.pause(topics.map((topic) => ({ topic })));
          await member.commitOffsets([...byTopic].flatMap(([topic, ps]) => ps.map((p) => ({ topic, ...p }))));
        } catch {
          // A join or commit that failed (a rebalance, a coordinator moving) is redone below:
          // the offsets read back decide, and setGroupOffsets retries with its own bound.
        } finally {
          await member.disconnect().catch(() => undefined);
        }
        const got = await committedOffsets(admin, groupId, topics);
        for (const [topic, partitions] of byTopic)
          if (partitions.some((p) => got.get(`${topic}/${p.partition}`) !== BigInt(p.offset)))
            await setGroupOffsets(admin, groupId, topic, partitions);
      }),
    );
    return ends;
  } finally {
    await admin.disconnect();
  }
}

/**
 * The partitions of `topics` where `groupId` has not yet committed the end: those that got
 * records after `since` (ends taken before the records were produced) and whose committed
 * offset is short of their end, as `topic/partition at committed of end`. Empty when the
 * group has processed everything produced since; partitions that got nothing are skipped,
 * so a group that started at the log end and never saw them counts as caught up.
 */
async function groupBehind(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
  since: ReadonlyMap<string, bigint>,
): Promise<string[]> {
  const ends = await topicEndOffsets(admin, topics);
  const committed = await committedOffsets(admin, groupId, topics);
  const behind: string[] = [];
  for (const [tp, end] of ends) {
    if (end === (since.get(tp) ?? 0n)) continue;
    const c = committed.get(tp) ?? -1n;
    if (c < end) behind.push(`${tp} at ${c} of ${end}`);
  }
  return behind;
}

/**
 * Waits until `groupId` has committed the end of every partition of `topics` that got records
 * after `since` (groupBehind): a consumer that commits after its outputs are durable has then
 * written everything it will make of those records. Unlike a quiet period, this does not
 * end early when the consumer pauses (a rebalance, a starved CPU), nor when input is late.
 */
export async function waitGroupCaughtUp(
  kafka: Kafka,
  groupId: string,
  topics: readonly string[],
  since: ReadonlyMap<string, bigint>,
  timeoutMs = 180_000,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let behind: string[] = [];
  try {
    await waitFor(
      `group ${groupId} to commit the ends of ${topics.join(', ')}`,
      async () => {
        behind = await groupBehind(admin, groupId, topics, since);
        return behind.length === 0;
      },
      timeoutMs,
      500,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; behind: ${behind.join(', ')}`);
  } finally {
    await admin.disconnect();
  }
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
    await setGroupOffsets(
      admin,
      groupId,
      topic,
      [...from].map(([partition, offset]) => ({ partition, offset })),
    );
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
