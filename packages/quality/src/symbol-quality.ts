import {
  type Candle,
  FEED_RECORD_KIND,
  type Feed,
  type OpenInterestObservation,
  parseRecord,
  type Timeframe,
  TIMEFRAMES,
} from '@perpflow/contracts';
import { CandleSeries, type CandleSeriesSnapshot } from './candle-series.js';
import type { QualityConfig } from './config.js';
import { DedupeSeries, type DedupeSeriesSnapshot } from './dedupe-series.js';
import { contentFingerprint, identityOf, legacyContentFingerprint } from './record-identity.js';
import {
  type KnownClose,
  type RawRecord,
  type RawRecordKind,
  checkRecordRules,
  contractHits,
  ruleHit,
} from './record-rules.js';
import { type RuleHit, type Verdict, verdictOf } from './rules.js';

export interface Assessment {
  /** accept: pass the record on (flags may be set); drop: count only; reject: dead-letter it. */
  verdict: Verdict;
  hits: RuleHit[];
  /** The parsed record when the contract held, else null. */
  record: RawRecord | null;
}

interface OpenInterestRun {
  lastTimeMs: number;
  value: number;
  run: number;
}

/**
 * JSON form of a SymbolQuality; `v` versions the layout: 2 holds fingerprints of
 * contentFingerprint's version 2, 1 (still restored) of version 1.
 */
export interface SymbolQualitySnapshot {
  v: 1 | 2;
  exchange: string;
  symbol: string;
  series: Record<string, DedupeSeriesSnapshot>;
  candles: Partial<Record<Timeframe, CandleSeriesSnapshot>>;
  openInterest: OpenInterestRun | null;
}

/**
 * The quality state of one Kafka key (exchange|symbol): one sub-state per feed
 * stream (and per candle timeframe / funding kind). `assess` runs the contract,
 * the per-record rules and the per-stream rules, and updates the state only for
 * accepted records. Deterministic for a given input order and config; no clock
 * (the caller passes `nowMs`), no I/O. `snapshot()` is plain JSON.
 */
export class SymbolQuality {
  private readonly series = new Map<string, DedupeSeries>();
  private readonly candles = new Map<Timeframe, CandleSeries>();
  private openInterest: OpenInterestRun | null = null;

  constructor(
    readonly exchange: string,
    readonly symbol: string,
    private readonly config: QualityConfig,
  ) {}

  static restore(snapshot: SymbolQualitySnapshot, config: QualityConfig): SymbolQuality {
    if (snapshot.v !== 1 && snapshot.v !== 2)
      throw new Error(`unknown SymbolQuality snapshot version ${String(snapshot.v)}`);
    const q = new SymbolQuality(snapshot.exchange, snapshot.symbol, config);
    const legacyFingerprints = snapshot.v === 1;
    for (const [name, s] of Object.entries(snapshot.series))
      q.series.set(name, new DedupeSeries(s, { legacyFingerprints }));
    for (const tf of TIMEFRAMES) {
      const s = snapshot.candles[tf];
      if (s) q.candles.set(tf, new CandleSeries(tf, s));
    }
    q.openInterest = snapshot.openInterest ? { ...snapshot.openInterest } : null;
    return q;
  }

  /** Contract, per-record and per-stream rules for one raw record of this key. */
  assess(feed: Feed, input: unknown, nowMs: number): Assessment {
    const parsed = parseRecord(FEED_RECORD_KIND[feed] as RawRecordKind, input);
    if (!parsed.ok) return { verdict: 'reject', hits: contractHits(parsed.error), record: null };
    return this.assessRecord(feed, parsed.value as RawRecord, nowMs);
  }

  /**
   * `assess` for a record that already satisfies its contract (the aligner decodes each
   * Kafka value with `decodeRecord` once; parsing it again here cost a quarter of the
   * rules' time). Passing an unparsed value breaks the rules' assumptions.
   */
  assessRecord(feed: Feed, record: RawRecord, nowMs: number): Assessment {
    const kind = FEED_RECORD_KIND[feed] as RawRecordKind;
    if (record.exchange !== this.exchange || record.symbol !== this.symbol)
      throw new Error(
        `SymbolQuality(${this.exchange}|${this.symbol}) was given a record of ${record.exchange}|${record.symbol}`,
      );
    const ctx = { nowMs, config: this.config, lastClose: kind === 'liquidation' ? this.lastClose() : null };
    const hits = checkRecordRules(kind, record, ctx);
    if (verdictOf(hits) === 'reject') return { verdict: 'reject', hits, record };

    const id = identityOf(kind, record);
    const fingerprint = contentFingerprint(record);
    const dedupe = this.seriesOf(id.series);
    // Entries restored from a version-1 snapshot are compared by the record's version-1 fingerprint.
    let legacyFingerprint: string | undefined;
    const legacy =
      dedupe.legacyEntries > 0
        ? () => {
            legacyFingerprint ??= legacyContentFingerprint(record);
            return legacyFingerprint;
          }
        : undefined;
    const seen = dedupe.check(
      id,
      fingerprint,
      record.receivedAtMs,
      () => `${kind} ${id.series} ${id.identity}`,
      this.config,
      legacy,
    );
    hits.push(...seen.hits);
    if (verdictOf(hits) !== 'accept') return { verdict: verdictOf(hits), hits, record };

    let candles: CandleSeries | null = null;
    if (kind === 'candle') {
      const c = record as Candle;
      candles = this.candleSeriesOf(c.timeframe);
      hits.push(...candles.check(c, seen.isNew, this.config));
    } else if (kind === 'open_interest' && seen.isNew) {
      const hit = this.checkFrozenOpenInterest(record as OpenInterestObservation);
      if (hit) hits.push(hit);
    }
    const verdict = verdictOf(hits);
    if (verdict !== 'accept') return { verdict, hits, record };

    dedupe.remember(id, fingerprint, record.receivedAtMs, this.config, legacy);
    if (candles) candles.remember(record as Candle, this.config);
    if (kind === 'open_interest' && seen.isNew) this.rememberOpenInterest(record as OpenInterestObservation);
    return { verdict, hits, record };
  }

  /** The newest candle close of this key (across timeframes), used by `liquidation.price_band`. */
  lastClose(): KnownClose | null {
    let best: KnownClose | null = null;
    for (const series of this.candles.values()) {
      const c = series.lastClose();
      if (c && (best === null || c.closeTimeMs > best.closeTimeMs)) best = c;
    }
    return best;
  }

  snapshot(): SymbolQualitySnapshot {
    const candles: Partial<Record<Timeframe, CandleSeriesSnapshot>> = {};
    for (const [tf, s] of this.candles) candles[tf] = s.snapshot();
    return {
      v: 2,
      exchange: this.exchange,
      symbol: this.symbol,
      series: Object.fromEntries([...this.series].map(([name, s]) => [name, s.snapshot()])),
      candles,
      openInterest: this.openInterest ? { ...this.openInterest } : null,
    };
  }

  private seriesOf(name: string): DedupeSeries {
    let s = this.series.get(name);
    if (!s) {
      s = new DedupeSeries();
      this.series.set(name, s);
    }
    return s;
  }

  private candleSeriesOf(tf: Timeframe): CandleSeries {
    let s = this.candles.get(tf);
    if (!s) {
      s = new CandleSeries(tf);
      this.candles.set(tf, s);
    }
    return s;
  }

  private checkFrozenOpenInterest(o: OpenInterestObservation): RuleHit | null {
    const prev = this.openInterest;
    if (!prev || o.eventTimeMs <= prev.lastTimeMs || o.openInterest !== prev.value) return null;
    const run = prev.run + 1;
    const limit = this.config.frozen.openInterestRun;
    if (run < limit) return null;
    return ruleHit(
      this.config,
      'value.frozen',
      `open_interest eventTimeMs ${o.eventTimeMs}: openInterest ${o.openInterest} repeated by ${run} observations in a row (frozen.openInterestRun ${limit})`,
    );
  }

  private rememberOpenInterest(o: OpenInterestObservation): void {
    const prev = this.openInterest;
    if (prev && o.eventTimeMs <= prev.lastTimeMs) return; // out of order: the run is about the newest values
    const run = prev && o.openInterest === prev.value ? prev.run + 1 : 1;
    this.openInterest = { lastTimeMs: o.eventTimeMs, value: o.openInterest, run };
  }
}
