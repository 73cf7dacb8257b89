import { ARCHIVE_FEEDS, type ArchiveFeed } from '@perpflow/archive';
import { pipelineTopicNames } from '@perpflow/contracts';
import { normalizePrefix } from '@perpflow/dataset';
import { checkKafkaSecurity, kafkaConfigShape } from '@perpflow/kafka';
import { env, parseConfig, serviceKeys } from '@perpflow/runtime';
import { checkS3Credentials, s3ConfigShape } from '@perpflow/s3';
import { z } from 'zod';

/**
 * ARCHIVER_MAX_OBJECT_BYTES and ARCHIVER_MAX_OBJECT_RECORDS by default: where the archiver
 * cuts a topic-partition's records into objects (the bench builds its archives the same way).
 */
export const DEFAULT_MAX_OBJECT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_OBJECT_RECORDS = 200_000;

/** The pipeline's four raw topics and its dead-letter topic under a topic prefix: topic → feed. */
function pipelineArchiveTopics(topicPrefix: string): Map<string, ArchiveFeed> {
  const names = pipelineTopicNames(topicPrefix);
  return new Map<string, ArchiveFeed>([
    ...Object.entries(names.raw).map(([feed, topic]) => [topic, feed as ArchiveFeed] as const),
    [names.deadLetter, 'dead_letter'],
  ]);
}

/**
 * `feed=topic,…` → topic → feed; each feed at most once, each topic a Kafka topic name.
 * Empty (the default): an empty map, which loadConfig fills with the pipeline's topics.
 */
const topicsSchema = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const out = new Map<string, ArchiveFeed>();
    if (v.trim() === '') return out;
    for (const item of v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [feed, topic, extra] = item.split('=');
      if (extra !== undefined || !feed || !topic || !(ARCHIVE_FEEDS as readonly string[]).includes(feed)) {
        ctx.addIssue({
          code: 'custom',
          message: `'${item}' is not <feed>=<topic> with feed one of ${ARCHIVE_FEEDS.join(', ')}`,
        });
        return z.NEVER;
      }
      if (
        !/^[A-Za-z0-9._-]{1,249}$/.test(topic) ||
        [...out.values()].includes(feed as ArchiveFeed) ||
        out.has(topic)
      ) {
        ctx.addIssue({ code: 'custom', message: `'${item}': not a topic name, or feed/topic given twice` });
        return z.NEVER;
      }
      out.set(topic, feed as ArchiveFeed);
    }
    if (out.size === 0) {
      ctx.addIssue({ code: 'custom', message: 'no topic to archive' });
      return z.NEVER;
    }
    return out;
  });

/** archiver configuration: one zod schema over environment variables, parsed at start-up. */
export const ArchiverConfigSchema = z.object({
  ...kafkaConfigShape,
  ...s3ConfigShape,
  // The raw archive lies beside the aligned dataset under one prefix: the same rule.
  S3_PREFIX: s3ConfigShape.S3_PREFIX.superRefine((prefix, ctx) => {
    try {
      normalizePrefix(prefix);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `the dataset layout refuses it: ${(err as Error).message}` });
    }
  }),
  ARCHIVER_TOPICS: topicsSchema.describe(
    'topics to archive as <feed>=<topic>, comma-separated; feed one of ohlcv, open_interest, funding, liquidation, dead_letter (default, or empty: the four raw topics and perpflow.dlq.v1, under KAFKA_TOPIC_PREFIX)',
  ),
  ARCHIVER_GROUP_ID: z.string().min(1).default('perpflow-archiver').describe('Kafka consumer group'),
  ARCHIVER_FROM_BEGINNING: env
    .bool(true)
    .describe(
      'a new consumer group starts at the earliest retained offset (archive everything Kafka still holds)',
    ),
  ARCHIVER_SESSION_TIMEOUT_MS: env
    .int(30_000, { min: 6_000 })
    .describe('Kafka session timeout: how long a crashed member holds its partitions'),
  ARCHIVER_MAX_OBJECT_BYTES: env
    .int(DEFAULT_MAX_OBJECT_BYTES, { min: 1024 })
    .describe(
      "a topic-partition buffer is written once its records hold this many bytes (key + value + headers, and a contract error's text); the Parquet writer's memory grows to what the largest object needs and never shrinks (~17 MiB for 4 MiB of candle records, ~53 MiB for 16 MiB: cd bench && npm run bench:archiver-held)",
    ),
  ARCHIVER_MAX_OBJECT_RECORDS: env
    .int(DEFAULT_MAX_OBJECT_RECORDS, { min: 1 })
    .describe('a topic-partition buffer is written once it holds this many records; no object holds more'),
  ARCHIVER_MAX_BUFFERED_BYTES: env
    .int(32 * 1024 * 1024, { min: 1024 })
    .describe(
      "record bytes (key + value + headers, and a contract error's text) held in all topic-partitions' buffers together: past it the fullest buffers are written at once, smaller objects than the size and age limits give, until half is left, and consumption waits meanwhile (the only wait for S3: a buffer reaching its size limit is written beside consumption; the memory bound of a catch-up: each byte held costs ~1.3 in memory, heap and buffers: cd bench && npm run bench:archiver-held)",
    ),
  ARCHIVER_MAX_OBJECT_AGE_MS: env
    .int(3_600_000, { min: 100 })
    .describe(
      'a buffer is written once its oldest record was consumed this long ago: every consumed record is durable within this plus one tick (≤ 1 s) and the write (10 min instead of 1 h: ~3.4x the bytes, README "Raw archive")',
    ),
  ARCHIVER_S3_RETRY_MAX_DELAY_MS: env
    .int(30_000, { min: 10 })
    .describe('upper bound of the backoff between S3 retries'),
  ARCHIVER_FETCH_MAX_BYTES: env
    .int(4 * 1024 * 1024, { min: 1024 })
    .describe('most bytes fetched per partition per request'),
  ARCHIVER_CRASH_AT: z
    .string()
    .regex(
      /^(|(after-ledger-put|after-object-put|after-manifest-put|after-index-put|after-commit)(:[1-9][0-9]*)?)$/,
      'empty, or <step>[:n] with step one of after-ledger-put, after-object-put, after-manifest-put, after-index-put, after-commit',
    )
    .default('')
    .describe(
      'TEST ONLY: the process SIGKILLs itself at the n-th (default first) time it reaches this step (crash tests); empty in production',
    ),
  ...serviceKeys({ metricsPort: 39105 }),
});
export type ArchiverConfig = z.infer<typeof ArchiverConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): ArchiverConfig {
  const config = parseConfig(ArchiverConfigSchema, environment, { prefixes: ['ARCHIVER_'] });
  if (config.ARCHIVER_TOPICS.size === 0)
    config.ARCHIVER_TOPICS = pipelineArchiveTopics(config.KAFKA_TOPIC_PREFIX);
  checkKafkaSecurity(config);
  checkS3Credentials(config);
  return config;
}
