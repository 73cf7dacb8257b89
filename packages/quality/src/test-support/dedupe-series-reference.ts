import type { QualityConfig } from '../config.js';
import type { RecordIdentity } from '../record-identity.js';
import { ruleHit } from '../record-rules.js';
import type { RuleHit } from '../rules.js';

/** JSON form: `seen` holds [identity, orderTimeMs, fingerprint, earliestReceivedAtMs?] in memory order. */
export interface DedupeSeriesSnapshot {
  maxOrderTimeMs: number | null;
  prunedAtMs: number | null;
  seen: [string, number, string, number?][];
}

/**
 * Remembers the identities of one series (bounded by `dedupe.windowMs` behind the
 * newest record and by `dedupe.maxEntries`) to tell duplicates, revisions and
 * out-of-order arrivals apart.
 */
/**
 * DedupeSeries as it was up to 3b556ac (a full sweep with entry arrays per prune): the
 * reference its rewrite is tested against; since `stream.earlier_receipt` it also keeps the
 * earliest receivedAtMs of the remembered content (null: restored without it).
 */
export class DedupeSeriesReference {
  private maxOrderTimeMs: number | null;
  private prunedAtMs: number | null;
  private readonly seen: Map<string, [number, string, number | null]>;

  constructor(snapshot?: DedupeSeriesSnapshot) {
    this.maxOrderTimeMs = snapshot?.maxOrderTimeMs ?? null;
    this.prunedAtMs = snapshot?.prunedAtMs ?? null;
    this.seen = new Map((snapshot?.seen ?? []).map(([id, t, fp, r]) => [id, [t, fp, r ?? null]]));
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
    receivedAtMs: number,
    label: string,
    config: QualityConfig,
  ): { hits: RuleHit[]; isNew: boolean } {
    const hits: RuleHit[] = [];
    const known = this.seen.get(id.identity);
    if (known) {
      const sameContent = known[1] === fingerprint;
      const earlier = sameContent && (known[2] === null || receivedAtMs < known[2]);
      const hit = !sameContent
        ? ruleHit(
            config,
            'stream.revision',
            `${label}: content differs from the record already seen (content hash ${known[1]} → ${fingerprint})`,
          )
        : earlier
          ? ruleHit(
              config,
              'stream.earlier_receipt',
              `${label}: same content as a record already seen, received earlier (receivedAtMs ${receivedAtMs} ${known[2] === null ? 'vs a copy restored without its receive time' : `< ${known[2]}`}): kept, it lowers knownAtMs`,
            )
          : ruleHit(
              config,
              'stream.duplicate',
              `${label}: same content as a record already seen (duplicate delivery)`,
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
        `${label}: arrived ${behind} ms behind the newest record of its series at ${this.maxOrderTimeMs}${beyond}`,
      );
      if (hit) hits.push(hit);
    }
    return { hits, isNew: true };
  }

  /** Records an accepted record. */
  remember(id: RecordIdentity, fingerprint: string, receivedAtMs: number, config: QualityConfig): void {
    const known = this.seen.get(id.identity);
    const keepEarlier = known !== undefined && known[1] === fingerprint && known[2] !== null;
    this.seen.delete(id.identity);
    this.seen.set(id.identity, [
      id.orderTimeMs,
      fingerprint,
      keepEarlier ? Math.min(known[2]!, receivedAtMs) : receivedAtMs,
    ]);
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
      for (const [k, [t]] of this.seen) if (t < cutoff) this.seen.delete(k);
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

  snapshot(): DedupeSeriesSnapshot {
    return {
      maxOrderTimeMs: this.maxOrderTimeMs,
      prunedAtMs: this.prunedAtMs,
      seen: [...this.seen.entries()].map(([id, [t, fp, r]]) => (r === null ? [id, t, fp] : [id, t, fp, r])),
    };
  }
}
