/**
 * windower: perpflow.aligned.bar.v1 ──▶ window book (exchange, symbol, timeframe, UTC day;
 * last revision per bar) ──▶ every flush interval: S3 Parquet object, then manifest ──▶ offset commit.
 */
import { TOPICS } from '@perpflow/contracts';
import { createKafka, ensureTopics, kafkaSettingsFromConfig, pipelineTopics } from '@perpflow/kafka';
import { startMetricsServer } from '@perpflow/metrics';
import { createLogger } from '@perpflow/runtime';
import { createS3Client, S3ObjectStore } from './adapters/s3.js';
import { WindowStore } from './adapters/window-store.js';
import { loadConfig } from './config.js';
import { createWindowerMetrics } from './metrics.js';
import { WindowerPipeline } from './pipeline.js';

export const WRITER_VERSION = 'perpflow-windower/0.1.0 parquet-wasm/0.8.0 apache-arrow/21.2.0';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'windower', level: config.LOG_LEVEL });
  const metrics = createWindowerMetrics();
  let ready = false;
  const server = await startMetricsServer({
    registry: metrics.registry,
    host: config.METRICS_HOST,
    port: config.METRICS_PORT,
    ready: () => ({ ok: ready }),
  });

  const kafka = createKafka(kafkaSettingsFromConfig(config, 'windower'), logger);
  await ensureTopics(kafka, pipelineTopics());
  const windows = new WindowStore(
    new S3ObjectStore(createS3Client(config), config.S3_BUCKET),
    config.S3_PREFIX,
    WRITER_VERSION,
  );
  const consumer = kafka.consumer({
    groupId: config.WINDOWER_GROUP_ID,
    sessionTimeout: config.WINDOWER_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.min(3_000, Math.floor(config.WINDOWER_SESSION_TIMEOUT_MS / 3)),
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  const pipeline = new WindowerPipeline({
    consumer,
    windows,
    metrics,
    logger,
    now: Date.now,
    options: {
      topic: TOPICS.alignedBar,
      flushIntervalMs: config.WINDOWER_FLUSH_INTERVAL_MS,
      maxBufferedRows: config.WINDOWER_MAX_BUFFERED_ROWS,
      windowIdleMs: config.WINDOWER_WINDOW_IDLE_MS,
      retryMaxDelayMs: config.WINDOWER_S3_RETRY_MAX_DELAY_MS,
    },
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => pipeline.onAssignment(e.payload.memberAssignment));
  consumer.on(consumer.events.CRASH, (e) =>
    logger.error({ err: e.payload.error?.message, restart: e.payload.restart }, 'consumer crashed'),
  );
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPICS.alignedBar], fromBeginning: config.WINDOWER_FROM_BEGINNING });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => pipeline.handleBatch(batch),
  });
  const timer = setInterval(() => void pipeline.flush(), config.WINDOWER_FLUSH_INTERVAL_MS);
  ready = true;
  logger.info(
    { group: config.WINDOWER_GROUP_ID, bucket: config.S3_BUCKET, prefix: config.S3_PREFIX },
    'windower ready',
  );

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    ready = false;
    clearInterval(timer);
    // A last write and commit while the group is still joined (bounded): what is not
    // committed is re-read on restart and rewrites the same rows.
    consumer.pause([{ topic: TOPICS.alignedBar }]);
    await Promise.race([pipeline.flush(), new Promise((r) => setTimeout(r, 10_000))]);
    pipeline.stop();
    await consumer.disconnect().catch(() => undefined);
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  console.error(`windower failed to start: ${err instanceof Error ? err.message : String(err)}`);
  if (err?.code === 'CONFIG_INVALID')
    console.error('Fix the named environment variable (see README, Configuration) and start again.');
  else console.error('Are the local stack and its bucket up? Try: npm run stack -- status');
  process.exit(1);
});
