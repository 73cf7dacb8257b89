import { normalizePrefix } from '@perpflow/dataset';
import { checkKafkaSecurity, kafkaConfigShape } from '@perpflow/kafka';
import { env, logLevelKey, parseConfig, redisUrlKey, serviceKeys } from '@perpflow/runtime';
import { pipelineTopicNames } from '@perpflow/contracts';
import { z } from 'zod';
import { checkS3Credentials, s3ConfigShape } from './adapters/s3.js';

/**
 * The S3 keys with S3_PREFIX checked by the dataset layout's own function: a prefix the
 * layout refuses (`datasets//prod`) fails start-up naming S3_PREFIX, instead of every
 * bar being dead-lettered as `windower.key` later.
 */
const datasetS3Shape = {
  ...s3ConfigShape,
  S3_PREFIX: s3ConfigShape.S3_PREFIX.superRefine((prefix, ctx) => {
    try {
      normalizePrefix(prefix);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `the dataset layout refuses it: ${(err as Error).message}` });
    }
  }),
};

/**
 * Month compaction (a BullMQ queue in Redis): the keys the windower and
 * `perpflow compact` share.
 */
export const compactionConfigShape = {
  REDIS_URL: redisUrlKey(
    'Redis holding the compaction queue (BullMQ); its keys are prefixed with S3_BUCKET/S3_PREFIX',
  ),
  COMPACTION_ENABLED: env
    .bool(true)
    .describe(
      'run the month compaction worker and its scan scheduler in this process (false: no Redis connection at all)',
    ),
  COMPACTION_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ -')
    .default('perpflow-compaction')
    .describe('BullMQ queue of the scan and month jobs (tests use their own)'),
  COMPACTION_SCAN_INTERVAL_MS: env
    .int(600_000, { min: 1_000 })
    .describe(
      'a scan (list the series indexes, plan, enqueue a job per month to compact) runs this often, the first at start-up',
    ),
  COMPACTION_CONCURRENCY: env
    .int(1, { min: 1, max: 64 })
    .describe('jobs one process runs at once (a 1m month: ~31 day objects read, ~45k rows encoded)'),
  COMPACTION_ATTEMPTS: env
    .int(5, { min: 1 })
    .describe(
      'attempts of a month job before it fails (exponential backoff from 5 s); the next scan enqueues it again',
    ),
  COMPACTION_LOCK_DURATION_MS: env
    .int(30_000, { min: 500 })
    .describe(
      'BullMQ job lock: a job whose worker died is taken up again after about this long plus the stalled-check interval (the same value)',
    ),
  COMPACTION_CRASH_AT: z
    .string()
    .regex(
      /^(|(after-object-put|after-manifest-put)(:[1-9][0-9]*)?)$/,
      'empty, or <step>[:n] with step one of after-object-put, after-manifest-put',
    )
    .default('')
    .describe(
      'TEST ONLY: the process SIGKILLs itself at the n-th (default first) time a month job reaches this step (crash tests); empty in production',
    ),
};

/** windower configuration: one zod schema over environment variables, parsed at start-up. */
export const WindowerConfigSchema = z.object({
  ...kafkaConfigShape,
  ...datasetS3Shape,
  WINDOWER_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{0,249}$/, 'a Kafka topic name: letters, digits, _ . - only')
    .default('')
    .describe(
      'topic of aligned bars to consume (default, or empty: perpflow.aligned.bar.v1 under KAFKA_TOPIC_PREFIX)',
    ),
  WINDOWER_GROUP_ID: z
    .string()
    .min(1)
    .default('perpflow-windower')
    .describe('Kafka consumer group on perpflow.aligned.bar.v1'),
  WINDOWER_FROM_BEGINNING: env
    .bool(true)
    .describe('a new consumer group starts at the earliest retained offset'),
  WINDOWER_SESSION_TIMEOUT_MS: env
    .int(30_000, { min: 6_000 })
    .describe('Kafka session timeout: how long a crashed member holds its partitions'),
  WINDOWER_FLUSH_INTERVAL_MS: env
    .int(10_000, { min: 100 })
    .describe(
      'an open window is written this long after its first unwritten change; live bars reach S3 within it plus one tick (≤ 1 s) and the write',
    ),
  WINDOWER_ALLOWED_LATENESS_MS: env
    .int(120_000, { min: 0 })
    .describe('a window closes (final write) when the watermark passes its end plus this'),
  WINDOWER_MAX_BUFFERED_ROWS: env
    .int(500_000, { min: 1 })
    .describe(
      'rows of windows with unwritten changes held before consumption pauses for an immediate flush; and rows held in all (287 bytes each) past which durable windows leave memory after a flush, those fed longest ago first, until the rows are under it; each is read back from S3 before its next write (a live windower of more than ~350 symbols of 1m bars passes 500,000 late in the UTC day)',
    ),
  WINDOWER_WINDOW_IDLE_MS: env
    .int(600_000, { min: 0 })
    .describe(
      'a durable open window without a new bar this long leaves memory (its object is merged back on the next bar)',
    ),
  WINDOWER_WRITE_CONCURRENCY: env
    .int(8, { min: 1, max: 256 })
    .describe(
      "windows of different series written at once in a flush (a series' windows one after another: they share its index). A write is 4 requests one after another; at S3's tens of milliseconds each, one at a time cannot write 500 symbols' windows every minute",
    ),
  WINDOWER_S3_RETRY_MAX_DELAY_MS: env
    .int(30_000, { min: 10 })
    .describe('upper bound of the backoff between S3 retries'),
  WINDOWER_FRESHNESS_MAX_SERIES: env
    .int(5_000, { min: 0 })
    .describe(
      'series (exchange, symbol) labelled in perpflow_feed_freshness_seconds{stage="s3"}; more are counted, not labelled',
    ),
  WINDOWER_FETCH_MAX_BYTES: env
    .int(4 * 1024 * 1024, { min: 1024 })
    .describe(
      'most bytes fetched per partition per request: with WINDOWER_MAX_BUFFERED_ROWS, the memory bound while S3 is down',
    ),
  WINDOWER_CRASH_AT: z
    .string()
    .regex(
      /^(|(before-object-put|after-object-put|after-manifest-put|before-commit|after-commit)(:[1-9][0-9]*)?)$/,
      'empty, or <step>[:n] with step one of before-object-put, after-object-put, after-manifest-put, before-commit, after-commit',
    )
    .default('')
    .describe(
      'TEST ONLY: the process SIGKILLs itself at the n-th (default first) time it reaches this step (crash tests); empty in production',
    ),
  ...compactionConfigShape,
  ...serviceKeys({ metricsPort: 39103 }),
});
export type WindowerConfig = z.infer<typeof WindowerConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): WindowerConfig {
  const config = parseConfig(WindowerConfigSchema, environment, { prefixes: ['WINDOWER_', 'COMPACTION_'] });
  if (config.WINDOWER_TOPIC === '')
    config.WINDOWER_TOPIC = pipelineTopicNames(config.KAFKA_TOPIC_PREFIX).alignedBar;
  checkKafkaSecurity(config);
  checkS3Credentials(config);
  return config;
}

/** `perpflow pull`: the S3 connection comes from the same S3_* variables as the windower's. */
export const PullConfigSchema = z.object({ ...datasetS3Shape });
export type PullConfig = z.infer<typeof PullConfigSchema>;

export function loadPullConfig(environment: Record<string, string | undefined> = process.env): PullConfig {
  const config = parseConfig(PullConfigSchema, environment);
  checkS3Credentials(config);
  return config;
}

/** `perpflow compact`: the S3 and compaction keys of the windower. */
export const CompactConfigSchema = z.object({
  ...datasetS3Shape,
  ...compactionConfigShape,
  LOG_LEVEL: logLevelKey('warn'),
});
export type CompactConfig = z.infer<typeof CompactConfigSchema>;

export function loadCompactConfig(
  environment: Record<string, string | undefined> = process.env,
): CompactConfig {
  const config = parseConfig(CompactConfigSchema, environment, { prefixes: ['COMPACTION_'] });
  checkS3Credentials(config);
  return config;
}
