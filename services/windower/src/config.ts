import { kafkaConfigShape } from '@perpflow/kafka';
import { env, parseConfig } from '@perpflow/runtime';
import { z } from 'zod';
import { s3ConfigShape } from './adapters/s3.js';

/** windower configuration: one zod schema over environment variables, parsed at start-up. */
export const WindowerConfigSchema = z.object({
  ...kafkaConfigShape,
  ...s3ConfigShape,
  WINDOWER_GROUP_ID: z
    .string()
    .min(1)
    .default('perpflow-windower')
    .describe('Kafka consumer group on perpflow.aligned.bar.v1'),
  WINDOWER_FROM_BEGINNING: env
    .bool(true)
    .describe('a new consumer group starts at the earliest retained offset'),
  WINDOWER_SESSION_TIMEOUT_MS: env
    .int(30_000, { min: 6_000 })
    .describe('Kafka session timeout: how long a crashed member holds its partitions'),
  WINDOWER_FLUSH_INTERVAL_MS: env
    .int(10_000, { min: 100 })
    .describe('a changed window is written at most this often; live data reaches S3 within it'),
  WINDOWER_MAX_BUFFERED_ROWS: env
    .int(500_000, { min: 1 })
    .describe('rows of changed windows held before consumption waits for a flush'),
  WINDOWER_WINDOW_IDLE_MS: env
    .int(600_000, { min: 0 })
    .describe('a written window untouched this long leaves memory (reloaded from S3 when needed)'),
  WINDOWER_S3_RETRY_MAX_DELAY_MS: env
    .int(30_000, { min: 10 })
    .describe('upper bound of the backoff between S3 retries'),
  METRICS_HOST: z.string().default('127.0.0.1').describe('bind address of /metrics, /healthz, /readyz'),
  METRICS_PORT: env.port(39103).describe('port of /metrics, /healthz, /readyz'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});
export type WindowerConfig = z.infer<typeof WindowerConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): WindowerConfig {
  return parseConfig(WindowerConfigSchema, environment);
}
