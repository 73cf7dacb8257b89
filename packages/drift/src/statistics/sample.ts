import { DriftInputError } from '../errors.js';

/** A sorted copy of a sample; throws when it is empty or holds NaN/±Infinity. */
export function sortedSample(values: readonly number[], name: string): Float64Array {
  if (values.length === 0) throw new DriftInputError(`${name}: empty sample`);
  const out = Float64Array.from(values);
  for (const v of out) if (!Number.isFinite(v)) throw new DriftInputError(`${name}: non-finite value ${v}`);
  return out.sort();
}

/**
 * Quantile q ∈ [0, 1] of a sorted sample by linear interpolation between order
 * statistics (Hyndman & Fan type 7; numpy's default `np.quantile(..., method='linear')`).
 */
export function quantileSorted(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  return a + (h - lo) * (b - a);
}

/** Number of elements ≤ x in a sorted array (numpy `searchsorted(side='right')`). */
export function countAtMost(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of elements < x in a sorted array (numpy `searchsorted(side='left')`). */
export function countBelow(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Population standard deviation (ddof = 0, numpy's `np.std` default), two-pass. */
export function standardDeviation(values: ArrayLike<number>): number {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i] as number;
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = (values[i] as number) - mean;
    ss += d * d;
  }
  return Math.sqrt(ss / n);
}
