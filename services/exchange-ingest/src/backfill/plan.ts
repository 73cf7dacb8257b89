import { type ExchangeId, type Timeframe, timeframeMs } from '@perpflow/contracts';
import { shardOf } from '../domain/universe.js';
import { ingestVenue } from '../venues/index.js';

export const BACKFILL_FEEDS = ['ohlcv', 'open_interest', 'funding'] as const;
export type BackfillFeed = (typeof BACKFILL_FEEDS)[number];

export interface BackfillSpec {
  id: string;
  exchange: ExchangeId;
  symbols: string[];
  feeds: BackfillFeed[];
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  /** Length of one job's range; default one UTC day. */
  chunkMs: number;
  /** Workers the symbols are sharded over (INGEST_SHARD i/n of the workers): each job goes to its symbol's shard. Default 1. */
  shards?: number;
}

export interface BackfillJobData {
  backfillId: string;
  exchange: ExchangeId;
  symbol: string;
  feeds: BackfillFeed[];
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  chunkMs: number;
}

/**
 * One job per (exchange, symbol): a symbol's history is walked in order, chunk by
 * chunk, so the aligner sees each stream's event time move forward. Within a
 * chunk, funding and open interest are published before the candles, so the
 * candle-driven watermark rarely passes a bar before its inputs are in Kafka.
 * Job ids are deterministic: adding the same plan twice adds nothing.
 */
export function planBackfill(spec: BackfillSpec): { id: string; shard: number; data: BackfillJobData }[] {
  if (!(spec.fromMs < spec.toMs))
    throw new Error(`backfill ${spec.id}: from (${spec.fromMs}) must be before to (${spec.toMs})`);
  const shards = spec.shards ?? 1;
  if (!(Number.isInteger(shards) && shards >= 1))
    throw new Error(`backfill ${spec.id}: shards must be a whole number ≥ 1 (got ${shards})`);
  return spec.symbols.map((symbol) => ({
    id: backfillJobId(spec.id, spec.exchange, symbol),
    shard: shardOf(spec.exchange, symbol, shards),
    data: {
      backfillId: spec.id,
      exchange: spec.exchange,
      symbol,
      feeds: spec.feeds,
      timeframe: spec.timeframe,
      fromMs: spec.fromMs,
      toMs: spec.toMs,
      chunkMs: spec.chunkMs,
    },
  }));
}

/** The chunks of a job, aligned to UTC multiples of chunkMs. */
export function chunksOf(fromMs: number, toMs: number, chunkMs: number): { fromMs: number; toMs: number }[] {
  const out: { fromMs: number; toMs: number }[] = [];
  for (let start = Math.floor(fromMs / chunkMs) * chunkMs; start < toMs; start += chunkMs)
    out.push({ fromMs: Math.max(start, fromMs), toMs: Math.min(start + chunkMs, toMs) });
  return out;
}

/** BullMQ ids may not contain ':'; symbols do, so they are URI-encoded. */
export function backfillJobId(backfillId: string, exchange: string, symbol: string): string {
  return `${backfillId}.${exchange}.${encodeURIComponent(symbol)}`;
}

/** `2024-01-01`, `2024-01-01T06:00:00Z` or epoch ms → epoch ms UTC; throws naming the flag. */
export function parseTimeArg(flag: string, value: string): number {
  if (/^[0-9]{12,14}$/.test(value)) return Number(value);
  const iso = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || !/(Z|[+-][0-9]{2}:?[0-9]{2})$/.test(iso))
    throw new Error(
      `${flag}: "${value}" is not a UTC date (YYYY-MM-DD, an ISO time ending in Z, or epoch milliseconds)`,
    );
  return t;
}

/** A requested feed the venue does not have, and why (its module's `unavailable`). */
export interface SkippedFeed {
  feed: BackfillFeed;
  reason: string;
}

/**
 * The requested feeds the venue can backfill, and the ones it cannot with the reason:
 * a feed the venue has no history of (a page limit of 0) is never requested, retried or
 * failed, only reported (Hyperliquid: no open-interest history).
 */
export function backfillableFeeds(
  exchange: ExchangeId,
  feeds: readonly BackfillFeed[],
): { feeds: BackfillFeed[]; skipped: SkippedFeed[] } {
  const venue = ingestVenue(exchange);
  const out: BackfillFeed[] = [];
  const skipped: SkippedFeed[] = [];
  for (const feed of feeds) {
    if (feed === 'open_interest' && venue.pageLimits.openInterestHistory === 0)
      skipped.push({
        feed,
        reason: venue.unavailable?.openInterestHistory ?? `${exchange} has no open-interest history`,
      });
    else out.push(feed);
  }
  return { feeds: out, skipped };
}

/**
 * The oldest candle open time the venue still has for `timeframe` at `nowMs`, when it
 * keeps only its most recent candles (Hyperliquid: 5000 per coin and interval); undefined:
 * history reaches back to the listing. A backfill asks nothing before it and says so.
 */
export function candleHistoryStartMs(
  exchange: ExchangeId,
  timeframe: Timeframe,
  nowMs: number,
): number | undefined {
  const kept = ingestVenue(exchange).candleHistory;
  if (kept === undefined) return undefined;
  const tf = timeframeMs(timeframe);
  // The open candle is one of the kept ones: the oldest opened kept − 1 intervals before it.
  return (Math.floor(nowMs / tf) - (kept - 1)) * tf;
}
