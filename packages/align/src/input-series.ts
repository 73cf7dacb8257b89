/**
 * One kind of aligner input, kept as numeric rows sorted by their identity
 * columns. A row is `[...identity, ...content, receivedAtMs]`.
 *
 * Upserts are a join: for one identity the kept content is the maximum under
 * `beats` (a total order that ignores arrival order), and its receivedAtMs is
 * the minimum among deliveries of that content. So the kept rows depend only
 * on the SET of inputs, never on their order or on duplicate deliveries.
 */
export type Row = number[];

/** The fewest row slots a series has, and the slots added beyond 1.25× when it grows. */
const MIN_SLOTS = 8;

/**
 * The rows live in one Float64Array, row-major, `width` numbers each, in slots
 * [lo, lo + n): a row as a JS array took 112 bytes for a candle's 8 numbers, and the aligner
 * keeps a day of candles per symbol (720k rows at 500 symbols). Rows are read by index
 * (`key`, `get`); `rows()` copies them out (snapshots). Pruning the oldest rows moves
 * `lo`; appends move the rows to the front, or grow the columns, when the end is reached.
 */
export class InputSeries {
  private data: Float64Array;
  private lo = 0;
  private n = 0;
  /** The stored row `beats` compares against, copied out without allocating. */
  private readonly current: Row;

  constructor(
    /** Numbers per row: identity, content, receivedAtMs. */
    readonly width: number,
    private readonly identityLength: number,
    /** > 0 when content a should replace content b (rows of the same identity). */
    private readonly beats: (a: Row, b: Row) => number,
  ) {
    this.data = new Float64Array(MIN_SLOTS * width);
    this.current = new Array<number>(width).fill(0);
  }

  /** Rows held. */
  get size(): number {
    return this.n;
  }

  /** Column 0 (the key time) of row i. */
  key(i: number): number {
    return this.data[(this.lo + i) * this.width]!;
  }

  /** Column 0 of row i, undefined past the last row. */
  keyAt(i: number): number | undefined {
    return i >= 0 && i < this.n ? this.data[(this.lo + i) * this.width] : undefined;
  }

  /** Column `col` of row i. */
  get(i: number, col: number): number {
    return this.data[(this.lo + i) * this.width + col]!;
  }

  /** Copies of the rows, in order (snapshots, tests). */
  rows(): Row[] {
    const out: Row[] = [];
    for (let i = 0; i < this.n; i++) {
      const at = (this.lo + i) * this.width;
      out.push(Array.from(this.data.subarray(at, at + this.width)));
    }
    return out;
  }

  /** Appends a row that sorts after every row held (a snapshot's rows, in their order). */
  append(row: Row): void {
    this.checkWidth(row);
    if (
      this.n > 0 &&
      compareIdentityAt(this.data, (this.lo + this.n - 1) * this.width, row, this.identityLength) >= 0
    )
      throw new Error(`InputSeries.append: row [${row.join(', ')}] does not sort after the last row`);
    this.insertAt(this.n, row);
  }

  /** Inserts or merges a row; returns whether the kept rows changed. */
  upsert(row: Row): boolean {
    this.checkWidth(row);
    const i = this.lowerBound(row);
    if (i === this.n) {
      this.insertAt(i, row); // the newest identity, the usual case
      return true;
    }
    const w = this.width;
    const at = (this.lo + i) * w;
    const data = this.data;
    if (compareIdentityAt(data, at, row, this.identityLength) !== 0) {
      this.insertAt(i, row);
      return true;
    }
    const recv = w - 1;
    let same = true;
    for (let c = this.identityLength; c < recv; c++)
      if (data[at + c] !== row[c]) {
        same = false;
        break;
      }
    if (same) {
      if (row[recv]! >= data[at + recv]!) return false;
      data[at + recv] = row[recv]!;
      return true;
    }
    const cur = this.current;
    for (let c = 0; c < w; c++) cur[c] = data[at + c]!;
    if (this.beats(row, cur) <= 0) return false;
    data.set(row, at);
    return true;
  }

  /** Index of the first row whose first column is ≥ t (size when none). */
  firstAtOrAfter(t: number): number {
    const n = this.n;
    // Most lookups are past the newest row (the bar being emitted) or before the oldest
    // (the prune cutoff): answered without the search.
    if (n === 0 || this.key(n - 1) < t) return n;
    if (this.key(0) >= t) return 0;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.key(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the last row whose first column is ≤ t, or -1. */
  lastAtOrBefore(t: number): number {
    return this.firstAtOrAfter(t + 1) - 1;
  }

  /** Index of the row whose first column is exactly t (series keyed by one time column), or -1. */
  at(t: number): number {
    const i = this.firstAtOrAfter(t);
    return i < this.n && this.key(i) === t ? i : -1;
  }

  /** Drops rows with first column < cutoff, except the last `keep` such rows. */
  pruneBefore(cutoff: number, keep: number): void {
    this.pruneBetween(Number.NEGATIVE_INFINITY, cutoff, keep);
  }

  /**
   * Drops the rows keyed in [from, cutoff), keeping the last `keep` of them: 1 for as-of
   * feeds, 2 for settled funding (a bar's interval is its settlement minus the one before).
   */
  pruneBetween(from: number, cutoff: number, keep: number): void {
    const a = Number.isFinite(from) ? this.firstAtOrAfter(from) : 0;
    const b = this.firstAtOrAfter(cutoff) - keep;
    if (b <= a) return;
    const w = this.width;
    if (a === 0) this.lo += b;
    else this.data.copyWithin((this.lo + a) * w, (this.lo + b) * w, (this.lo + this.n) * w);
    this.n -= b - a;
    if (this.n === 0) this.lo = 0;
  }

  private checkWidth(row: Row): void {
    if (row.length !== this.width)
      throw new Error(`InputSeries: a row of ${row.length} numbers, this series holds ${this.width}`);
  }

  /** Writes `row` as row i, moving rows i.. up by one; makes room first when the end is reached. */
  private insertAt(i: number, row: Row): void {
    const w = this.width;
    const slots = this.data.length / w;
    if (this.lo + this.n === slots) {
      if (this.n <= slots * 0.8) {
        // Room at the front (pruned rows): move the rows there.
        this.data.copyWithin(0, this.lo * w, (this.lo + this.n) * w);
      } else {
        const grown = new Float64Array((Math.ceil(this.n * 1.25) + MIN_SLOTS) * w);
        grown.set(this.data.subarray(this.lo * w, (this.lo + this.n) * w));
        this.data = grown;
      }
      this.lo = 0;
    }
    const at = (this.lo + i) * w;
    if (i < this.n) this.data.copyWithin(at + w, at, (this.lo + this.n) * w);
    this.data.set(row, at);
    this.n++;
  }

  private lowerBound(row: Row): number {
    const n = this.n;
    const w = this.width;
    const idl = this.identityLength;
    if (n === 0 || compareIdentityAt(this.data, (this.lo + n - 1) * w, row, idl) < 0) return n;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareIdentityAt(this.data, (this.lo + mid) * w, row, idl) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The stored row at `at` against `row`, by their first n columns. */
function compareIdentityAt(data: Float64Array, at: number, row: Row, n: number): number {
  for (let i = 0; i < n; i++) {
    const d = data[at + i]! - row[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Lexicographic comparison of the given columns (larger wins). */
export function byColumns(...columns: number[]): (a: Row, b: Row) => number {
  return (a, b) => {
    for (const c of columns) {
      const d = a[c]! - b[c]!;
      if (d !== 0) return d;
    }
    return 0;
  };
}
