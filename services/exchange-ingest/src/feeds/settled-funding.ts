/**
 * Settled funding from the venue's funding history, for the live poll
 * (`ingest/live/settled-funding.ts`) and the backfill (`backfill/pages.ts`).
 */
import type { ExchangeId, FundingObservation } from '@perpflow/contracts';
import type { CcxtExchange } from '../adapters/exchange.js';
import { type FeedItem, type Stamp, settledFundingFromCcxt } from '../domain/normalize.js';
import { pageLimits } from '../domain/paging.js';
import { INGEST_VENUES } from '../venues/index.js';

/** The ccxt method `fetchPage` calls (labels the call's metrics and errors). */
export const PAGE_METHOD = 'fetchFundingRateHistory';

/** Up to `limit` settlements at or after `sinceMs`. */
export function fetchPage(
  ex: CcxtExchange,
  symbol: string,
  sinceMs: number,
  limit: number,
): Promise<Record<string, unknown>[]> {
  return ex.fetchFundingRateHistory(
    symbol,
    sinceMs,
    limit,
    INGEST_VENUES[ex.id as ExchangeId]?.fundingHistoryParams?.(sinceMs, limit),
  );
}

/** The most settlements the venue returns in one page. */
export function pageLimit(exchange: string): number {
  return pageLimits(exchange).fundingHistory;
}

/** History rows as settled-funding records (event time = settlement time), in their order. */
export function normalize(
  rows: readonly Parameters<typeof settledFundingFromCcxt>[0][],
  stamp: Stamp,
): FeedItem<FundingObservation>[] {
  return rows.map((r) => ({ ...settledFundingFromCcxt(r, stamp), symbol: stamp.symbol }));
}
