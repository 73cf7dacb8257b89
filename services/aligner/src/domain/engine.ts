import { readFileSync } from 'node:fs';
import { type AlignConfig, AlignStream, type AlignStreamSnapshot, parseAlignConfig } from '@perpflow/align';
import { ConfigError, type Feed } from '@perpflow/contracts';
import {
  decisiveHit,
  parseQualityConfig,
  type QualityConfig,
  SymbolQuality,
  type SymbolQualitySnapshot,
} from '@perpflow/quality';
import type { AlignerConfig } from '../config.js';
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

/** Builds the pure engine's config from the service config; a bad value names its key. */
export function loadEngineConfig(c: AlignerConfig): EngineConfig {
  let qualityInput: unknown = {};
  if (c.ALIGNER_QUALITY_CONFIG) {
    try {
      qualityInput = JSON.parse(readFileSync(c.ALIGNER_QUALITY_CONFIG, 'utf8'));
    } catch (err) {
      throw new ConfigError(
        'ALIGNER_QUALITY_CONFIG',
        `cannot read ${c.ALIGNER_QUALITY_CONFIG} as JSON: ${(err as Error).message}`,
      );
    }
  }
  return {
    quality: parseQualityConfig(qualityInput),
    align: parseAlignConfig({
      timeframe: c.ALIGNER_TIMEFRAME,
      allowedLatenessMs: c.ALIGNER_ALLOWED_LATENESS_MS,
      revisionHorizonMs: c.ALIGNER_REVISION_HORIZON_MS,
      fillPolicy: c.ALIGNER_FILL_POLICY,
    }),
    maxStreams: c.ALIGNER_MAX_STREAMS_PER_PARTITION,
  };
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
export class QualityAlignEngine implements PartitionEngine {
  private readonly streams = new Map<string, { quality: SymbolQuality; align: AlignStream }>();

  constructor(
    private readonly config: EngineConfig,
    snapshot: unknown,
  ) {
    const snap = snapshot as EngineSnapshot | null;
    if (snap && snap.v === 1)
      for (const [key, s] of Object.entries(snap.streams))
        this.streams.set(key, {
          quality: SymbolQuality.restore(s.quality, config.quality),
          align: AlignStream.restore(s.align, config.align),
        });
  }

  apply<Ref>(inputs: EngineInput<Ref>[], nowMs: number): EngineOutput<Ref> {
    const out: EngineOutput<Ref> = { bars: [], rejected: [], hits: [], watermarks: new Map() };
    for (const input of inputs) {
      const { exchange, symbol } = input.record;
      const key = `${exchange}|${symbol}`;
      let s = this.streams.get(key);
      if (!s && this.streams.size >= (this.config.maxStreams ?? Number.POSITIVE_INFINITY)) {
        out.rejected.push(
          this.rejection(
            input,
            'align.stream_limit',
            `${key} would be stream ${this.streams.size + 1} of this partition; ALIGNER_MAX_STREAMS_PER_PARTITION is ${this.config.maxStreams} (raise it if the universe really grew)`,
            false,
          ),
        );
        continue;
      }
      if (!s) {
        s = {
          quality: new SymbolQuality(exchange, symbol, this.config.quality),
          align: AlignStream.create({ exchange, symbol }, this.config.align),
        };
        this.streams.set(key, s);
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
      out.bars.push(...r.bars);
      if (r.rejection)
        out.rejected.push(
          this.rejection(input, r.rejection.ruleId, r.rejection.message, r.rejection.ruleId === 'late'),
        );
      const wm = s.align.watermarkMs;
      if (wm !== null) out.watermarks.set(key, wm);
    }
    return out;
  }

  snapshot(): EngineSnapshot {
    const streams: Record<string, StreamSnapshot> = {};
    for (const [key, s] of this.streams)
      streams[key] = { quality: s.quality.snapshot(), align: s.align.snapshot() };
    return { v: 1, streams };
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
