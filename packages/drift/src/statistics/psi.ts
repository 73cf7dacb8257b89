import { countBelow, quantileSorted, sortedSample } from './sample.js';

export interface PsiOptions {
  /** Bins wanted: edges at the reference's 1/bins … (bins−1)/bins quantiles. Default 10 (deciles). */
  bins?: number;
  /**
   * Floor of a bin's share (reference and recent alike) before the logarithm, so an
   * empty bin adds a large but finite term instead of ±Infinity. Default 1e-4 (0.01 %),
   * the usual choice in credit-risk practice; shares are not renormalised afterwards.
   */
  epsilon?: number;
}

export interface PsiResult {
  psi: number;
  /** Distinct interior edges actually used (ties in the reference merge quantiles). */
  edges: number[];
  referenceShares: number[];
  recentShares: number[];
}

export const PSI_DEFAULTS = { bins: 10, epsilon: 1e-4 } as const;

/**
 * Population Stability Index of `recent` against `reference`:
 * Σ (rᵢ − eᵢ) · ln(rᵢ / eᵢ) over bins whose interior edges are the reference's
 * quantiles (type 7), deduplicated. Bin i holds the values x with
 * edges[i−1] ≤ x < edges[i] (the first bin is open below, the last open above),
 * so a value equal to an edge goes to the bin above it. A constant reference has
 * one edge and two bins: below its value, and at or above it.
 */
export function populationStabilityIndex(
  reference: readonly number[],
  recent: readonly number[],
  options: PsiOptions = {},
): PsiResult {
  const bins = options.bins ?? PSI_DEFAULTS.bins;
  const epsilon = options.epsilon ?? PSI_DEFAULTS.epsilon;
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError(`bins must be an integer ≥ 2, got ${bins}`);
  const ref = sortedSample(reference, 'reference');
  const cur = sortedSample(recent, 'recent');
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const e = quantileSorted(ref, i / bins);
    if (edges.length === 0 || e > (edges[edges.length - 1] as number)) edges.push(e);
  }
  const shares = (sorted: Float64Array): number[] => {
    const out: number[] = [];
    let below = 0;
    for (const e of edges) {
      const upTo = countBelow(sorted, e);
      out.push((upTo - below) / sorted.length);
      below = upTo;
    }
    out.push((sorted.length - below) / sorted.length);
    return out;
  };
  const referenceShares = shares(ref);
  const recentShares = shares(cur);
  let psi = 0;
  for (let i = 0; i < referenceShares.length; i++) {
    const e = Math.max(referenceShares[i] as number, epsilon);
    const r = Math.max(recentShares[i] as number, epsilon);
    psi += (r - e) * Math.log(r / e);
  }
  return { psi, edges, referenceShares, recentShares };
}
