import { env, type Logger } from '@perpflow/runtime';
import { Kafka, type KafkaConfig, logLevel, Partitioners, type Producer, type SASLOptions } from 'kafkajs';
import { z } from 'zod';

/** The Kafka keys every service's config schema includes (spread into its z.object). */
export const kafkaConfigShape = {
  KAFKA_BROKERS: env.list(['127.0.0.1:39092']).describe('Kafka bootstrap servers, comma-separated host:port'),
  KAFKA_CLIENT_ID: z.string().optional().describe('Kafka client id (default: the service name)'),
  KAFKA_SSL: env.bool(false).describe('Use TLS to the brokers'),
  KAFKA_SASL_MECHANISM: z
    .enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512'])
    .default('none')
    .describe('SASL mechanism'),
  KAFKA_SASL_USERNAME: z.string().optional().describe('SASL user name'),
  KAFKA_SASL_PASSWORD: z.string().optional().describe('SASL password (or KAFKA_SASL_PASSWORD_FILE)'),
};
const kafkaConfigSchema = z.object(kafkaConfigShape);
export type KafkaEnvConfig = z.infer<typeof kafkaConfigSchema>;

export function kafkaSettingsFromConfig(c: KafkaEnvConfig, service: string): KafkaConfig {
  let sasl: SASLOptions | undefined;
  if (c.KAFKA_SASL_MECHANISM !== 'none') {
    sasl = {
      mechanism: c.KAFKA_SASL_MECHANISM,
      username: c.KAFKA_SASL_USERNAME ?? '',
      password: c.KAFKA_SASL_PASSWORD ?? '',
    } as SASLOptions;
  }
  return {
    clientId: c.KAFKA_CLIENT_ID ?? `perpflow-${service}`,
    brokers: c.KAFKA_BROKERS,
    ssl: c.KAFKA_SSL,
    ...(sasl ? { sasl } : {}),
  };
}

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own logs go through our structured logger (never with SASL secrets). */
export function createKafka(settings: KafkaConfig, logger?: Logger): Kafka {
  return new Kafka({
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries: 8 },
    ...settings,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      logger[LEVEL_NAMES[entry.level] ?? 'info'](
        { kafka: { namespace: entry.namespace, ...rest } },
        `kafkajs: ${message}`,
      );
    },
  });
}

/**
 * An idempotent producer (acks=all, one request in flight so per-partition order
 * holds across retries). Keys use Kafka's Java-compatible murmur2 partitioner, so
 * non-TypeScript producers put the same key on the same partition.
 */
export function createIdempotentProducer(kafka: Kafka, transactionalId?: string): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    ...(transactionalId ? { transactionalId } : {}),
  });
}
