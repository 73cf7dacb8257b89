import { z } from 'zod';
import type { Baseline } from './drift-book.js';

/**
 * A pinned reference: per (exchange, symbol, feature) the feature values of a period
 * judged normal. Stored as JSON under `<prefix>/<MONITOR_BASELINE_KEY>`; build one
 * from a drift report period or any sample you trust.
 */
export const DriftBaselineSchema = z.object({
  schema: z.literal('perpflow.drift.baseline.v1'),
  /** Free text: which period, who pinned it. */
  description: z.string().default(''),
  series: z.array(
    z.object({
      exchange: z.string().min(1),
      symbol: z.string().min(1),
      feature: z.string().min(1),
      values: z.array(z.number().finite()).min(1),
    }),
  ),
});
export type DriftBaseline = z.infer<typeof DriftBaselineSchema>;

/** Parses a baseline document into the lookup DriftBook.evaluate takes; throws a ZodError naming the bad field. */
export function parseBaseline(json: unknown): Baseline {
  const doc = DriftBaselineSchema.parse(json);
  return new Map(doc.series.map((s) => [`${s.exchange}|${s.symbol}|${s.feature}`, s.values]));
}
