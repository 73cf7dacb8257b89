/** Median of a non-empty list (the mean of the two middle values for even lengths). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median absolute deviation around the median (unscaled: no 1.4826 factor). */
export function medianAbsoluteDeviation(values: readonly number[], center = median(values)): number {
  return median(values.map((v) => Math.abs(v - center)));
}
