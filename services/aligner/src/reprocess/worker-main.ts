/** A reprocess worker process: `perpflow reprocess-worker`, or started by `perpflow reprocess --workers n`. */
import { fileURLToPath } from 'node:url';
import { crashHook, createLogger, type Logger } from '@perpflow/runtime';
import { createS3Client, S3ObjectStore } from '@perpflow/s3';
import { Redis } from 'ioredis';
import { loadReprocessConfig } from '../config.js';
import { reprocessKeyPrefix } from './plan.js';
import { type ReprocessStep, startReprocessWorker } from './worker.js';

/** Serves the queue until SIGTERM or SIGINT; resolves the exit code. */
export async function runWorkerProcess(logger?: Logger): Promise<number> {
  let config: ReturnType<typeof loadReprocessConfig>;
  try {
    config = loadReprocessConfig();
  } catch (err) {
    console.error(`perpflow reprocess-worker: ${(err as Error).message}`);
    return 2;
  }
  const log = logger ?? createLogger({ service: 'reprocess-worker', level: config.LOG_LEVEL });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const worker = startReprocessWorker(
    {
      redis,
      store: new S3ObjectStore(createS3Client(config), config.S3_BUCKET),
      prefix: config.S3_PREFIX,
      logger: log,
      atStep: crashHook<ReprocessStep>(config.REPROCESS_CRASH_AT, 'REPROCESS_CRASH_AT'),
    },
    {
      queue: config.REPROCESS_QUEUE,
      keyPrefix: reprocessKeyPrefix(config.S3_BUCKET, config.S3_PREFIX),
      concurrency: config.REPROCESS_CONCURRENCY,
      lockDurationMs: config.REPROCESS_LOCK_MS,
    },
  );
  log.info({ queue: config.REPROCESS_QUEUE, prefix: config.S3_PREFIX }, 'reprocess worker serving');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await worker.close();
  redis.disconnect();
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runWorkerProcess();
