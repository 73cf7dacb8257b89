/**
 * archiver: the four raw topics + perpflow.dlq.v1 ──▶ a buffer per topic-partition
 * (@perpflow/archive; rotated by bytes, records, age) ──▶ ledger entry, Parquet
 * object + manifest per (exchange, day), day index on S3 ──▶ offset commit of the
 * flush's last record + 1. Original bytes kept; nothing parsed is required.
 */
import { createKafkaClient, kafkaSettingsFromConfig, pipelineTopics } from '@perpflow/kafka';
import { pipelineTopicNames } from '@perpflow/contracts';
import { crashHook, runService, STACK_BUCKET_HINT } from '@perpflow/runtime';
import { createS3Client, S3ObjectStore, TimedObjectStore } from '@perpflow/s3';
import { ArchiveStore } from './adapters/archive-store.js';
import { loadConfig } from './config.js';
import type { FlushStep } from './crash-hook.js';
import { createArchiverMetrics } from './metrics.js';
import { ArchiverPipeline } from './pipeline.js';

runService({
  name: 'archiver',
  startHint: STACK_BUCKET_HINT,
  config: () => loadConfig(),
  metrics: () => createArchiverMetrics(),
  start: async ({ config, logger, metrics, setReady }) => {
    const kafka = createKafkaClient(kafkaSettingsFromConfig(config, 'archiver'), logger);
    const topics = [...config.ARCHIVER_TOPICS.keys()];
    // The pipeline's own topics are created as they are everywhere; others (tests) must exist.
    await kafka.ensureTopics(
      pipelineTopics(pipelineTopicNames(config.KAFKA_TOPIC_PREFIX)).filter((t) =>
        config.ARCHIVER_TOPICS.has(t.topic),
      ),
    );
    const atStep = crashHook<FlushStep>(config.ARCHIVER_CRASH_AT, 'ARCHIVER_CRASH_AT');
    const store = new ArchiveStore(
      new TimedObjectStore(new S3ObjectStore(createS3Client(config), config.S3_BUCKET), metrics),
      atStep,
    );
    const consumer = kafka.groupConsumer({
      groupId: config.ARCHIVER_GROUP_ID,
      sessionTimeoutMs: config.ARCHIVER_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: Math.min(3_000, Math.floor(config.ARCHIVER_SESSION_TIMEOUT_MS / 3)),
      maxBytesPerPartition: config.ARCHIVER_FETCH_MAX_BYTES,
    });
    const pipeline = new ArchiverPipeline({
      consumer,
      store,
      metrics,
      logger,
      now: Date.now,
      atStep,
      options: {
        prefix: config.S3_PREFIX,
        feeds: config.ARCHIVER_TOPICS,
        limits: {
          maxObjectBytes: config.ARCHIVER_MAX_OBJECT_BYTES,
          maxObjectRecords: config.ARCHIVER_MAX_OBJECT_RECORDS,
          maxObjectAgeMs: config.ARCHIVER_MAX_OBJECT_AGE_MS,
        },
        retryMaxDelayMs: config.ARCHIVER_S3_RETRY_MAX_DELAY_MS,
        maxBufferedBytes: config.ARCHIVER_MAX_BUFFERED_BYTES,
      },
    });
    consumer.onAssignment((assignment) => {
      pipeline.onGroupJoin();
      logger.info({ assignment }, 'partitions assigned');
    });
    await consumer.consume({
      topics,
      fromBeginning: config.ARCHIVER_FROM_BEGINNING,
      handle: (batch, heartbeat) => pipeline.handleBatch(batch, heartbeat),
    });
    // Age-based rotation: an idle partition's records are durable within max age + tick + write.
    const tickMs = Math.max(50, Math.min(1_000, Math.floor(config.ARCHIVER_MAX_OBJECT_AGE_MS / 4)));
    const timer = setInterval(() => {
      if (!pipeline.busy) void pipeline.flush();
    }, tickMs);
    setReady(true);
    logger.info(
      { group: config.ARCHIVER_GROUP_ID, topics, bucket: config.S3_BUCKET, prefix: config.S3_PREFIX },
      'archiver ready',
    );

    return {
      stop: async () => {
        clearInterval(timer);
        consumer.pause(topics.map((topic) => ({ topic })));
        // A last write and commit while the group is still joined (bounded): what is not
        // committed is re-read on restart, and its ledger entry fixes the same objects.
        await Promise.race([pipeline.flush(true), new Promise((r) => setTimeout(r, 10_000))]);
        pipeline.stop();
        await consumer.disconnect().catch(() => undefined);
      },
    };
  },
});
