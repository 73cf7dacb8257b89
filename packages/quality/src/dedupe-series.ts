import type { QualityConfig } from './config.js';
import type { RecordIdentity } from './record-identity.js';
import { ruleHit } from './record-rules.js';
import type { RuleHit } from './rules.js';

/** JSON form: `seen` holds [identity, orderTimeMs, fingerprint] in memory order. */
export interface DedupeSeriesSnapshot {
  maxOrderTimeMs: number | null;
  prunedAtMs: number | null;
  seen: [string, number, string][];
}

/**
 * Remembers the identities of one series (bounded by `dedupe.windowMs` behind the
 * newest record and by `dedupe.maxEntries`) to tell duplicates, revisions and
 * out-of-order arrivals apart.
 */
export class DedupeSeries {
  private maxOrderTimeMs: number | null;
  private prunedAtMs: number | null;
  private readonly seen: Map<string, [number, string]>;
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
    for (const [id, t, fp] of snapshot?.seen ?? []) {
      this.seen.set(id, [t, fp]);
      this.noteAppended(t);
    }
  }

  get newestTimeMs(): number | null {
    return this.maxOrderTimeMs;
  }

  get size(): number {
    return this.seen.size;
  }

  /** The stream hits of a record; `isNew` is false for duplicates and revisions. */
  check(
    id: RecordIdentity,
    fingerprint: string,
    /** Names the record in hit messages; a function is called only when a rule hits. */
    label: string | (() => string),
    config: QualityConfig,
  ): { hits: RuleHit[]; isNew: boolean } {
    const hits: RuleHit[] = [];
    const known = this.seen.get(id.identity);
    if (known) {
      const sameContent = known[1] === fingerprint;
      const hit = sameContent
        ? ruleHit(
            config,
            'stream.duplicate',
            `${textOf(label)}: same content as a record already seen (duplicate delivery)`,
          )
        : ruleHit(
            config,
            'stream.revision',
            `${textOf(label)}: content differs from the record already seen (content hash ${known[1]} → ${fingerprint})`,
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

  /** Records an accepted record. */
  remember(id: RecordIdentity, fingerprint: string, config: QualityConfig): void {
    this.seen.delete(id.identity);
    this.seen.set(id.identity, [id.orderTimeMs, fingerprint]);
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
      seen: [...this.seen.entries()].map(([id, [t, fp]]) => [id, t, fp]),
    };
  }
}

function textOf(label: string | (() => string)): string {
  return typeof label === 'string' ? label : label();
}
