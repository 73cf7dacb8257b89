// First: replaces four of kafkajs's produce hot spots before its modules load (see the file).
import './kafkajs-fast-paths.js';
// A failed ApiVersions request closes the broker's connection, so kafkajs's retry reconnects (see the file).
import './kafkajs-connect-fix.js';
// Request queues arm their check timer only while a request is pending, not every 1 ms for good (see the file).
import './kafkajs-idle-fix.js';
import { ConfigError, TOPIC_PREFIX_PATTERN } from '@perpflow/contracts';
import { env, type Logger } from '@perpflow/runtime';
import { createRequire } from 'node:module';
import { Kafka, type KafkaConfig, logLevel, Partitioners, type Producer, type SASLOptions } from 'kafkajs';
import { z } from 'zod';

/** The Kafka keys every service's config schema includes (spread into its z.object). */
export const kafkaConfigShape = {
  KAFKA_BROKERS: env.list(['127.0.0.1:39092']).describe('Kafka bootstrap servers, comma-separated host:port'),
  KAFKA_CLIENT_ID: z.string().optional().describe('Kafka client id (default: the service name)'),
  KAFKA_SSL: env.bool(false).describe('Use TLS to the brokers (required with SASL)'),
  KAFKA_SASL_MECHANISM: z
    .enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512'])
    .default('none')
    .describe(
      'SASL mechanism; any but none needs KAFKA_SSL=true, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD',
    ),
  KAFKA_SASL_USERNAME: z.string().optional().describe('SASL user name'),
  KAFKA_SASL_PASSWORD: z.string().optional().describe('SASL password (or KAFKA_SASL_PASSWORD_FILE)'),
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(TOPIC_PREFIX_PATTERN, 'letters, digits, _ . - only, at most 64 characters')
    .default('')
    .describe(
      'prepended to every pipeline topic name (raw topics, aligned bars, dead letters), e.g. "staging.": one pipeline per prefix on a shared cluster; every service of a pipeline must have the same; empty in production',
    ),
};
const kafkaConfigSchema = z.object(kafkaConfigShape);
export type KafkaEnvConfig = z.infer<typeof kafkaConfigSchema>;

/**
 * SASL only over TLS and with both credentials: PLAIN and SCRAM without TLS put
 * the password (or a replayable exchange) on the wire, and an empty password
 * would only fail later, at the broker, as an authentication error.
 */
export function checkKafkaSecurity(c: KafkaEnvConfig): void {
  if (c.KAFKA_SASL_MECHANISM === 'none') return;
  const m = `KAFKA_SASL_MECHANISM=${c.KAFKA_SASL_MECHANISM}`;
  if (!c.KAFKA_SSL)
    throw new ConfigError(
      'KAFKA_SSL',
      `${m} needs KAFKA_SSL=true: SASL credentials are not sent without TLS`,
    );
  if (c.KAFKA_SASL_USERNAME === undefined)
    throw new ConfigError('KAFKA_SASL_USERNAME', `${m} needs KAFKA_SASL_USERNAME`);
  if (c.KAFKA_SASL_PASSWORD === undefined)
    throw new ConfigError(
      'KAFKA_SASL_PASSWORD',
      `${m} needs KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)`,
    );
}

export function kafkaSettingsFromConfig(c: KafkaEnvConfig, service: string): KafkaConfig {
  checkKafkaSecurity(c);
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

/**
 * The broker errors kafkajs handles itself, by their messages (kafkajs 2.2.4's own table:
 * every error it marks retriable, and REBALANCE_IN_PROGRESS, on which a member rejoins).
 * kafkajs's connection logs every error response at error level before the code that
 * sent the request retries it: a CI run of the suite logged 211 "Response Heartbeat"
 * errors during ordinary rebalances and 18 "not the leader" answers right after topics
 * were created, and nothing was wrong. Should the retries run out, the error reaches the
 * caller and is logged where it surfaces.
 */
const HANDLED_RESPONSE_ERRORS: ReadonlySet<string> = (() => {
  try {
    const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
      errorCodes: { type: string; message: string; retriable: boolean }[];
    };
    return new Set(
      errorCodes.filter((e) => e.retriable || e.type === 'REBALANCE_IN_PROGRESS').map((e) => e.message),
    );
  } catch {
    return new Set(); // another kafkajs layout: every response error stays an error
  }
})();

/**
 * kafkajs warns at every idempotent producer's creation when its retries are bounded (ours
 * are: 8, from createKafka), since an application that re-sends after they run out may write
 * a record twice. That is this design: a send that fails after its retries fails the
 * batch, nothing is committed, the batch is consumed and sent again, and every stage that
 * derives data from our topics takes a record twice as once (bars by key and revision, raw
 * records by their content fingerprint; the raw archive keeps both, as Kafka held them). Unbounded retries would instead retry in silence for as long as
 * the broker is away. Logged at info, as the choice it is.
 */
const BOUNDED_IDEMPOTENT_RETRIES = 'Limiting retries for the idempotent producer';

/**
 * The level a kafkajs log entry gets: a response error kafkajs handles itself is debug,
 * the bounded-retries notice info.
 */
export function kafkajsLogLevel(
  level: number,
  namespace: string,
  message: string,
  error: unknown,
): 'error' | 'warn' | 'info' | 'debug' {
  if (
    level === logLevel.ERROR &&
    namespace === 'Connection' &&
    message.startsWith('Response ') &&
    typeof error === 'string' &&
    HANDLED_RESPONSE_ERRORS.has(error)
  )
    return 'debug';
  if (level === logLevel.WARN && namespace === 'Producer' && message.startsWith(BOUNDED_IDEMPOTENT_RETRIES))
    return 'info';
  return LEVEL_NAMES[level] ?? 'info';
}

let kafkajsTimeoutWarningDropped = false;

/**
 * kafkajs 2.2.4 (its last release) schedules its request queue's check with a negative
 * delay whenever it is not throttled (`throttledUntil` starts at -1). Node 20 clamped that
 * to 1 ms silently; Node 24 clamps it the same way and prints a TimeoutNegativeWarning once
 * per process. This drops exactly that warning, recognised by the kafkajs frame in its
 * stack; every other warning still reaches Node's own printer. Called by createKafka, and by
 * code that builds a kafkajs client itself.
 */
export function dropKafkajsTimeoutWarning(): void {
  if (kafkajsTimeoutWarningDropped) return;
  kafkajsTimeoutWarningDropped = true;
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (
      w.name === 'TimeoutNegativeWarning' &&
      /kafkajs[\\/]src[\\/]network[\\/]requestQueue/.test(w.stack ?? '')
    )
      return;
    for (const print of printers) print.call(process, w);
  });
}

/** A kafkajs client whose own logs go through our structured logger (never with SASL secrets). */
export function createKafka(settings: KafkaConfig, logger?: Logger): Kafka {
  dropKafkajsTimeoutWarning();
  return new Kafka({
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries: 8 },
    ...settings,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      logger[kafkajsLogLevel(entry.level, entry.namespace, message, rest.error)](
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
