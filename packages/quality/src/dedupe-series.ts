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

/** What is remembered of an identity: [orderTimeMs, fingerprint, earliest receivedAtMs of that content or null]. */
type Entry = [number, string, number | null];

/**
 * Remembers the identities of one series (bounded by `dedupe.windowMs` behind the
 * newest record and by `dedupe.maxEntries`) to tell duplicates, revisions and
 * out-of-order arrivals apart.
 */
export class DedupeSeries {
  private maxOrderTimeMs: number | null;
  private prunedAtMs: number | null;
  private readonly seen: Map<string, Entry>;
  /**
   * True while the entries' times never decrease in memory order (records arriving in
   * order, the usual case): the age sweep then stops at the first entry it keeps instead
   * of walking all of them (the sweep was 3 % of the aligner's core profile).
   * `lastTimeMs` is ≥ the time of the last entry.
   */
  private ordered = true;
  private lastTimeMs = Number.NEGATIVE_INFINITY;

  constructor(snapshot?: DedupeSeriesSnapshot) {
    this.maxOrderTimeMs = snapshot?.maxOrderTimeMs ?? null;
    this.prunedAtMs = snapshot?.prunedAtMs ?? null;
    this.seen = new Map();
    for (const [id, t, fp, received] of snapshot?.seen ?? []) {
      this.seen.set(id, [t, fp, received ?? null]);
      this.noteAppended(t);
    }
  }

  get newestTimeMs(): number | null {
    return this.maxOrderTimeMs;
  }

  get size(): number {
    return this.seen.size;
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
  ): { hits: RuleHit[]; isNew: boolean } {
    const hits: RuleHit[] = [];
    const known = this.seen.get(id.identity);
    if (known) {
      const sameContent = known[1] === fingerprint;
      const hit = !sameContent
        ? ruleHit(
            config,
            'stream.revision',
            `${textOf(label)}: content differs from the record already seen (content hash ${known[1]} → ${fingerprint})`,
          )
        : known[2] === null || receivedAtMs < known[2]
          ? ruleHit(
              config,
              'stream.earlier_receipt',
              `${textOf(label)}: same content as a record already seen, received earlier (receivedAtMs ${receivedAtMs} ${known[2] === null ? 'vs a copy restored without its receive time' : `< ${known[2]}`}): kept, it lowers knownAtMs`,
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
  remember(id: RecordIdentity, fingerprint: string, receivedAtMs: number, config: QualityConfig): void {
    const known = this.seen.get(id.identity);
    const earliest =
      known && known[1] === fingerprint && known[2] !== null
        ? Math.min(known[2], receivedAtMs)
        : receivedAtMs;
    this.seen.delete(id.identity);
    this.seen.set(id.identity, [id.orderTimeMs, fingerprint, earliest]);
    this.noteAppended(id.orderTimeMs);
    if (this.maxOrderTimeMs === null || id.orderTimeMs > this.maxOrderTimeMs)
      this.maxOrderTimeMs = id.orderTimeMs;
    this.prune(config);
  }

  private prune(config: QualityConfig): void {
    const { windowMs, maxEntries } = config.dedupe;
    const newest = this.maxOrderTimeMs!;
    // Sweeping by age costs O(n); do it when the newest time has moved by an eighth of the window.
    if (this.prunedAtMs === null || newest - this.prunedAtMs >= windowMs / 8) {
      const cutoff = newest - windowMs;
      if (this.ordered) {
        for (const [k, e] of this.seen) {
          if (e[0] >= cutoff) break;
          this.seen.delete(k);
        }
      } else {
        // Out of order somewhere: sweep all, and see whether what is left is in order again.
        this.lastTimeMs = Number.NEGATIVE_INFINITY;
        this.ordered = true;
        for (const [k, e] of this.seen) {
          if (e[0] < cutoff) this.seen.delete(k);
          else this.noteAppended(e[0]);
        }
      }
      this.prunedAtMs = newest;
    }
    if (this.seen.size > maxEntries) {
      const keep = Math.max(1, Math.floor(maxEntries * 0.9));
      const oldest = [...this.seen.entries()]
        .map(([k, [t]], i) => ({ k, t, i }))
        .sort((a, b) => a.t - b.t || a.i - b.i)
        .slice(0, this.seen.size - keep);
      for (const { k } of oldest) this.seen.delete(k);
    }
  }

  private noteAppended(t: number): void {
    if (t < this.lastTimeMs) this.ordered = false;
    else this.lastTimeMs = t;
  }

  snapshot(): DedupeSeriesSnapshot {
    return {
      maxOrderTimeMs: this.maxOrderTimeMs,
      prunedAtMs: this.prunedAtMs,
      seen: [...this.seen.entries()].map(([id, [t, fp, received]]) =>
        received === null ? [id, t, fp] : [id, t, fp, received],
      ),
    };
  }
}

function textOf(label: string | (() => string)): string {
  return typeof label === 'string' ? label : label();
}
