import type { Timeframe } from '@perpflow/contracts';

/**
 * How much time one object covers, per timeframe. Windows are UTC calendar units,
 * so file boundaries match how people query (a day, a month).
 */
export type WindowUnit = 'day' | 'month' | 'year';
export type WindowPolicy = Readonly<Record<Timeframe, WindowUnit>>;

/**
 * Default: ~300–3,000 rows per file. 1m → a day (1,440 rows), 5m → a day (288),
 * 15m → a month (~2,900), 1h → a month (~720), 4h → a year (~2,190), 1d → a year (365).
 * The unit is part of the dataset's layout: it is written in every manifest and
 * index, and changing it for a timeframe needs a new layout version (readers rely
 * on the index, never on this table, to know what a file covers).
 */
export const DEFAULT_WINDOW_POLICY: WindowPolicy = {
  '1m': 'day',
  '5m': 'day',
  '15m': 'month',
  '1h': 'month',
  '4h': 'year',
  '1d': 'year',
};

/** Start of the UTC window of `unit` that contains tMs. */
export function windowStartOf(tMs: number, unit: WindowUnit): number {
  const d = new Date(tMs);
  switch (unit) {
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'year':
      return Date.UTC(d.getUTCFullYear(), 0, 1);
  }
}

/** End (exclusive) of the window that starts at startMs. */
export function windowEndOf(startMs: number, unit: WindowUnit): number {
  const d = new Date(startMs);
  switch (unit) {
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    case 'year':
      return Date.UTC(d.getUTCFullYear() + 1, 0, 1);
  }
}

export function isWindowStart(tMs: number, unit: WindowUnit): boolean {
  return Number.isSafeInteger(tMs) && windowStartOf(tMs, unit) === tMs;
}

/** Window starts of every window overlapping [fromMs, toMs), in order. */
export function windowStartsCovering(fromMs: number, toMs: number, unit: WindowUnit): number[] {
  const out: number[] = [];
  for (let s = windowStartOf(fromMs, unit); s < toMs; s = windowEndOf(s, unit)) out.push(s);
  return out;
}

/** `YYYY-MM-DD` of a UTC instant. */
export function utcDate(tMs: number): string {
  return new Date(tMs).toISOString().slice(0, 10);
}
