import { type AlignConfig, AlignStream, type AlignStreamSnapshot } from '@perpflow/align';
import type { Feed } from '@perpflow/contracts';
import {
  decisiveHit,
  type QualityConfig,
  SymbolQuality,
  type SymbolQualitySnapshot,
} from '@perpflow/quality';
import type { EngineInput, EngineOutput, PartitionEngine } from './engine-types.js';

export interface EngineConfig {
  quality: QualityConfig;
  align: AlignConfig;
  /**
   * Streams (exchange|symbol) one partition holds; a record of a new stream beyond it is
   * dead-lettered (`align.stream_limit`), so that no producer can grow memory or metric
   * labels without bound. Default (unset): unbounded, for tests of the pure engine.
   */
  maxStreams?: number;
}

interface StreamSnapshot {
  quality: SymbolQualitySnapshot;
  align: AlignStreamSnapshot;
}
interface EngineSnapshot {
  v: 1;
  streams: Record<string, StreamSnapshot>;
}

/**
 * One partition's streams: for each exchange|symbol, the quality rules
 * (@perpflow/quality) and then the aligner (@perpflow/align). Records the rules
 * reject become dead letters with the decisive rule; exact duplicates are dropped
 * and counted; accepted records are aligned.
 */
interface Stream {
  key: string;
  quality: SymbolQuality;
  align: AlignStream;
}

export class QualityAlignEngine implements PartitionEngine {
  /** By `exchange|symbol`, in creation order (the snapshot's order). */
  private readonly streams = new Map<string, Stream>();
  /** The same streams by exchange, then symbol: found without building the key per record. */
  private readonly byExchange = new Map<string, Map<string, Stream>>();

  constructor(
    private readonly config: EngineConfig,
    snapshot: unknown,
  ) {
    const snap = snapshot as EngineSnapshot | null;
    if (snap && snap.v === 1)
      for (const [key, s] of Object.entries(snap.streams))
        this.add(s.align.exchange, s.align.symbol, {
          key,
          quality: SymbolQuality.restore(s.quality, config.quality),
          align: AlignStream.restore(s.align, config.align),
        });
  }

  private add(exchange: string, symbol: string, s: Stream): void {
    this.streams.set(s.key, s);
    let bySymbol = this.byExchange.get(exchange);
    if (!bySymbol) {
      bySymbol = new Map();
      this.byExchange.set(exchange, bySymbol);
    }
    bySymbol.set(symbol, s);
  }

  apply<Ref>(inputs: EngineInput<Ref>[], nowMs: number, into?: EngineOutput<Ref>): EngineOutput<Ref> {
    const out: EngineOutput<Ref> = into ?? { bars: [], rejected: [], hits: [], watermarks: new Map() };
    for (const input of inputs) {
      const { exchange, symbol } = input.record;
      let s = this.byExchange.get(exchange)?.get(symbol);
      if (!s && this.streams.size >= (this.config.maxStreams ?? Number.POSITIVE_INFINITY)) {
        out.rejected.push(
          this.rejection(
            input,
            'align.stream_limit',
            `${exchange}|${symbol} would be stream ${this.streams.size + 1} of this partition; ALIGNER_MAX_STREAMS_PER_PARTITION is ${this.config.maxStreams} (raise it if the universe really grew)`,
            false,
          ),
        );
        continue;
      }
      if (!s) {
        s = {
          key: `${exchange}|${symbol}`,
          quality: new SymbolQuality(exchange, symbol, this.config.quality),
          align: AlignStream.create({ exchange, symbol }, this.config.align),
        };
        this.add(exchange, symbol, s);
      }
      // The record was decoded and contract-checked once, by the caller: no second parse.
      const a = s.quality.assessRecord(input.feed, input.record, nowMs);
      for (const h of a.hits) out.hits.push({ feed: input.feed, ruleId: h.ruleId, action: h.action });
      if (a.verdict === 'reject') {
        const hit = decisiveHit(a.hits);
        out.rejected.push(
          this.rejection(input, hit?.ruleId ?? 'quality.reject', hit?.message ?? 'rejected', false),
        );
        continue;
      }
      if (a.verdict === 'drop' || a.record === null) continue;
      const r = s.align.ingest({ feed: input.feed, record: a.record } as Parameters<
        AlignStream['ingest']
      >[0]);
      for (const bar of r.bars) out.bars.push(bar);
      if (r.rejection)
        out.rejected.push(
          this.rejection(input, r.rejection.ruleId, r.rejection.message, r.rejection.ruleId === 'late'),
        );
      const wm = s.align.watermarkMs;
      if (wm !== null) out.watermarks.set(s.key, wm);
    }
    return out;
  }

  /** The stream's event-time watermark, null before its first record (or for an unknown stream). */
  watermarkOf(exchange: string, symbol: string): number | null {
    return this.byExchange.get(exchange)?.get(symbol)?.align.watermarkMs ?? null;
  }

  snapshot(): EngineSnapshot {
    const streams: Record<string, StreamSnapshot> = {};
    for (const [key, s] of this.streams) streams[key] = this.streamSnapshot(s);
    return { v: 1, streams };
  }

  /**
   * The same text as `JSON.stringify(this.snapshot())`, a stream at a time. A partition of 42
   * symbols holding a day is 8.6 MB of JSON: built whole, its objects and its string outlived
   * the young generation and grew the old one at every snapshot (docs/BENCHMARKS.md); a
   * stream's are small and short-lived.
   */
  *snapshotJson(): Generator<string> {
    yield '{"v":1,"streams":{';
    let first = true;
    for (const [key, s] of this.streams) {
      yield `${first ? '' : ','}${JSON.stringify(key)}:${JSON.stringify(this.streamSnapshot(s))}`;
      first = false;
    }
    yield '}}';
  }

  private streamSnapshot(s: Stream): StreamSnapshot {
    return { quality: s.quality.snapshot(), align: s.align.snapshot() };
  }

  private rejection<Ref>(input: EngineInput<Ref>, ruleId: string, message: string, late: boolean) {
    return {
      ref: input.ref,
      feed: input.feed as Feed,
      ruleId,
      message,
      exchange: input.record.exchange,
      symbol: input.record.symbol,
      late,
    };
  }
}

export function createPartitionEngine(config: EngineConfig, snapshot: unknown): PartitionEngine {
  return new QualityAlignEngine(config, snapshot);
}
