import { DATASET_WRITER_VERSION } from '@perpflow/dataset';
import { crashHook, type Logger } from '@perpflow/runtime';
import { Redis } from 'ioredis';
import { CompactionStore } from '../adapters/compaction-store.js';
import type { FolderLister, ObjectStore } from '../adapters/s3.js';
import type { CompactConfig } from '../config.js';
import type { WindowerMetrics } from '../metrics.js';
import { Compaction, compactionKeyPrefix, throttledLog } from './queue.js';

/** The writer named in every file and manifest the windower writes. */
export const WINDOWER_WRITER = `perpflow-windower 0.1.0 (${DATASET_WRITER_VERSION})`;

type CompactionSettings = Pick<
  CompactConfig,
  | 'S3_BUCKET'
  | 'S3_PREFIX'
  | 'REDIS_URL'
  | 'COMPACTION_QUEUE'
  | 'COMPACTION_SCAN_INTERVAL_MS'
  | 'COMPACTION_CONCURRENCY'
  | 'COMPACTION_ATTEMPTS'
  | 'COMPACTION_LOCK_DURATION_MS'
  | 'COMPACTION_CRASH_AT'
>;

/** Wiring shared by the windower and `perpflow compact`: Redis, the store, the queue. */
export function openCompaction(
  config: CompactionSettings,
  deps: {
    store: ObjectStore & FolderLister;
    metrics: WindowerMetrics;
    logger: Logger;
    now: () => number;
  },
): { compaction: Compaction; redis: Redis } {
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  redis.on('error', throttledLog(deps.logger.warn.bind(deps.logger), 'compaction redis error'));
  const compaction = new Compaction({
    redis,
    store: new CompactionStore(
      deps.store,
      config.S3_PREFIX,
      WINDOWER_WRITER,
      crashHook(config.COMPACTION_CRASH_AT, 'COMPACTION_CRASH_AT'),
    ),
    metrics: deps.metrics,
    logger: deps.logger,
    now: deps.now,
    options: {
      queue: config.COMPACTION_QUEUE,
      keyPrefix: compactionKeyPrefix(config.S3_BUCKET, config.S3_PREFIX),
      scanIntervalMs: config.COMPACTION_SCAN_INTERVAL_MS,
      concurrency: config.COMPACTION_CONCURRENCY,
      attempts: config.COMPACTION_ATTEMPTS,
      lockDurationMs: config.COMPACTION_LOCK_DURATION_MS,
    },
  });
  return { compaction, redis };
}
