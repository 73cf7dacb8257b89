import { DEFAULT_PARTITIONS, type PipelineTopicNames, TOPICS } from '@perpflow/contracts';
import type { Admin, ITopicConfig, Kafka } from 'kafkajs';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Topic-level configs, e.g. retention.ms. */
  configs?: Record<string, string>;
}

/** The pipeline's topics and their defaults (`names`: pipelineTopicNames(KAFKA_TOPIC_PREFIX)). */
export function pipelineTopics(
  names: PipelineTopicNames = TOPICS,
  partitions = DEFAULT_PARTITIONS,
): TopicSpec[] {
  const week = String(7 * 24 * 3_600_000);
  return [
    ...Object.values(names.raw).map((topic) => ({
      topic,
      numPartitions: partitions,
      configs: { 'retention.ms': week },
    })),
    { topic: names.alignedBar, numPartitions: partitions, configs: { 'retention.ms': week } },
    // Dead letters wait for a human: keep them a month.
    { topic: names.deadLetter, numPartitions: 3, configs: { 'retention.ms': String(30 * 24 * 3_600_000) } },
  ];
}

/**
 * Creates the topics that do not exist yet; leaves existing ones alone (their
 * partition count is never changed here: that would move keys between partitions).
 * Returns the topics it created, once every topic of `specs` answers a ListOffsets on
 * every partition: a KRaft broker reports a new topic before its partitions have a
 * leader (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER for a moment), which
 * kafkajs's own waitForLeaders does not retry, and another process may have created a
 * topic a moment ago.
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: TopicSpec[],
  replicationFactor = 1,
  servedWithinMs = 60_000,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      const topics: ITopicConfig[] = missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.numPartitions,
        replicationFactor,
        configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
      }));
      await admin.createTopics({ topics, waitForLeaders: false });
    }
    const deadline = Date.now() + servedWithinMs;
    for (const s of specs) await untilServed(admin, s.topic, deadline);
    return missing.map((s) => s.topic);
  } finally {
    await admin.disconnect();
  }
}

/** Asks the topic's offsets until the broker answers for it, retrying retriable errors until `deadline`. */
async function untilServed(admin: Admin, topic: string, deadline: number): Promise<void> {
  for (let delayMs = 50; ; delayMs = Math.min(1_000, delayMs * 2)) {
    try {
      // Fresh metadata each attempt: a leader cached before the election may be the stale one.
      await admin.fetchTopicMetadata({ topics: [topic] });
      await admin.fetchTopicOffsets(topic);
      return;
    } catch (err) {
      const retriable = (err as { retriable?: boolean }).retriable === true;
      if (!retriable || Date.now() + delayMs > deadline)
        throw new Error(
          `topic ${topic} is not served by the brokers (${(err as Error).message}); check that the brokers are up and the topic has leaders (kafka-topics.sh --describe)`,
          { cause: err },
        );
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
