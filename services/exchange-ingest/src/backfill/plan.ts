import type { ExchangeId, Timeframe } from '@perpflow/contracts';

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
}

export interface BackfillJobData {
  backfillId: string;
  exchange: ExchangeId;
  symbol: string;
  feed: BackfillFeed;
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
}

/**
 * Splits a backfill into jobs of one (symbol, feed, chunk). Chunks are aligned
 * to UTC multiples of chunkMs so that two backfills over overlapping ranges plan
 * the same chunks. Job ids are deterministic: adding the same plan twice adds nothing.
 */
export function planBackfill(spec: BackfillSpec): { id: string; data: BackfillJobData }[] {
  if (!(spec.fromMs < spec.toMs))
    throw new Error(`backfill ${spec.id}: from (${spec.fromMs}) must be before to (${spec.toMs})`);
  const jobs: { id: string; data: BackfillJobData }[] = [];
  for (const symbol of spec.symbols)
    for (const feed of spec.feeds)
      for (
        let start = Math.floor(spec.fromMs / spec.chunkMs) * spec.chunkMs;
        start < spec.toMs;
        start += spec.chunkMs
      ) {
        const fromMs = Math.max(start, spec.fromMs);
        const toMs = Math.min(start + spec.chunkMs, spec.toMs);
        jobs.push({
          id: backfillJobId(spec.id, spec.exchange, symbol, feed, fromMs),
          data: {
            backfillId: spec.id,
            exchange: spec.exchange,
            symbol,
            feed,
            timeframe: spec.timeframe,
            fromMs,
            toMs,
          },
        });
      }
  return jobs;
}

/** BullMQ ids may not contain ':'; symbols do, so they are URI-encoded. */
export function backfillJobId(
  backfillId: string,
  exchange: string,
  symbol: string,
  feed: string,
  fromMs: number,
): string {
  return `${backfillId}.${exchange}.${encodeURIComponent(symbol)}.${feed}.${fromMs}`;
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
