import { readFileSync } from 'node:fs';
import { parseAlignConfig } from '@perpflow/align';
import { ConfigError, TIMEFRAMES } from '@perpflow/contracts';
import { checkKafkaSecurity, kafkaConfigShape } from '@perpflow/kafka';
import { env, parseConfig, redisUrlKey, serviceKeys } from '@perpflow/runtime';
import { parseQualityConfig } from '@perpflow/quality';
import { checkS3Credentials, s3ConfigShape } from '@perpflow/s3';
import { z } from 'zod';
import type { EngineConfig } from './domain/engine.js';

/** aligner configuration: one zod schema over environment variables, parsed at start-up. */
export const AlignerConfigSchema = z.object({
  ...kafkaConfigShape,
  // S3: only where the dataset version's descriptor goes (<S3_PREFIX>/versions/<id>/version.json).
  ...s3ConfigShape,
  ALIGNER_GROUP_ID: z
    .string()
    .min(1)
    .default('perpflow-aligner')
    .describe('Kafka consumer group (and snapshot namespace)'),
  ALIGNER_TIMEFRAME: z.enum(TIMEFRAMES).default('1m').describe('bar timeframe of the aligned grid'),
  ALIGNER_ALLOWED_LATENESS_MS: env
    .int(5_000, { min: 0 })
    .describe(
      'a bar without its closed candle (a fill, or only a provisional candle) is emitted once the watermark passes its close plus this; a bar with its closed candle is emitted when that candle arrives',
    ),
  ALIGNER_REVISION_HORIZON_MS: env
    .int(86_400_000, { min: 0 })
    .describe(
      'late data within this (event time behind the watermark) re-emits its bar as a revision; older goes to the dead-letter topic, except a backfill of bars never emitted (history: packages/align README)',
    ),
  ALIGNER_SESSION_TIMEOUT_MS: env
    .int(30_000, { min: 6_000 })
    .describe(
      'Kafka session timeout: how long a crashed member holds its partitions (the aligner heartbeats within each batch too)',
    ),
  ALIGNER_FETCH_MAX_BYTES_PER_PARTITION: env
    .int(262_144, { min: 16_384 })
    .describe(
      'bytes fetched per topic-partition per round (256 KiB ~ 750 candles); the four raw topics are merged by record timestamp whatever this is (docs/ARCHITECTURE.md ③)',
    ),
  ALIGNER_MERGE_MAX_WAIT_MS: env
    .int(30_000, { min: 100 })
    .describe(
      "how long a record waits for proof (the broker's high watermark) that an empty raw topic of its partition holds nothing published before it; then it goes ahead and perpflow_aligner_merge_forced_total counts it",
    ),
  ALIGNER_MERGE_APPEND_MARGIN_MS: env
    .int(0, { min: 0 })
    .describe(
      'how long after its Kafka timestamp a raw record is surely in the log (producer latency): the proof that an empty raw topic holds nothing older is asked no sooner. 0: asked once the record reached the aligner (a record of another topic stamped earlier but still in flight then is passed over). A margin closes that, at the cost of every live record waiting it out and, measured, half the backfill throughput (docs/ARCHITECTURE.md ③)',
    ),
  ALIGNER_MERGE_MAX_QUEUED_BYTES: env
    .int(1024 * 1024, { min: 65_536 })
    .describe(
      'bytes of fetched records a raw topic-partition may hold while waiting for its turn in the merged order; above it its fetches pause (memory: up to 48 topic-partitions × this, and each queued record costs about 600 bytes of objects besides its bytes; 4 MiB gave the aligner +86 MiB peak RSS in a catch-up and no more records/s: docs/BENCHMARKS.md)',
    ),
  ALIGNER_MAX_STREAMS_PER_PARTITION: env
    .int(5_000, { min: 1 })
    .describe(
      'exchange|symbol streams one raw partition may hold; records of further streams go to the dead-letter topic (align.stream_limit): bounds memory and metric labels',
    ),
  ALIGNER_FILL_POLICY: z
    .enum(['previous-close', 'skip'])
    .default('previous-close')
    .describe('what a missing candle becomes'),
  ALIGNER_QUALITY_CONFIG: z
    .string()
    .default('')
    .describe('path of a JSON file overriding quality-rule thresholds (see packages/quality/README.md)'),
  ALIGNER_FROM_BEGINNING: env
    .bool(true)
    .describe('a new consumer group starts at the earliest retained offset'),
  ALIGNER_SNAPSHOT_INTERVAL_RECORDS: env
    .int(50_000, { min: 1 })
    .describe(
      'a partition writes a full state snapshot (and empties its write-ahead log of batches) after this many records since the last one; bounds the log in Redis (~0.5 KB a record: ~26 MB per partition at 50k) and the replay on restart',
    ),
  ALIGNER_MAX_BATCH_ATTEMPTS: env
    .int(5, { min: 1 })
    .describe(
      'the pure step (decode, quality, align) throwing on the same batch this many times in a row pauses its partition (perpflow_aligner_partition_stalled, alert AlignerPartitionStalled) instead of retrying it forever',
    ),
  ALIGNER_SNAPSHOT_INTERVAL_MS: env
    .int(900_000, { min: 0 })
    .describe(
      'a partition also writes a full snapshot when this long has passed since its last one (checked after each batch; 0: after every batch); a snapshot rewrites the whole state (a day of bars per symbol: ~8.6 MB and ~0.3 CPU-s with Redis for 42 symbols), so live, where records are few, this interval sets its cost',
    ),
  ALIGNER_CRASH_AT: z
    .string()
    .regex(
      /^(|(after-log-append|after-produce|after-snapshot|before-commit)(:[1-9][0-9]*)?)$/,
      'empty, or <step>[:n] with step one of after-log-append, after-produce, after-snapshot, before-commit',
    )
    .default('')
    .describe(
      'TEST ONLY: the process SIGKILLs itself at the n-th (default first) time it reaches this step of a batch (crash tests); empty in production',
    ),
  REDIS_URL: redisUrlKey('Redis for per-partition state: snapshots and the write-ahead log of batches'),
  ...serviceKeys({ metricsPort: 39102 }),
});
export type AlignerConfig = z.infer<typeof AlignerConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): AlignerConfig {
  const config = parseConfig(AlignerConfigSchema, environment, { prefixes: ['ALIGNER_'] });
  checkKafkaSecurity(config);
  checkS3Credentials(config);
  return config;
}

/**
 * `perpflow reprocess` and its workers: the aligner's keys (the live engine config is the
 * default, so a rebuild without flags is the live version), its S3 and Redis, and the
 * queue's own settings.
 */
/**
 * The reprocess workers' V8 flags by default: a 4 MiB young generation, and the old
 * generation let grow to 1.5× what survived its last full collection (V8 sizes that
 * factor itself, up to 4×). Bench reprocess section, 2 workers, since a job's open windows
 * are packed: 213–272 MiB peak at 0.74–0.99 of the rate of workers with the young
 * generation's cap alone (298–401 MiB); 289–374 against 423–452 MiB at 500 symbols; at
 * 100 % growth 284 MiB, at 15 % 236–255 MiB for 0.74–0.82 of that rate
 * (docs/BENCHMARKS.md, "A reprocess worker's old generation" and the sections after it).
 */
export const DEFAULT_REPROCESS_WORKER_NODE_FLAGS = '--max-semi-space-size=4 --heap-growing-percent=50';

const reprocessShape = {
  REPROCESS_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, _ and - (BullMQ queue names may not contain :)')
    .default('perpflow-reprocess')
    .describe('BullMQ queue of reprocess jobs (keyed in Redis by bucket and S3 prefix, like compaction)'),
  REPROCESS_CONCURRENCY: env
    .int(1, { min: 1, max: 64 })
    .describe(
      'jobs one worker process runs at once (a job is CPU-bound: more processes, not more concurrency)',
    ),
  REPROCESS_LOCK_MS: env
    .int(30_000, { min: 5_000 })
    .describe(
      'job lock: a worker killed mid-job leaves its job to another worker after about this long (BullMQ stalled check)',
    ),
  REPROCESS_WORKER_NODE_FLAGS: z
    .string()
    .trim()
    .regex(
      /^((--(max|min|initial|heap)-[a-z-]+=\d+|--optimize-for-size|--single-threaded-gc)( +|$))*$/,
      'empty, or V8 memory and GC flags separated by spaces: --max-*=N, --min-*=N, --initial-*=N, --heap-*=N, --optimize-for-size, --single-threaded-gc',
    )
    .default(DEFAULT_REPROCESS_WORKER_NODE_FLAGS)
    .describe(
      'Node/V8 flags of the worker processes `perpflow reprocess --workers N` starts. The default caps the young generation at 4 MiB and lets the old generation grow to 1.5× its live size, which keeps a worker of the bench under 300 MiB at 100 symbols (213–272; 289–374 at 500) for 0.74–0.99 of the rate without it (docs/BENCHMARKS.md); ' +
        "`--max-semi-space-size=4` alone: faster, 298–401 MiB; empty: the services' flags alone. They follow the services' `--max-semi-space-size=16`, and V8 takes the last value of a flag",
    ),
  REPROCESS_CRASH_AT: z
    .string()
    .regex(
      /^(|(after-object-put|after-manifest-put|after-index)(:[1-9][0-9]*)?)$/,
      'empty, or <step>[:n] with step one of after-object-put, after-manifest-put, after-index',
    )
    .default('')
    .describe('TEST ONLY: a worker SIGKILLs itself at the n-th (default first) time a job reaches this step'),
};
/** The reprocess queue's own keys (docs/CONFIGURATION.md lists them apart from the aligner's). */
export const ReprocessKeysSchema = z.object(reprocessShape);
export const ReprocessConfigSchema = AlignerConfigSchema.extend(reprocessShape);
export type ReprocessConfig = z.infer<typeof ReprocessConfigSchema>;

export function loadReprocessConfig(
  environment: Record<string, string | undefined> = process.env,
): ReprocessConfig {
  const config = parseConfig(ReprocessConfigSchema, environment, { prefixes: ['ALIGNER_', 'REPROCESS_'] });
  checkS3Credentials(config);
  return config;
}

/** Reads a JSON file named by a flag or key; a bad one is a ConfigError naming it. */
export function readJsonFile(path: string, key: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path} as JSON: ${(err as Error).message}`);
  }
}

/**
 * The pure engine's config from the service config: the one place that reads the
 * quality file (the engine in domain/ reads nothing). A bad value names its key.
 */
export function loadEngineConfig(c: AlignerConfig): EngineConfig {
  const qualityInput = c.ALIGNER_QUALITY_CONFIG
    ? readJsonFile(c.ALIGNER_QUALITY_CONFIG, 'ALIGNER_QUALITY_CONFIG')
    : {};
  return {
    quality: parseQualityConfig(qualityInput),
    align: parseAlignConfig({
      timeframe: c.ALIGNER_TIMEFRAME,
      allowedLatenessMs: c.ALIGNER_ALLOWED_LATENESS_MS,
      revisionHorizonMs: c.ALIGNER_REVISION_HORIZON_MS,
      fillPolicy: c.ALIGNER_FILL_POLICY,
    }),
    maxStreams: c.ALIGNER_MAX_STREAMS_PER_PARTITION,
  };
}
