import { EXCHANGES, FEEDS, TIMEFRAMES } from '@perpflow/contracts';
import { kafkaConfigShape } from '@perpflow/kafka';
import { env, parseConfig } from '@perpflow/runtime';
import { z } from 'zod';

/**
 * exchange-ingest configuration: one zod schema over environment variables,
 * parsed once at start-up; a bad value stops start-up naming the key.
 */
export const IngestConfigSchema = z
  .object({
    ...kafkaConfigShape,
    INGEST_EXCHANGES: env
      .list(['binanceusdm'])
      .pipe(z.array(z.enum(EXCHANGES)).min(1))
      .describe('ccxt ids of the exchanges to ingest, comma-separated'),
    INGEST_SYMBOLS: z
      .string()
      .default('all')
      .describe(
        '`all` (every active linear perpetual), or comma-separated unified symbols (BTC/USDT:USDT,...)',
      ),
    INGEST_SYMBOL_LIMIT: env
      .int(0, { min: 0 })
      .describe('keep only the first N symbols of each exchange (0 = no limit)'),
    INGEST_SHARD: z
      .string()
      .regex(/^[0-9]+\/[1-9][0-9]*$/, 'must be i/n, e.g. 0/2')
      .default('0/1')
      .describe(
        'this worker takes the symbols whose stable hash mod n = i (scale-out by sharding the universe)',
      ),
    INGEST_TIMEFRAME: z.enum(TIMEFRAMES).default('1m').describe('candle timeframe'),
    INGEST_FEEDS: env
      .list([...FEEDS])
      .pipe(z.array(z.enum(FEEDS)).min(1))
      .describe('feeds to ingest live'),
    INGEST_LIVE: env.bool(true).describe('run the live loops (false: backfill worker only)'),
    INGEST_BACKFILL_WORKER: env.bool(true).describe('run the BullMQ backfill worker in this process'),
    INGEST_BACKFILL_CONCURRENCY: env
      .int(2, { min: 1, max: 32 })
      .describe('backfill jobs in flight per process'),
    INGEST_CANDLE_DELAY_MS: env
      .int(1_500, { min: 0 })
      .describe('poll closed candles this long after each bar close'),
    INGEST_OI_POLL_MS: env.int(60_000, { min: 1_000 }).describe('open-interest poll interval per symbol'),
    INGEST_FUNDING_POLL_MS: env
      .int(60_000, { min: 1_000 })
      .describe('bulk premium-index (predicted funding) poll interval'),
    INGEST_FUNDING_HISTORY_POLL_MS: env
      .int(600_000, { min: 10_000 })
      .describe('settled funding history poll interval per symbol'),
    INGEST_ENDPOINTS: z
      .string()
      .default('')
      .describe(
        'per-exchange base URL overrides: `binanceusdm=http://127.0.0.1:39200,bybit=...` (the simulator, a proxy)',
      ),
    INGEST_RATE_LIMIT_MS: env
      .int(0, { min: 0 })
      .describe('override ccxt rateLimit (ms between request-weight units); 0 = ccxt default'),
    REDIS_URL: z
      .string()
      .default('redis://127.0.0.1:36379')
      .describe('Redis for BullMQ jobs and checkpoints'),
    METRICS_HOST: z.string().default('127.0.0.1').describe('bind address of /metrics, /healthz, /readyz'),
    METRICS_PORT: env.port(39101).describe('port of /metrics, /healthz, /readyz'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  })
  .superRefine((c, ctx) => {
    for (const part of c.INGEST_ENDPOINTS.split(',').filter(Boolean)) {
      const [ex, url] = part.split('=');
      if (!ex || !url || !(EXCHANGES as readonly string[]).includes(ex) || !/^https?:\/\/[^/]+$/.test(url))
        ctx.addIssue({
          code: 'custom',
          path: ['INGEST_ENDPOINTS'],
          message: `entry "${part}" must be <exchange>=<http(s)://host:port> with a known exchange`,
        });
    }
    const [i, n] = c.INGEST_SHARD.split('/').map(Number);
    if (i! >= n!) ctx.addIssue({ code: 'custom', path: ['INGEST_SHARD'], message: 'index must be < count' });
  });
export type IngestConfig = z.infer<typeof IngestConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): IngestConfig {
  return parseConfig(IngestConfigSchema, environment);
}

export function endpointOverrides(c: IngestConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of c.INGEST_ENDPOINTS.split(',').filter(Boolean)) {
    const [ex, url] = part.split('=');
    if (ex && url) m.set(ex, url);
  }
  return m;
}
