/**
 * windower: perpflow.aligned.bar.v1 ──▶ WindowBook of @perpflow/dataset (exchange, symbol,
 * timeframe, UTC window; last revision per bar, revisions kept) ──▶ due windows: Parquet
 * object(s), manifest, series index on S3 ──▶ offset commit of the book's safe offsets.
 * Beside it (COMPACTION_ENABLED): BullMQ scan job every interval ──▶ a job per closed
 * month ──▶ compacted month object + manifest on S3.
 */
import { pipelineTopicNames } from '@perpflow/contracts';
import {
  createKafkaClient,
  deadLetterToMessage,
  kafkaSettingsFromConfig,
  pipelineTopics,
} from '@perpflow/kafka';
import { crashHook, runService, STACK_BUCKET_HINT } from '@perpflow/runtime';
import { createS3Client, S3ObjectStore } from './adapters/s3.js';
import { S3VersionPin } from './adapters/version-pin.js';
import { TimedObjectStore } from '@perpflow/s3';
import { openCompaction, WINDOWER_WRITER } from './compaction/open.js';
import { WindowStore } from './adapters/window-store.js';
import { loadConfig } from './config.js';
import { createWindowerMetrics } from './metrics.js';
import { WindowerPipeline } from './pipeline.js';

runService({
  name: 'windower',
  startHint: STACK_BUCKET_HINT,
  config: () => loadConfig(),
  metrics: () => createWindowerMetrics(),
  start: async ({ config, logger, metrics, setReady }) => {
    const kafka = createKafkaClient(kafkaSettingsFromConfig(config, 'windower'), logger);
    const topics = pipelineTopicNames(config.KAFKA_TOPIC_PREFIX);
    await kafka.ensureTopics(pipelineTopics(topics));
    const atStep = crashHook(config.WINDOWER_CRASH_AT, 'WINDOWER_CRASH_AT');
    const s3 = new TimedObjectStore(new S3ObjectStore(createS3Client(config), config.S3_BUCKET), metrics);
    const windows = new WindowStore(s3, config.S3_PREFIX, WINDOWER_WRITER, atStep);
    const versionPin = new S3VersionPin(s3, config.S3_PREFIX, Date.now);
    const liveVersion = await versionPin.read();
    const producer = kafka.idempotentProducer();
    await producer.connect();
    const consumer = kafka.groupConsumer({
      groupId: config.WINDOWER_GROUP_ID,
      sessionTimeoutMs: config.WINDOWER_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: Math.min(3_000, Math.floor(config.WINDOWER_SESSION_TIMEOUT_MS / 3)),
      maxBytesPerPartition: config.WINDOWER_FETCH_MAX_BYTES,
    });
    const pipeline = new WindowerPipeline({
      consumer,
      windows,
      deadLetters: {
        send: async (letters) => {
          await producer.send({
            topic: topics.deadLetter,
            messages: letters.map((l) => deadLetterToMessage(l, 'windower')),
          });
        },
      },
      prefix: config.S3_PREFIX,
      liveVersion,
      versionPin,
      metrics,
      logger,
      now: Date.now,
      atStep,
      options: {
        topic: config.WINDOWER_TOPIC,
        flushIntervalMs: config.WINDOWER_FLUSH_INTERVAL_MS,
        allowedLatenessMs: config.WINDOWER_ALLOWED_LATENESS_MS,
        maxBufferedRows: config.WINDOWER_MAX_BUFFERED_ROWS,
        windowIdleMs: config.WINDOWER_WINDOW_IDLE_MS,
        retryMaxDelayMs: config.WINDOWER_S3_RETRY_MAX_DELAY_MS,
        writeConcurrency: config.WINDOWER_WRITE_CONCURRENCY,
        freshnessMaxSeries: config.WINDOWER_FRESHNESS_MAX_SERIES,
      },
    });
    consumer.onAssignment((assignment) => pipeline.onAssignment(assignment));
    await consumer.consume({
      topics: [config.WINDOWER_TOPIC],
      fromBeginning: config.WINDOWER_FROM_BEGINNING,
      handle: async (batch) => pipeline.handleBatch(batch),
    });
    // Compaction runs beside the pipeline and never holds it up: Redis being down only delays it.
    const compaction = config.COMPACTION_ENABLED
      ? openCompaction(config, { store: s3, metrics, logger, now: Date.now })
      : null;
    const stopScheduling = new AbortController();
    if (compaction) {
      compaction.compaction.startWorker();
      void compaction.compaction
        .schedule(stopScheduling.signal)
        .catch((err) => logger.warn({ err: (err as Error).message }, 'compaction scheduler not set'));
    }
    // The book says which windows are due; this tick only asks (bound: flush interval + tick + write).
    const timer = setInterval(() => void pipeline.flush(), flushTickMs(config.WINDOWER_FLUSH_INTERVAL_MS));
    setReady(true);
    logger.info(
      {
        group: config.WINDOWER_GROUP_ID,
        bucket: config.S3_BUCKET,
        prefix: config.S3_PREFIX,
        compaction: config.COMPACTION_ENABLED ? config.COMPACTION_QUEUE : false,
      },
      'windower ready',
    );

    return {
      stop: async () => {
        clearInterval(timer);
        // A last write and commit while the group is still joined (bounded): what is not
        // committed is re-read on restart and rewrites the same rows.
        consumer.pause([{ topic: config.WINDOWER_TOPIC }]);
        await Promise.race([
          pipeline.flush().then(() => pipeline.flush(true)),
          new Promise((r) => setTimeout(r, 10_000)),
        ]);
        pipeline.stop();
        stopScheduling.abort();
        // A month job cut short here is taken up again after its lock expires (object and
        // manifest are rewritten whole, at the same keys).
        await Promise.race([compaction?.compaction.close(), new Promise((r) => setTimeout(r, 10_000))]);
        compaction?.redis.disconnect();
        await consumer.disconnect().catch(() => undefined);
        await producer.disconnect().catch(() => undefined);
      },
    };
  },
});

/** How often the flush loop asks the book for due windows: ≤ 1 s, ≤ half the flush interval. */
function flushTickMs(flushIntervalMs: number): number {
  return Math.max(50, Math.min(1_000, Math.floor(flushIntervalMs / 2)));
}
