/** Median of a non-empty list (the mean of the two middle values for even lengths). */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  // A typed array sorts numerically in native code: several times faster than
  // Array#sort with a comparator, and this runs for every candle.
  return middleOfSorted(Float64Array.from(values).sort());
}

/** Median absolute deviation around the median (unscaled: no 1.4826 factor). */
export function medianAbsoluteDeviation(values: ArrayLike<number>, center = median(values)): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const deviations = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) deviations[i] = Math.abs((values[i] as number) - center);
  return middleOfSorted(deviations.sort());
}

function middleOfSorted(sorted: Float64Array): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
