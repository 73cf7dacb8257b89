import type { Logger } from '@perpflow/runtime';
import type { Consumer, Kafka, KafkaConfig } from 'kafkajs';
import { createIdempotentProducer, createKafka } from './client.js';
import { CoPartitionedAssigner } from './co-partitioned-assigner.js';
import type { ConsumeOptions, GroupConsumer, GroupConsumerOptions, KafkaClient } from './port.js';
import { ensureTopics } from './topics.js';

/**
 * The services' `KafkaClient` on kafkajs: one `Kafka` object (createKafka: our retries,
 * timeouts and logger), the idempotent producer, the admin, and group consumers that never
 * commit on their own. The only file that turns the port's calls into kafkajs's.
 */
export function createKafkaClient(settings: KafkaConfig, logger?: Logger): KafkaClient {
  const kafka = createKafka(settings, logger);
  return {
    ensureTopics: (specs) => ensureTopics(kafka, specs),
    idempotentProducer: () => createIdempotentProducer(kafka),
    admin: () => kafka.admin(),
    groupConsumer: (options) => new KafkajsGroupConsumer(kafka, options, logger),
  };
}

class KafkajsGroupConsumer implements GroupConsumer {
  private readonly consumer: Consumer;

  constructor(
    kafka: Kafka,
    options: GroupConsumerOptions,
    private readonly logger: Logger | undefined,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      ...(options.coPartitioned ? { partitionAssigners: [CoPartitionedAssigner] } : {}),
      ...(options.sessionTimeoutMs !== undefined ? { sessionTimeout: options.sessionTimeoutMs } : {}),
      ...(options.heartbeatIntervalMs !== undefined
        ? { heartbeatInterval: options.heartbeatIntervalMs }
        : {}),
      ...(options.maxBytesPerPartition !== undefined
        ? { maxBytesPerPartition: options.maxBytesPerPartition }
        : {}),
      ...(options.maxWaitTimeMs !== undefined ? { maxWaitTimeInMs: options.maxWaitTimeMs } : {}),
    });
  }

  onAssignment(listener: (assignment: Record<string, number[]>) => void): void {
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => listener(e.payload.memberAssignment));
  }

  onFetch(listener: () => void): void {
    this.consumer.on(this.consumer.events.FETCH, () => listener());
  }

  async consume(options: ConsumeOptions): Promise<void> {
    const onGiveUp = options.onGiveUp ?? ((error: Error) => exitForTheSupervisor(error, this.logger));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      const error = e.payload.error instanceof Error ? e.payload.error : new Error(String(e.payload.error));
      this.logger?.error({ err: error.message, restart: e.payload.restart }, 'consumer crashed');
      if (!e.payload.restart) onGiveUp(error);
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: options.partitionsConcurrently ?? 1,
      eachBatch: async ({ batch, heartbeat }) => options.handle(batch, heartbeat),
    });
  }

  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    return this.consumer.commitOffsets(offsets);
  }

  pause(topics: { topic: string; partitions?: number[] }[]): void {
    this.consumer.pause(topics);
  }

  resume(topics: { topic: string; partitions?: number[] }[]): void {
    this.consumer.resume(topics);
  }

  disconnect(): Promise<void> {
    return this.consumer.disconnect();
  }
}

/** The default when the client gives up: the process ends, the supervisor restarts it. */
function exitForTheSupervisor(error: Error, logger: Logger | undefined): void {
  const message = 'the Kafka consumer stopped for good; exiting so the supervisor restarts this service';
  if (logger) logger.error({ err: error.message }, message);
  else console.error(`${message}: ${error.message}`);
  setTimeout(() => process.exit(1), 200);
}
