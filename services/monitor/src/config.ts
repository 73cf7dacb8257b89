import { TIMEFRAMES } from '@perpflow/contracts';
import { DRIFT_FEATURES, DRIFT_THRESHOLDS, KS_DEFAULTS, PSI_DEFAULTS } from '@perpflow/drift';
import { checkKafkaSecurity, kafkaConfigShape } from '@perpflow/kafka';
import { env, parseConfig, serviceKeys } from '@perpflow/runtime';
import { checkS3Credentials, s3ConfigShape } from '@perpflow/s3';
import { z } from 'zod';

const HOUR_MS = 3_600_000;
const number = (def: number, min: number, max = Number.MAX_VALUE) => env.number(def, { min, max });

/** monitor configuration: one zod schema over environment variables, parsed at start-up. */
export const MonitorConfigSchema = z
  .object({
    ...kafkaConfigShape,
    MONITOR_GROUP_ID: z
      .string()
      .min(1)
      .default('perpflow-monitor')
      .describe(
        'Kafka consumer group on perpflow.aligned.bar.v1 (offsets are never committed: windows are rebuilt from the topic)',
      ),
    MONITOR_FROM_BEGINNING: env
      .bool(true)
      .describe(
        'read the retained aligned topic from its start (fills the windows); false: only bars produced from now on',
      ),
    MONITOR_EXCHANGES: env
      .list(['binanceusdm'])
      .describe('exchanges monitored (label values), comma-separated ccxt ids'),
    MONITOR_SYMBOLS: env
      .list(['BTC/USDT:USDT', 'ETH/USDT:USDT'])
      .describe(
        'symbols monitored (label values), comma-separated unified symbols; bars of others are ignored',
      ),
    MONITOR_TIMEFRAME: z.enum(TIMEFRAMES).default('1m').describe('timeframe of the aligned bars compared'),
    MONITOR_FEATURES: env
      .list([...DRIFT_FEATURES])
      .pipe(z.array(z.enum(DRIFT_FEATURES)).min(1))
      .describe(`drift features compared, comma-separated: ${DRIFT_FEATURES.join(', ')}`),
    MONITOR_CROSS_VENUE: env
      .bool(true)
      .describe(
        "also compare each symbol's funding rate and open-interest change with the same symbol on the other exchanges",
      ),
    MONITOR_BASELINE: z
      .enum(['trailing', 's3'])
      .default('trailing')
      .describe(
        'reference window: `trailing` (the window before the recent one) or `s3` (a pinned baseline object)',
      ),
    MONITOR_BASELINE_KEY: z
      .string()
      .default('')
      .describe(
        'with MONITOR_BASELINE=s3: key of the baseline JSON under S3_PREFIX (e.g. drift/v1/baseline/2026-01.json)',
      ),
    MONITOR_RECENT_WINDOW_MS: env
      .int(6 * HOUR_MS, { min: 1_000 })
      .describe('length of the recent window (event time)'),
    MONITOR_REFERENCE_WINDOW_MS: env
      .int(48 * HOUR_MS, { min: 1_000 })
      .describe('length of the trailing reference window just before the recent one'),
    MONITOR_MIN_SAMPLES: env
      .int(60, { min: 1 })
      .describe('a window with fewer feature values is not compared (no gauge for that series and feature)'),
    MONITOR_EVAL_INTERVAL_MS: env.int(60_000, { min: 100 }).describe('how often the windows are compared'),
    MONITOR_PSI_BINS: env
      .int(PSI_DEFAULTS.bins, { min: 2, max: 100 })
      .describe('PSI bins (reference quantiles)'),
    MONITOR_PSI_EPSILON: number(PSI_DEFAULTS.epsilon, 1e-12, 0.1).describe(
      'floor of a PSI bin share (empty bins)',
    ),
    MONITOR_PSI_SIGNIFICANT: number(DRIFT_THRESHOLDS.psiSignificant, 0).describe(
      'PSI at or above: significant drift',
    ),
    MONITOR_PSI_MODERATE: number(DRIFT_THRESHOLDS.psiModerate, 0).describe(
      'PSI at or above (below significant): moderate',
    ),
    MONITOR_KS_ALPHA: number(DRIFT_THRESHOLDS.ksAlpha, 0, 1).describe('KS p-value below this: drift'),
    MONITOR_KS_EXACT_MAX_PRODUCT: env
      .int(KS_DEFAULTS.exactMaxProduct, { min: 0 })
      .describe('exact KS p-value while n·m is at most this, asymptotic above'),
    MONITOR_WASSERSTEIN_THRESHOLD: number(DRIFT_THRESHOLDS.wassersteinNormalized, 0).describe(
      'Wasserstein-1 / reference standard deviation at or above this: drift',
    ),
    MONITOR_MIN_BREACHING_TESTS: env
      .int(DRIFT_THRESHOLDS.minBreachingTests, { min: 1, max: 3 })
      .describe('tests (PSI, KS, Wasserstein) that must breach for perpflow_drift_breach = 1'),
    MONITOR_REPORT_INTERVAL_MS: env
      .int(300_000, { min: 1_000 })
      .describe("how often the day's JSON drift report is (re)written to S3 (0 breaches are reported too)"),
    MONITOR_SLA_CANDLE_SECONDS: env
      .int(0, { min: 0 })
      .describe(
        'freshness SLA of candles (feed ohlcv) and aligned bars (feed bar); 0 = 2 × MONITOR_TIMEFRAME',
      ),
    MONITOR_SLA_OPEN_INTEREST_SECONDS: env.int(300, { min: 1 }).describe('freshness SLA of open interest'),
    MONITOR_SLA_FUNDING_SECONDS: env
      .int(8 * 3_600 + 1_800, { min: 1 })
      .describe('freshness SLA of funding: the 8 h interval plus 30 min grace'),
    MONITOR_LAG_GROUPS: env
      .list(['perpflow-windower'])
      .describe('consumer groups whose lag is exported (the aligner exports its own)'),
    MONITOR_LAG_INTERVAL_MS: env.int(15_000, { min: 500 }).describe('how often consumer lag is read'),
    ...s3ConfigShape,
    S3_PREFIX: s3ConfigShape.S3_PREFIX.describe(
      'key prefix of the dataset; reports go to <prefix>/drift/v1/date=YYYY-MM-DD/',
    ),
    ...serviceKeys({ metricsPort: 39104 }),
  })
  .superRefine((c, ctx) => {
    if (c.MONITOR_BASELINE === 's3' && !c.MONITOR_BASELINE_KEY)
      ctx.addIssue({
        code: 'custom',
        path: ['MONITOR_BASELINE_KEY'],
        message: 'required with MONITOR_BASELINE=s3',
      });
    if (c.MONITOR_PSI_MODERATE > c.MONITOR_PSI_SIGNIFICANT)
      ctx.addIssue({
        code: 'custom',
        path: ['MONITOR_PSI_MODERATE'],
        message: 'must be ≤ MONITOR_PSI_SIGNIFICANT',
      });
  });
export type MonitorConfig = z.infer<typeof MonitorConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): MonitorConfig {
  const config = parseConfig(MonitorConfigSchema, environment, { prefixes: ['MONITOR_'] });
  checkKafkaSecurity(config);
  checkS3Credentials(config);
  return config;
}
