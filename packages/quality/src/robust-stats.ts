/** Median of a non-empty list (the mean of the two middle values for even lengths). */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const n = values.length;
  const a = scratchOf(n);
  let nan = false;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    a[i] = v;
    if (Number.isNaN(v)) nan = true;
  }
  return middle(a, n, nan);
}

/** Median absolute deviation around the median (unscaled: no 1.4826 factor). */
export function medianAbsoluteDeviation(values: ArrayLike<number>, center = median(values)): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const n = values.length;
  const a = scratchOf(n);
  let nan = false;
  for (let i = 0; i < n; i++) {
    const d = Math.abs((values[i] as number) - center);
    a[i] = d;
    if (Number.isNaN(d)) nan = true;
  }
  return middle(a, n, nan);
}

// This runs twice for every candle: one reused buffer and a selection (O(n)) instead of a
// fresh array sorted (O(n log n)); the middle values, and so the result, are the same.
let scratch = new Float64Array(64);
function scratchOf(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  return scratch;
}

function middle(a: Float64Array, n: number, nan: boolean): number {
  if (nan) {
    // NaN has no place in an order: keep the typed-array sort's answer (NaN sorts last).
    const sorted = a.slice(0, n).sort();
    const mid = n >> 1;
    return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }
  const k = n >> 1;
  const upper = select(a, n, k);
  if (n % 2 === 1) return upper;
  // After the selection every element left of k is ≤ a[k]: the lower middle is their maximum.
  let lower = a[0]!;
  for (let i = 1; i < k; i++) if (a[i]! > lower) lower = a[i]!;
  return (lower + upper) / 2;
}

/** The k-th smallest of a[0..n) (Hoare quickselect); leaves a partitioned around k. */
function select(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const x = a[lo]!;
    const y = a[(lo + hi) >> 1]!;
    const z = a[hi]!;
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z)); // median of three
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}
