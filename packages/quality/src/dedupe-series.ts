import { hex16 } from '@perpflow/contracts';
import type { QualityConfig } from './config.js';
import type { RecordIdentity } from './record-identity.js';
import { ruleHit } from './record-rules.js';
import type { RuleHit } from './rules.js';

/**
 * JSON form: `seen` holds [identity, orderTimeMs, fingerprint, earliestReceivedAtMs] in
 * memory order. Snapshots written before the fourth element existed restore with it
 * unknown: the next copy of such a record is passed on once (the aligner is idempotent).
 */
export interface DedupeSeriesSnapshot {
  maxOrderTimeMs: number | null;
  prunedAtMs: number | null;
  seen: [string, number, string, number?][];
}

/**
 * A fingerprint as contentFingerprint writes it (16 lowercase hex digits, `hex16`) is
 * kept as two 32-bit halves; any other text is kept as it is (snapshots and tests may
 * hold other fingerprints). parseFingerprint leaves the halves here.
 */
let parsedHi = 0;
let parsedLo = 0;

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** True when `fp` is 16 lowercase hex digits; its halves are then in parsedHi, parsedLo. */
function parseFingerprint(fp: string): boolean {
  if (fp.length !== 16) return false;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 8; i++) {
    const d = hexDigit(fp.charCodeAt(i));
    if (d < 0) return false;
    hi = hi * 16 + d;
  }
  for (let i = 8; i < 16; i++) {
    const d = hexDigit(fp.charCodeAt(i));
    if (d < 0) return false;
    lo = lo * 16 + d;
  }
  parsedHi = hi;
  parsedLo = lo;
  return true;
}

const INITIAL_SLOTS = 16;

/**
 * How an entry restored from a snapshot of fingerprint version 1 (SymbolQuality `v: 1`) is
 * kept: its fingerprint text after this prefix, compared with the version-1 fingerprint of
 * a record of its identity (the `legacy` argument of check and remember) until it leaves.
 */
export const LEGACY_FINGERPRINT_PREFIX = 'v1:';

function isLegacy(text: string | undefined): boolean {
  return text?.startsWith(LEGACY_FINGERPRINT_PREFIX) === true;
}

/**
 * Remembers the identities of one series (bounded by `dedupe.windowMs` behind the
 * newest record and by `dedupe.maxEntries`) to tell duplicates, revisions and
 * out-of-order arrivals apart.
 *
 * Entries live in columns, one slot each, in memory order (the order a Map of them would
 * iterate: a remembered identity moves to the end): a Map from identity to slot, the order
 * time, earliest receivedAtMs (NaN: restored without it) and the fingerprint's halves in
 * typed arrays. A slot whose entry left or moved is empty until the columns are compacted.
 * At 500 symbols the aligner remembers hundreds of thousands of records; an entry as a
 * Map of `[time, fingerprint, received]` arrays took about 130 bytes of heap.
 */
export class DedupeSeries {
  private maxOrderTimeMs: number | null;
  private prunedAtMs: number | null;
  private readonly slotOf = new Map<string, number>();
  /** Per slot: its identity, undefined once the slot is empty. */
  private ids: (string | undefined)[] = [];
  /** Per slot: a fingerprint that is not 16 lowercase hex digits, else undefined. */
  private fpTexts: (string | undefined)[] = [];
  private times = new Float64Array(INITIAL_SLOTS);
  private received = new Float64Array(INITIAL_SLOTS);
  private fpHi = new Uint32Array(INITIAL_SLOTS);
  private fpLo = new Uint32Array(INITIAL_SLOTS);
  /** Slots [head, tail) hold the entries (and empty slots) in memory order. */
  private head = 0;
  private tail = 0;
  /**
   * True while the entries' times never decrease in memory order (records arriving in
   * order, the usual case): the age sweep then stops at the first entry it keeps instead
   * of walking all of them (the sweep was 3 % of the aligner's core profile).
   * `lastTimeMs` is ≥ the time of the last entry.
   */
  private ordered = true;
  private lastTimeMs = Number.NEGATIVE_INFINITY;
  /** Entries whose fingerprint is of version 1 (LEGACY_FINGERPRINT_PREFIX). */
  private legacyCount = 0;

  /**
   * `legacyFingerprints`: the snapshot's fingerprints are of version 1 (a SymbolQuality
   * snapshot `v: 1`); they are kept with LEGACY_FINGERPRINT_PREFIX.
   */
  constructor(snapshot?: DedupeSeriesSnapshot, options: { legacyFingerprints?: boolean } = {}) {
    this.maxOrderTimeMs = snapshot?.maxOrderTimeMs ?? null;
    this.prunedAtMs = snapshot?.prunedAtMs ?? null;
    for (const [id, t, stored, received] of snapshot?.seen ?? []) {
      const fp = options.legacyFingerprints ? `${LEGACY_FINGERPRINT_PREFIX}${stored}` : stored;
      const slot = this.slotOf.get(id);
      // A Map keeps an identity set twice where it was first set.
      if (slot !== undefined) this.write(slot, t, fp, received ?? Number.NaN);
      else this.append(id, t, fp, received ?? Number.NaN);
      this.noteAppended(t);
    }
  }

  get newestTimeMs(): number | null {
    return this.maxOrderTimeMs;
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** Entries still holding a version-1 fingerprint: check and remember need `legacy` while any do. */
  get legacyEntries(): number {
    return this.legacyCount;
  }

  /**
   * The stream hits of a record; `isNew` is false for duplicates and revisions. A copy of
   * the remembered content received earlier than every copy remembered is not a
   * duplicate (`stream.earlier_receipt`): it lowers the bar's knownAtMs downstream, so
   * the result does not depend on which copy arrived first.
   */
  check(
    id: RecordIdentity,
    fingerprint: string,
    receivedAtMs: number,
    /** Names the record in hit messages; a function is called only when a rule hits. */
    label: string | (() => string),
    config: QualityConfig,
    /** The record's version-1 fingerprint, for entries restored with one (see legacyEntries). */
    legacy?: () => string,
  ): { hits: RuleHit[]; isNew: boolean } {
    const hits: RuleHit[] = [];
    const slot = this.slotOf.get(id.identity);
    if (slot !== undefined) {
      const knownReceived = this.received[slot]!;
      const hit = !this.sameFingerprint(slot, fingerprint, legacy)
        ? ruleHit(
            config,
            'stream.revision',
            `${textOf(label)}: content differs from the record already seen (content hash ${this.fingerprintAt(slot)} → ${fingerprint})`,
          )
        : Number.isNaN(knownReceived) || receivedAtMs < knownReceived
          ? ruleHit(
              config,
              'stream.earlier_receipt',
              `${textOf(label)}: same content as a record already seen, received earlier (receivedAtMs ${receivedAtMs} ${Number.isNaN(knownReceived) ? 'vs a copy restored without its receive time' : `< ${knownReceived}`}): kept, it lowers knownAtMs`,
            )
          : ruleHit(
              config,
              'stream.duplicate',
              `${textOf(label)}: same content as a record already seen (duplicate delivery)`,
            );
      if (hit) hits.push(hit);
      return { hits, isNew: false };
    }
    if (this.maxOrderTimeMs !== null && id.orderTimeMs < this.maxOrderTimeMs) {
      const behind = this.maxOrderTimeMs - id.orderTimeMs;
      const beyond =
        behind > config.dedupe.windowMs
          ? ` (beyond dedupe.windowMs ${config.dedupe.windowMs}: a duplicate of it cannot be recognised)`
          : '';
      const hit = ruleHit(
        config,
        'stream.out_of_order',
        `${textOf(label)}: arrived ${behind} ms behind the newest record of its series at ${this.maxOrderTimeMs}${beyond}`,
      );
      if (hit) hits.push(hit);
    }
    return { hits, isNew: true };
  }

  /** Records an accepted record; of copies of one content, the earliest receivedAtMs is kept. */
  remember(
    id: RecordIdentity,
    fingerprint: string,
    receivedAtMs: number,
    config: QualityConfig,
    legacy?: () => string,
  ): void {
    const slot = this.slotOf.get(id.identity);
    let earliest = receivedAtMs;
    if (slot !== undefined) {
      const knownReceived = this.received[slot]!;
      if (!Number.isNaN(knownReceived) && this.sameFingerprint(slot, fingerprint, legacy))
        earliest = Math.min(knownReceived, receivedAtMs);
      this.empty(slot);
    }
    this.append(id.identity, id.orderTimeMs, fingerprint, earliest);
    this.noteAppended(id.orderTimeMs);
    if (this.maxOrderTimeMs === null || id.orderTimeMs > this.maxOrderTimeMs)
      this.maxOrderTimeMs = id.orderTimeMs;
    this.prune(config);
  }

  private sameFingerprint(slot: number, fp: string, legacy: (() => string) | undefined): boolean {
    const text = this.fpTexts[slot];
    if (isLegacy(text)) return legacy !== undefined && text === `${LEGACY_FINGERPRINT_PREFIX}${legacy()}`;
    if (text !== undefined) return text === fp;
    return parseFingerprint(fp) && parsedHi === this.fpHi[slot] && parsedLo === this.fpLo[slot];
  }

  private fingerprintAt(slot: number): string {
    return this.fpTexts[slot] ?? hex16(this.fpHi[slot]!, this.fpLo[slot]!);
  }

  private write(slot: number, t: number, fp: string, received: number): void {
    this.times[slot] = t;
    this.received[slot] = received;
    if (isLegacy(this.fpTexts[slot])) this.legacyCount--;
    if (isLegacy(fp)) this.legacyCount++;
    if (parseFingerprint(fp)) {
      this.fpHi[slot] = parsedHi;
      this.fpLo[slot] = parsedLo;
      this.fpTexts[slot] = undefined;
    } else this.fpTexts[slot] = fp;
  }

  private append(id: string, t: number, fp: string, received: number): void {
    if (this.tail === this.times.length) this.compact();
    const slot = this.tail++;
    this.ids[slot] = id;
    this.slotOf.set(id, slot);
    this.write(slot, t, fp, received);
  }

  private empty(slot: number): void {
    this.slotOf.delete(this.ids[slot]!);
    this.ids[slot] = undefined;
    if (isLegacy(this.fpTexts[slot])) this.legacyCount--;
    this.fpTexts[slot] = undefined;
  }

  /**
   * Moves the entries to the columns' start, in memory order, into columns of twice
   * their count: at least as many appends as entries pass before the next compaction.
   */
  private compact(): void {
    const n = this.slotOf.size;
    const capacity = Math.max(INITIAL_SLOTS, 2 * n);
    const times = new Float64Array(capacity);
    const received = new Float64Array(capacity);
    const fpHi = new Uint32Array(capacity);
    const fpLo = new Uint32Array(capacity);
    const ids: (string | undefined)[] = [];
    const fpTexts: (string | undefined)[] = [];
    let to = 0;
    for (let from = this.head; from < this.tail; from++) {
      const id = this.ids[from];
      if (id === undefined) continue;
      times[to] = this.times[from]!;
      received[to] = this.received[from]!;
      fpHi[to] = this.fpHi[from]!;
      fpLo[to] = this.fpLo[from]!;
      ids[to] = id;
      fpTexts[to] = this.fpTexts[from];
      this.slotOf.set(id, to);
      to++;
    }
    this.times = times;
    this.received = received;
    this.fpHi = fpHi;
    this.fpLo = fpLo;
    this.ids = ids;
    this.fpTexts = fpTexts;
    this.head = 0;
    this.tail = to;
  }

  private prune(config: QualityConfig): void {
    const { windowMs, maxEntries } = config.dedupe;
    const newest = this.maxOrderTimeMs!;
    // Sweeping by age costs O(n); do it when the newest time has moved by an eighth of the window.
    if (this.prunedAtMs === null || newest - this.prunedAtMs >= windowMs / 8) {
      const cutoff = newest - windowMs;
      if (this.ordered) {
        while (this.head < this.tail) {
          if (this.ids[this.head] !== undefined) {
            if (this.times[this.head]! >= cutoff) break;
            this.empty(this.head);
          }
          this.head++;
        }
      } else {
        // Out of order somewhere: sweep all, and see whether what is left is in order again.
        this.lastTimeMs = Number.NEGATIVE_INFINITY;
        this.ordered = true;
        for (let slot = this.head; slot < this.tail; slot++) {
          if (this.ids[slot] === undefined) continue;
          const t = this.times[slot]!;
          if (t < cutoff) this.empty(slot);
          else this.noteAppended(t);
        }
      }
      this.prunedAtMs = newest;
    }
    if (this.slotOf.size > maxEntries) {
      const keep = Math.max(1, Math.floor(maxEntries * 0.9));
      const live: number[] = [];
      for (let slot = this.head; slot < this.tail; slot++) if (this.ids[slot] !== undefined) live.push(slot);
      // Oldest first; of equal times, the earlier in memory order.
      live.sort((a, b) => this.times[a]! - this.times[b]! || a - b);
      for (const slot of live.slice(0, this.slotOf.size - keep)) this.empty(slot);
    }
  }

  private noteAppended(t: number): void {
    if (t < this.lastTimeMs) this.ordered = false;
    else this.lastTimeMs = t;
  }

  snapshot(): DedupeSeriesSnapshot {
    const seen: DedupeSeriesSnapshot['seen'] = [];
    for (let slot = this.head; slot < this.tail; slot++) {
      const id = this.ids[slot];
      if (id === undefined) continue;
      const t = this.times[slot]!;
      const fp = this.fingerprintAt(slot);
      const received = this.received[slot]!;
      seen.push(Number.isNaN(received) ? [id, t, fp] : [id, t, fp, received]);
    }
    return { maxOrderTimeMs: this.maxOrderTimeMs, prunedAtMs: this.prunedAtMs, seen };
  }
}

function textOf(label: string | (() => string)): string {
  return typeof label === 'string' ? label : label();
}
