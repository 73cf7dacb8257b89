import { TIMEFRAMES } from '@perpflow/contracts';
import { kafkaConfigShape } from '@perpflow/kafka';
import { env, parseConfig } from '@perpflow/runtime';
import { z } from 'zod';

/** aligner configuration: one zod schema over environment variables, parsed at start-up. */
export const AlignerConfigSchema = z.object({
  ...kafkaConfigShape,
  ALIGNER_GROUP_ID: z
    .string()
    .min(1)
    .default('perpflow-aligner')
    .describe('Kafka consumer group (and snapshot namespace)'),
  ALIGNER_TIMEFRAME: z.enum(TIMEFRAMES).default('1m').describe('bar timeframe of the aligned grid'),
  ALIGNER_ALLOWED_LATENESS_MS: env
    .int(5_000, { min: 0 })
    .describe('a bar is emitted once the watermark passes its close plus this'),
  ALIGNER_REVISION_HORIZON_MS: env
    .int(86_400_000, { min: 0 })
    .describe(
      'late data within this (event time behind the watermark) re-emits its bar as a revision; older goes to the dead-letter topic',
    ),
  ALIGNER_FILL_POLICY: z
    .enum(['previous-close', 'skip'])
    .default('previous-close')
    .describe('what a missing candle becomes'),
  ALIGNER_QUALITY_CONFIG: z
    .string()
    .default('')
    .describe('path of a JSON file overriding quality-rule thresholds (see packages/quality/README.md)'),
  ALIGNER_FROM_BEGINNING: env
    .bool(true)
    .describe('a new consumer group starts at the earliest retained offset'),
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:36379')
    .describe('Redis for per-partition state snapshots'),
  METRICS_HOST: z.string().default('127.0.0.1').describe('bind address of /metrics, /healthz, /readyz'),
  METRICS_PORT: env.port(39102).describe('port of /metrics, /healthz, /readyz'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});
export type AlignerConfig = z.infer<typeof AlignerConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): AlignerConfig {
  return parseConfig(AlignerConfigSchema, environment);
}
