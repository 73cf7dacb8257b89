import { DEFAULT_PARTITIONS, type PipelineTopicNames, TOPICS } from '@perpflow/contracts';
import type { ITopicConfig, Kafka } from 'kafkajs';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Topic-level configs, e.g. retention.ms. */
  configs?: Record<string, string>;
}

/** The pipeline's topics and their defaults (`names`: pipelineTopicNames(KAFKA_TOPIC_PREFIX)). */
export function pipelineTopics(
  partitions = DEFAULT_PARTITIONS,
  names: PipelineTopicNames = TOPICS,
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
 * Returns the topics it created.
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: TopicSpec[],
  replicationFactor = 1,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return [];
    const topics: ITopicConfig[] = missing.map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      replicationFactor,
      configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
    }));
    await admin.createTopics({ topics, waitForLeaders: true });
    return missing.map((s) => s.topic);
  } finally {
    await admin.disconnect();
  }
}
