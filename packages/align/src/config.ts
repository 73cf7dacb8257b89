import { ConfigError, TimeframeSchema } from '@perpflow/contracts';
import { z } from 'zod';

const ms = (def: number) => z.number().int().min(0).default(def);

/** What a missing candle becomes. */
export const FillPolicySchema = z.enum(['previous-close', 'skip']);
export type FillPolicy = z.infer<typeof FillPolicySchema>;

/**
 * Alignment options of one stream (exchange, symbol, timeframe). Defaults suit
 * 1m bars; see the README for the exact semantics of each.
 */
export const AlignConfigSchema = z.strictObject({
  /** The bar grid. */
  timeframe: TimeframeSchema.default('1m'),
  /** A bar [t, t+tf) is emitted once the watermark reaches t + tf + this. */
  allowedLatenessMs: ms(5_000),
  /** Inputs with event time ≥ watermark − this still revise bars; older ones are `late` rejections. */
  revisionHorizonMs: ms(86_400_000),
  fillPolicy: FillPolicySchema.default('previous-close'),
  /** Open interest older than this at the bar close is not used (null, openInterestStale). */
  maxOpenInterestStalenessMs: ms(600_000),
  /** Mark and index prices older than this at the bar close are not used (null). */
  maxMarkIndexStalenessMs: ms(600_000),
  /**
   * The funding interval assumed until a symbol's own settlements show it (a bar's
   * interval is its settlement minus the one before): the longest of the venues served
   * (Binance/Bybit/OKX: 8 h; some symbols settle every 1–4 h).
   */
  fundingIntervalMs: ms(8 * 3_600_000),
  /** fundingStale when the latest settlement is older than the symbol's interval + this at the bar close. */
  fundingGraceMs: ms(30 * 60_000),
});
export type AlignConfig = z.infer<typeof AlignConfigSchema>;
export type AlignConfigInput = z.input<typeof AlignConfigSchema>;

export const DEFAULT_ALIGN_CONFIG: AlignConfig = AlignConfigSchema.parse({});

/** Parses align options; throws a ConfigError naming the key, e.g. `align.revisionHorizonMs`. */
export function parseAlignConfig(input: unknown, keyPrefix = 'align'): AlignConfig {
  const res = AlignConfigSchema.safeParse(input ?? {});
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const path = [keyPrefix, ...issue.path.map(String)];
  if (issue.code === 'unrecognized_keys') path.push(issue.keys[0] ?? '');
  throw new ConfigError(path.filter((p) => p !== '').join('.'), issue.message);
}

/**
 * The align code's version in dataset version ids: bump it with any change to what
 * the engine emits for the same inputs and config (a new id keeps old trees apart).
 */
export const ALIGN_ENGINE_VERSION = 'align 3';
