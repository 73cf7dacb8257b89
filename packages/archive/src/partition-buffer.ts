import { type ArchiveRow, recordBytes } from './record.js';

/** When a partition's buffered records become an object. Defaults are the archiver's config defaults. */
export interface RotationLimits {
  /** Rotate once the buffered records hold this many bytes (key + value + headers + 64 per record). */
  maxObjectBytes: number;
  /** Rotate once this many records are buffered. */
  maxObjectRecords: number;
  /** Rotate once the oldest buffered record was consumed this long ago (the durability bound of an idle partition). */
  maxObjectAgeMs: number;
}

export type FlushDecision =
  | { due: false }
  | { due: true; reason: 'bytes' | 'records' | 'age' | 'ledger' | 'final'; rows: ArchiveRow[] };

/**
 * The consumed, not yet durable records of one topic-partition, in offset order.
 * Pure: the caller passes the time. A record at or below the last one buffered is a
 * re-delivery and is ignored (its offset is its identity).
 *
 * `pin(lastOffset)`: a ledger entry says the flush starting at the first buffered
 * offset ends at `lastOffset` (a crashed writer's plan): the next flush holds exactly
 * that range, whatever the limits say, so it reproduces the same objects.
 */
export class PartitionBuffer {
  private rows: ArchiveRow[] = [];
  private addedAtMs: number[] = [];
  private bytes = 0;
  private last: bigint | null = null;
  private pinned: bigint | null = null;

  constructor(readonly limits: RotationLimits) {}

  /** Adds a consumed row; false when it is a re-delivery of a buffered or durable offset. */
  add(row: ArchiveRow, nowMs: number): boolean {
    const o = BigInt(row.offset);
    if (this.last !== null && o <= this.last) return false;
    this.last = o;
    this.rows.push(row);
    this.addedAtMs.push(nowMs);
    this.bytes += recordBytes(row);
    return true;
  }

  /** The first buffered offset: where the next flush starts. */
  get firstOffset(): string | null {
    return this.rows[0]?.offset ?? null;
  }

  get size(): { records: number; bytes: number } {
    return { records: this.rows.length, bytes: this.bytes };
  }

  get pinnedLastOffset(): string | null {
    return this.pinned === null ? null : this.pinned.toString();
  }

  pin(lastOffset: string): void {
    this.pinned = BigInt(lastOffset);
  }

  /**
   * Whether a flush is due and which rows it holds. `final`: flush whatever is
   * buffered (shutdown) unless a pin says the range is not complete yet.
   */
  decide(nowMs: number, final = false): FlushDecision {
    const first = this.addedAtMs[0];
    if (first === undefined) return { due: false };
    if (this.pinned !== null) {
      if (this.last === null || this.last < this.pinned) return { due: false };
      const pinned = this.pinned;
      const n = this.rows.findIndex((r) => BigInt(r.offset) > pinned);
      return { due: true, reason: 'ledger', rows: this.rows.slice(0, n < 0 ? this.rows.length : n) };
    }
    const { maxObjectBytes, maxObjectRecords, maxObjectAgeMs } = this.limits;
    const reason =
      this.bytes >= maxObjectBytes
        ? 'bytes'
        : this.rows.length >= maxObjectRecords
          ? 'records'
          : nowMs - first >= maxObjectAgeMs
            ? 'age'
            : final
              ? 'final'
              : null;
    if (reason === null) return { due: false };
    // An object never holds more than the record limit (a slow S3 lets the buffer grow past it).
    return { due: true, reason, rows: this.rows.slice(0, maxObjectRecords) };
  }

  /**
   * The rows up to `lastOffset` are durable (object, manifest, index): drop them and any
   * pin they satisfied. Returns when each dropped row was added (for a delay histogram).
   */
  markDurable(lastOffset: string): number[] {
    const o = BigInt(lastOffset);
    let n = 0;
    while (n < this.rows.length && BigInt(this.rows[n]!.offset) <= o) {
      this.bytes -= recordBytes(this.rows[n]!);
      n++;
    }
    this.rows.splice(0, n);
    const added = this.addedAtMs.splice(0, n);
    if (this.pinned !== null && this.pinned <= o) this.pinned = null;
    return added;
  }
}
