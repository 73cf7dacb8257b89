/**
 * aligner: raw topics ──▶ contract ──▶ quality rules ──▶ event-time alignment ──▶ perpflow.aligned.bar.v1
 *                            └────────── rejected, late ──────────────────────────▶ perpflow.dlq.v1
 * Per partition in Redis: a write-ahead log of batches (before their outputs are produced) and a full
 * snapshot every ALIGNER_SNAPSHOT_INTERVAL_RECORDS / _MS; offsets committed after outputs are acked.
 */
import { pipelineTopicNames } from '@perpflow/contracts';
import { createKafkaClient, kafkaSettingsFromConfig, pipelineTopics } from '@perpflow/kafka';
import { crashHook, runService, STACK_HINT } from '@perpflow/runtime';
import { createS3Client } from '@perpflow/s3';
import { Redis } from 'ioredis';
import { RedisPartitionStateStore } from './adapters/partition-state.js';
import { publishVersionDescriptor } from './adapters/version-descriptor.js';
import { loadConfig, loadEngineConfig } from './config.js';
import { createPartitionEngine } from './domain/engine.js';
import { createAlignerMetrics } from './metrics.js';
import { rawTopicEnds } from './adapters/topic-ends.js';
import { AlignerPipeline, type PipelineStep } from './pipeline.js';
import { datasetVersionOf } from './version.js';

runService({
  name: 'aligner',
  startHint: STACK_HINT,
  config: () => loadConfig(),
  metrics: () => createAlignerMetrics(),
  start: async ({ config, logger, metrics, setReady }) => {
    const engineConfig = loadEngineConfig(config);
    const version = datasetVersionOf(engineConfig);
    metrics.datasetVersion.set({ version: version.id }, 1);
    const stopping = new AbortController();
    const descriptor = publishVersionDescriptor(
      { client: createS3Client(config), bucket: config.S3_BUCKET, prefix: config.S3_PREFIX },
      version,
      logger,
      stopping.signal,
    ).then(
      (ok) => metrics.datasetVersionDescriptor.set(ok ? 1 : 0),
      () => undefined, // aborted at shutdown
    );

    const kafka = createKafkaClient(kafkaSettingsFromConfig(config, 'aligner'), logger);
    const topics = pipelineTopicNames(config.KAFKA_TOPIC_PREFIX);
    await kafka.ensureTopics(pipelineTopics(topics));
    const producer = kafka.idempotentProducer();
    await producer.connect();
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
    const admin = kafka.admin();
    await admin.connect();
    const consumer = kafka.groupConsumer({
      groupId: config.ALIGNER_GROUP_ID,
      coPartitioned: true,
      sessionTimeoutMs: config.ALIGNER_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: 3_000,
      maxBytesPerPartition: config.ALIGNER_FETCH_MAX_BYTES_PER_PARTITION,
    });
    const pipeline = new AlignerPipeline({
      producerName: `aligner/${config.ALIGNER_GROUP_ID}`,
      datasetVersion: version.id,
      consumer,
      producer,
      state: new RedisPartitionStateStore(redis, config.ALIGNER_GROUP_ID),
      atStep:
        config.ALIGNER_CRASH_AT === ''
          ? undefined
          : crashHook<PipelineStep>(config.ALIGNER_CRASH_AT, 'ALIGNER_CRASH_AT'),
      maxBatchAttempts: config.ALIGNER_MAX_BATCH_ATTEMPTS,
      snapshotPolicy: {
        everyRecords: config.ALIGNER_SNAPSHOT_INTERVAL_RECORDS,
        everyMs: config.ALIGNER_SNAPSHOT_INTERVAL_MS,
      },
      createEngine: (snapshot) => createPartitionEngine(engineConfig, snapshot),
      ends: () => rawTopicEnds(admin, config.ALIGNER_GROUP_ID, config.ALIGNER_FROM_BEGINNING, topics),
      topics,
      mergePolicy: {
        maxWaitMs: config.ALIGNER_MERGE_MAX_WAIT_MS,
        maxQueuedBytes: config.ALIGNER_MERGE_MAX_QUEUED_BYTES,
        appendMarginMs: config.ALIGNER_MERGE_APPEND_MARGIN_MS,
      },
      metrics,
      logger,
      now: Date.now,
    });
    consumer.onAssignment((assignment) => pipeline.onAssignment(assignment));
    consumer.onFetch(() => pipeline.noteFetch());
    await consumer.consume({
      topics: Object.values(topics.raw),
      fromBeginning: config.ALIGNER_FROM_BEGINNING,
      handle: (batch, heartbeat) => pipeline.handleBatch(batch, heartbeat),
    });
    setReady(true);
    logger.info(
      { group: config.ALIGNER_GROUP_ID, timeframe: config.ALIGNER_TIMEFRAME, datasetVersion: version.id },
      'aligner ready',
    );

    return {
      stop: async () => {
        stopping.abort();
        await descriptor;
        pipeline.close();
        await consumer.disconnect().catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
        await producer.disconnect().catch(() => undefined);
        redis.disconnect();
      },
    };
  },
});
