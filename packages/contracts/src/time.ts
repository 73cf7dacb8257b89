/** All times are integer milliseconds since the Unix epoch, UTC. */

/** 2010-01-01T00:00:00Z: no derivatives data we serve is older. */
export const MIN_EPOCH_MS = 1_262_304_000_000;
/** 2100-01-01T00:00:00Z: anything later is a unit error (microseconds) or garbage. */
export const MAX_EPOCH_MS = 4_102_444_800_000;

export const TIMEFRAMES = ['1m', '5m', '15m', '1h', '4h', '1d'] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

const TIMEFRAME_MS: Record<Timeframe, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': 86_400_000,
};

export function timeframeMs(tf: Timeframe): number {
  return TIMEFRAME_MS[tf];
}

/** The open time of the bar of `tf` that contains `tMs` (UTC boundaries). */
export function barOpenMs(tMs: number, tf: Timeframe): number {
  const d = TIMEFRAME_MS[tf];
  return Math.floor(tMs / d) * d;
}

export function isOnBoundary(tMs: number, tf: Timeframe): boolean {
  return tMs % TIMEFRAME_MS[tf] === 0;
}

/** Explains why a number is not an epoch-milliseconds timestamp, or returns null. */
export function epochMsProblem(value: number): string | null {
  if (!Number.isInteger(value)) return 'must be an integer number of milliseconds';
  if (value >= 1_000_000_000 && value < 10_000_000_000) return 'looks like seconds, not milliseconds';
  if (value < MIN_EPOCH_MS) return `must be ≥ ${MIN_EPOCH_MS} (2010-01-01T00:00:00Z) in milliseconds`;
  if (value >= 1e15) return 'looks like microseconds or nanoseconds, not milliseconds';
  if (value > MAX_EPOCH_MS) return `must be ≤ ${MAX_EPOCH_MS} (2100-01-01T00:00:00Z)`;
  return null;
}
