import { hex16 } from '@perpflow/contracts';

/**
 * What a stream remembers of the bars it emitted inside the revision horizon: per bar open
 * time, its revision and its content hash's two lanes, as sorted columns.
 *
 * A Map of objects cost about 200 bytes a bar (a boxed key, an object, two boxed lanes: an
 * int32 lane is outside V8's 31-bit small integers half the time, plus a sorted key list);
 * at 500 symbols × 24 h that was 87 MiB of a 293 MiB live heap in the aligner's catch-up
 * (docs/BENCHMARKS.md). Here a bar costs 20 bytes. Bar times arrive mostly increasing and the
 * prune after every input cuts the oldest: inserts are appends and prunes move a start index.
 *
 * A hash text restored from a snapshot that is not 16 lower-case hex digits has no lanes: it
 * is kept as it was and never equals a computed hash (as NaN lanes did before).
 *
 * A hash of version 1 (restored from a snapshot that held version 1, or written with
 * LEGACY_HASH_PREFIX) keeps its lanes and is marked: the stream compares such a row with
 * the bar's version-1 lanes, until the bar is emitted again or leaves.
 */
export const LEGACY_HASH_PREFIX = 'v1:';

export class EmissionTable {
  private times = new Float64Array(16);
  private revisions = new Int32Array(16);
  private lanesA = new Int32Array(16);
  private lanesB = new Int32Array(16);
  /** Live rows are [start, end). */
  private start = 0;
  private end = 0;
  /** Restored hash texts without lanes, by bar time. */
  private odd: Map<number, string> | null = null;
  /** Bar times whose lanes are of hash version 1. */
  private legacy: Set<number> | null = null;

  get size(): number {
    return this.end - this.start;
  }

  /** The row of bar time t, or -1. */
  find(t: number): number {
    const i = this.lowerBound(t);
    return i < this.end && this.times[i] === t ? i : -1;
  }

  revisionAt(row: number): number {
    return this.revisions[row]!;
  }

  /** Whether the row's hash is the one of these lanes. */
  sameHash(row: number, a: number, b: number): boolean {
    if (this.lanesA[row] !== a || this.lanesB[row] !== b) return false;
    return this.odd === null || !this.odd.has(this.times[row]!);
  }

  /** Whether the row's lanes are of hash version 1. */
  isLegacy(row: number): boolean {
    return this.legacy?.has(this.times[row]!) === true;
  }

  /** Sets bar t's revision and hash (lanes as int32, version 2), replacing what t had. */
  set(t: number, revision: number, a: number, b: number): void {
    this.put(t, revision, a, b);
    this.odd?.delete(t);
    this.legacy?.delete(t);
  }

  /**
   * Sets bar t from a snapshot's [revision, hash text]; `legacy`: the snapshot's hashes are
   * of version 1 (a text with LEGACY_HASH_PREFIX is in any snapshot).
   */
  restore(t: number, revision: number, stored: string, legacy = false): void {
    const marked = stored.startsWith(LEGACY_HASH_PREFIX);
    const text = marked ? stored.slice(LEGACY_HASH_PREFIX.length) : stored;
    if (/^[0-9a-f]{16}$/.test(text)) {
      this.set(
        t,
        revision,
        Number.parseInt(text.slice(0, 8), 16) | 0,
        Number.parseInt(text.slice(8), 16) | 0,
      );
      if (legacy || marked) {
        this.legacy ??= new Set();
        this.legacy.add(t);
      }
      return;
    }
    this.legacy?.delete(t);
    this.put(t, revision, 0, 0);
    this.odd ??= new Map();
    this.odd.set(t, stored);
  }

  /** Deletes the bars in [from, cutoff). */
  deleteRange(from: number, cutoff: number): void {
    if (this.end === this.start || this.times[this.start]! >= cutoff) return;
    const lo = from === Number.NEGATIVE_INFINITY ? this.start : this.lowerBound(from);
    const hi = this.lowerBound(cutoff);
    if (hi <= lo) return;
    if (this.odd) for (let i = lo; i < hi; i++) this.odd.delete(this.times[i]!);
    if (this.legacy) for (let i = lo; i < hi; i++) this.legacy.delete(this.times[i]!);
    if (lo === this.start) this.start = hi;
    else {
      for (const col of this.columns()) col.copyWithin(lo, hi, this.end);
      this.end -= hi - lo;
    }
    if (this.start === this.end) this.start = this.end = 0;
  }

  /** [bar open time, revision, hash text] of every bar, ascending by time. */
  entries(): [number, number, string][] {
    const out: [number, number, string][] = [];
    for (let i = this.start; i < this.end; i++) {
      const t = this.times[i]!;
      const hash = hex16(this.lanesA[i]!, this.lanesB[i]!);
      out.push([
        t,
        this.revisions[i]!,
        this.odd?.get(t) ?? (this.legacy?.has(t) ? `${LEGACY_HASH_PREFIX}${hash}` : hash),
      ]);
    }
    return out;
  }

  private put(t: number, revision: number, a: number, b: number): void {
    let i = this.end;
    if (i > this.start && this.times[i - 1]! >= t) {
      i = this.lowerBound(t);
      if (i < this.end && this.times[i] === t) {
        this.revisions[i] = revision;
        this.lanesA[i] = a;
        this.lanesB[i] = b;
        return;
      }
    }
    if (this.end === this.times.length) i -= this.makeRoom();
    if (i < this.end) for (const col of this.columns()) col.copyWithin(i + 1, i, this.end);
    this.times[i] = t;
    this.revisions[i] = revision;
    this.lanesA[i] = a;
    this.lanesB[i] = b;
    this.end++;
  }

  /** Room for one more row at the end: moves the rows to the front, or doubles. Returns the shift. */
  private makeRoom(): number {
    const shift = this.start;
    const n = this.end - this.start;
    if (shift > 0 && n < this.times.length * 0.75) {
      for (const col of this.columns()) col.copyWithin(0, shift, this.end);
    } else {
      const cap = this.times.length * 2;
      const grow = <T extends Float64Array | Int32Array>(col: T, make: (n: number) => T): T => {
        const next = make(cap);
        next.set(col.subarray(shift, this.end));
        return next;
      };
      this.times = grow(this.times, (k) => new Float64Array(k));
      this.revisions = grow(this.revisions, (k) => new Int32Array(k));
      this.lanesA = grow(this.lanesA, (k) => new Int32Array(k));
      this.lanesB = grow(this.lanesB, (k) => new Int32Array(k));
    }
    this.start = 0;
    this.end = n;
    return shift;
  }

  private columns(): (Float64Array | Int32Array)[] {
    return [this.times, this.revisions, this.lanesA, this.lanesB];
  }

  /** The first row whose time is ≥ t (end when none). */
  private lowerBound(t: number): number {
    const times = this.times;
    let lo = this.start;
    let hi = this.end;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
