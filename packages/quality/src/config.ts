import { ConfigError, TIMEFRAMES, type Timeframe } from '@perpflow/contracts';
import { z } from 'zod';
import { DEFAULT_RULE_ACTIONS, RULE_IDS, type RuleAction, type RuleId } from './rules.js';

/**
 * Every threshold of the quality rules, in one schema with defaults. The
 * defaults and the reason for each are in this package's README. Objects are
 * strict: a misspelt key fails with its path instead of being ignored.
 */
const HOUR_MS = 3_600_000;

const ms = (def: number) => z.number().int().min(0).default(def);
const fraction = (def: number) => z.number().positive().default(def);
const perTimeframe = (defaults: Record<Timeframe, number>) =>
  z
    .strictObject(
      Object.fromEntries(TIMEFRAMES.map((tf) => [tf, fraction(defaults[tf])])) as Record<
        Timeframe,
        z.ZodDefault<z.ZodNumber>
      >,
    )
    .prefault({});

export const RuleActionSettingSchema = z.enum(['reject', 'drop', 'flag', 'off']);
export type RuleActionSetting = z.infer<typeof RuleActionSettingSchema>;

export const QualityConfigSchema = z.strictObject({
  /** Tolerated clock difference between the exchange, ingest and the aligner. */
  clockSkewMs: ms(5_000),
  /** Largest receive delay of a LIVE record (backfill is exempt), per feed. */
  maxAgeMs: z
    .strictObject({
      candle: ms(6 * HOUR_MS),
      open_interest: ms(6 * HOUR_MS),
      funding: ms(16 * HOUR_MS),
      liquidation: ms(6 * HOUR_MS),
    })
    .prefault({}),
  funding: z
    .strictObject({
      /** |fundingRate| above this (fraction per interval) is rejected. */
      maxAbsRate: fraction(0.03),
    })
    .prefault({}),
  liquidation: z
    .strictObject({
      /** |price / last close - 1| above this is flagged. */
      priceBand: fraction(0.1),
      /** The last close is only used when its close time is this near the liquidation. */
      maxCloseDistanceMs: ms(HOUR_MS),
    })
    .prefault({}),
  priceJump: z
    .strictObject({
      /** |close / previous close - 1| above this (scaled by sqrt(bars apart)) is flagged. */
      maxRelativeChange: perTimeframe({ '1m': 0.2, '5m': 0.25, '15m': 0.3, '1h': 0.4, '4h': 0.5, '1d': 0.8 }),
    })
    .prefault({}),
  outlier: z
    .strictObject({
      /** Closes kept for the rolling median / MAD. */
      window: z.number().int().min(3).default(60),
      /** No MAD verdict before this many closes are in the window. */
      minSamples: z.number().int().min(3).default(20),
      /** |close - median| / MAD above this is flagged. */
      madThreshold: fraction(10),
      /** MAD floor as a fraction of the median, so a flat window does not flag every tick. */
      minRelativeMad: fraction(0.0005),
    })
    .prefault({}),
  frozen: z
    .strictObject({
      /** This many consecutive traded candles with the identical close are flagged. */
      candleCloseRun: z.number().int().min(2).default(15),
      /** This many consecutive identical open-interest values are flagged. */
      openInterestRun: z.number().int().min(2).default(30),
    })
    .prefault({}),
  dedupe: z
    .strictObject({
      /** Identities remembered per stream, by event time behind the newest record. */
      windowMs: ms(6 * HOUR_MS),
      /** Hard cap of identities remembered per stream (oldest forgotten first). */
      maxEntries: z.number().int().min(1).default(10_000),
    })
    .prefault({}),
  /** Per-rule action overrides; `off` disables a rule. */
  actions: z.partialRecord(z.enum(RULE_IDS), RuleActionSettingSchema).default({}),
});
export type QualityConfig = z.infer<typeof QualityConfigSchema>;
export type QualityConfigInput = z.input<typeof QualityConfigSchema>;

export const DEFAULT_QUALITY_CONFIG: QualityConfig = QualityConfigSchema.parse({});

/**
 * Parses a quality config (e.g. the JSON file named by ALIGNER_QUALITY_CONFIG).
 * Throws a ConfigError naming the offending key, e.g. `quality.outlier.window`.
 */
export function parseQualityConfig(input: unknown, keyPrefix = 'quality'): QualityConfig {
  const res = QualityConfigSchema.safeParse(input ?? {});
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const path = [keyPrefix, ...issue.path.map(String)];
  if (issue.code === 'unrecognized_keys') path.push(issue.keys[0] ?? '');
  return failConfig(path.filter((p) => p !== '').join('.'), issue.message);
}

function failConfig(key: string, message: string): never {
  throw new ConfigError(key, message);
}

/** The effective action of a rule, or null when the rule is switched off. */
export function actionOf(config: QualityConfig, ruleId: RuleId): RuleAction | null {
  const setting = config.actions[ruleId] ?? DEFAULT_RULE_ACTIONS[ruleId];
  return setting === 'off' ? null : setting;
}

/**
 * The quality code's version in dataset version ids: bump it with any change to what
 * the rules accept, drop or flag for the same inputs and config.
 */
export const QUALITY_ENGINE_VERSION = 'quality 1';
