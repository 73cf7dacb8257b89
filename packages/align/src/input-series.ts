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

export class InputSeries {
  constructor(
    readonly rows: Row[],
    private readonly identityLength: number,
    /** > 0 when content a should replace content b (rows of the same identity). */
    private readonly beats: (a: Row, b: Row) => number,
  ) {}

  /** Inserts or merges a row; returns whether the kept rows changed. */
  upsert(row: Row): boolean {
    const i = this.lowerBound(row);
    const cur = this.rows[i];
    if (cur === undefined) {
      this.rows.push(row); // the newest identity, the usual case: no splice and its result array
      return true;
    }
    if (compareIdentity(cur, row, this.identityLength) !== 0) {
      this.rows.splice(i, 0, row);
      return true;
    }
    const recv = row.length - 1;
    if (sameContent(cur, row, this.identityLength)) {
      if (row[recv]! >= cur[recv]!) return false;
      cur[recv] = row[recv]!;
      return true;
    }
    if (this.beats(row, cur) <= 0) return false;
    this.rows[i] = row;
    return true;
  }

  /** Index of the first row whose first column is ≥ t (rows.length when none). */
  firstAtOrAfter(t: number): number {
    const rows = this.rows;
    const n = rows.length;
    // Most lookups are past the newest row (the bar being emitted) or before the oldest
    // (the prune cutoff): answered without the search.
    if (n === 0 || rows[n - 1]![0]! < t) return n;
    if (rows[0]![0]! >= t) return 0;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.rows[mid]![0]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The last row whose first column is ≤ t, or null. */
  lastAtOrBefore(t: number): Row | null {
    return this.rows[this.firstAtOrAfter(t + 1) - 1] ?? null;
  }

  /** The row whose first column is exactly t (series keyed by one time column). */
  at(t: number): Row | null {
    const r = this.rows[this.firstAtOrAfter(t)];
    return r !== undefined && r[0] === t ? r : null;
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
    const n = this.firstAtOrAfter(cutoff) - keep;
    if (n > a) this.rows.splice(a, n - a);
  }

  private lowerBound(row: Row): number {
    const n = this.rows.length;
    if (n === 0 || compareIdentity(this.rows[n - 1]!, row, this.identityLength) < 0) return n;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareIdentity(this.rows[mid]!, row, this.identityLength) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function compareIdentity(a: Row, b: Row, n: number): number {
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function sameContent(a: Row, b: Row, from: number): boolean {
  for (let i = from; i < a.length - 1; i++) if (a[i] !== b[i]) return false;
  return true;
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
