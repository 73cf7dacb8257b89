import { EXCHANGES, FEEDS, TIMEFRAMES } from '@perpflow/contracts';
import { checkKafkaSecurity, kafkaConfigShape } from '@perpflow/kafka';
import { env, parseConfig, redisUrlKey, serviceKeys } from '@perpflow/runtime';
import { z } from 'zod';
import { INGEST_VENUES, SUPPORTED_EXCHANGES } from './venues/index.js';

/** Shared by the service and the backfill CLI, so both read one default and one rule. */
const backfillQueueKey = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only')
  .default('perpflow-backfill')
  .describe(
    'prefix of the BullMQ backfill queues (the CLI reads the same variable): workers on one prefix must point at the same exchanges',
  );
const redisUrl = redisUrlKey('Redis for BullMQ jobs and checkpoints');

/**
 * exchange-ingest configuration: one zod schema over environment variables,
 * parsed once at start-up; a bad value stops start-up naming the key.
 */
export const IngestConfigSchema = z
  .object({
    ...kafkaConfigShape,
    INGEST_EXCHANGES: env
      .list(['binanceusdm'])
      .pipe(
        z
          .array(
            z.enum(EXCHANGES).refine((id) => INGEST_VENUES[id] !== undefined, {
              message: `has no ingest venue module yet; supported: ${SUPPORTED_EXCHANGES.join(', ')}`,
            }),
          )
          .min(1),
      )
      .describe(
        `ccxt ids of the exchanges to ingest, comma-separated (those with a module in src/venues: ${SUPPORTED_EXCHANGES.join(', ')})`,
      ),
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
    INGEST_BACKFILL_QUEUE: backfillQueueKey,
    INGEST_BACKFILL_CONCURRENCY: env
      .int(2, { min: 1, max: 32 })
      .describe('backfill jobs in flight per process'),
    INGEST_BACKFILL_LOCK_MS: env
      .int(30_000, { min: 5_000 })
      .describe(
        'BullMQ job lock and stalled-check interval: a job whose worker died (SIGKILL, lost host) is taken up again after one to two times this long; renewed every half of it while the job runs',
      ),
    INGEST_CRASH_AT: z
      .string()
      .regex(/^(|after-job-completed(:[1-9][0-9]*)?)$/, 'empty, or after-job-completed[:n]')
      .default('')
      .describe(
        "TEST ONLY: the process SIGKILLs itself the n-th (default first) time a backfill job is completed in BullMQ, before the worker's own 'completed' handler runs (crash tests); empty in production",
      ),
    INGEST_CANDLES: z
      .enum(['websocket', 'rest'])
      .default('websocket')
      .describe(
        'live candles from the kline websocket (closed candles only; REST fills gaps) or REST polling of every symbol',
      ),
    INGEST_CANDLE_DELAY_MS: env
      .int(1_500, { min: 0 })
      .describe('REST candles: poll closed candles this long after each bar close'),
    INGEST_CANDLE_GAP_CHECK_MS: env
      .int(10_000, { min: 0 })
      .describe(
        'websocket candles: this long after each bar close, REST polls the symbols whose closed candle has not arrived',
      ),
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
    INGEST_BUDGET_SHARE: env
      .number(0.8, { gt: 0, max: 1 })
      .describe(
        "share of each exchange's per-IP rate budget this process may use (live + backfill); workers sharing an IP split it",
      ),
    INGEST_RATE_LIMIT_MS: env
      .int(0, { min: 0 })
      .describe(
        'override the ccxt throttle (ms per cost unit); 0 = derived from the budget share (ccxt default for venues without a known budget)',
      ),
    REDIS_URL: redisUrl,
    ...serviceKeys({ metricsPort: 39101 }),
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
  const config = parseConfig(IngestConfigSchema, environment, { prefixes: ['INGEST_'] });
  checkKafkaSecurity(config);
  return config;
}

/** `perpflow-backfill` (the CLI): the two keys it shares with the service, nothing else. */
export const BackfillCliConfigSchema = z.object({
  REDIS_URL: redisUrl,
  INGEST_BACKFILL_QUEUE: backfillQueueKey,
});
export type BackfillCliConfig = z.infer<typeof BackfillCliConfigSchema>;

export function loadBackfillCliConfig(
  environment: Record<string, string | undefined> = process.env,
): BackfillCliConfig {
  return parseConfig(BackfillCliConfigSchema, environment);
}

export function endpointOverrides(c: IngestConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of c.INGEST_ENDPOINTS.split(',').filter(Boolean)) {
    const [ex, url] = part.split('=');
    if (ex && url) m.set(ex, url);
  }
  return m;
}
