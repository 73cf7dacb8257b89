import { sortedSample, standardDeviation } from './sample.js';

export interface WassersteinResult {
  /** W1 = ∫ |F_reference(x) − F_recent(x)| dx, in the unit of the values. */
  distance: number;
  /** The reference's population standard deviation (ddof = 0), the scale used below. */
  referenceScale: number;
  /**
   * distance / referenceScale. On a constant reference (scale 0): 0 when the recent
   * sample equals that constant too (distance 0), else +Infinity — any movement away
   * from a series that never moved is unbounded drift on this scale.
   */
  normalized: number;
}

/** Wasserstein-1 (earth mover's) distance between two empirical distributions, normalised by the reference's standard deviation. */
export function wassersteinDistance(
  reference: readonly number[],
  recent: readonly number[],
): WassersteinResult {
  const a = sortedSample(reference, 'reference');
  const b = sortedSample(recent, 'recent');
  const n = a.length;
  const m = b.length;
  // Integrate |Fa − Fb| over the merged support, piecewise constant between points.
  let distance = 0;
  let i = 0;
  let j = 0;
  let prev = Math.min(a[0] as number, b[0] as number);
  while (i < n || j < m) {
    const x = Math.min(i < n ? (a[i] as number) : Infinity, j < m ? (b[j] as number) : Infinity);
    distance += Math.abs(i / n - j / m) * (x - prev);
    while (i < n && (a[i] as number) <= x) i++;
    while (j < m && (b[j] as number) <= x) j++;
    prev = x;
  }
  // Checked on the order statistics: a float mean of equal values can leave a 1e-17 "deviation".
  const referenceScale = a[0] === a[n - 1] ? 0 : standardDeviation(a);
  const normalized = referenceScale > 0 ? distance / referenceScale : distance === 0 ? 0 : Infinity;
  return { distance, referenceScale, normalized };
}
