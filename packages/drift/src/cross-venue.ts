import { type CompareOptions, compareSamples, type DriftComparison } from './compare.js';

/**
 * Cross-venue drift of one symbol's feature: this exchange's recent values (the
 * "recent" sample) against the same symbol's values on the other exchanges over
 * the same window, pooled (the "reference"). Null when no other venue has values.
 * Levels that differ by venue by construction (open interest in contracts) must be
 * compared as changes, which is why the cross-venue features are funding rate and
 * open-interest change.
 */
export function compareAcrossVenues(
  own: readonly number[],
  others: readonly (readonly number[])[],
  options: CompareOptions = {},
): DriftComparison | null {
  const pooled = others.flat();
  if (own.length === 0 || pooled.length === 0) return null;
  return compareSamples(pooled, own, options);
}
