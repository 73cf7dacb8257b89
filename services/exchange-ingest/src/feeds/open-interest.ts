/**
 * Open interest. Live and backfill read different endpoints: the live poll
 * (`ingest/live/open-interest.ts`) the current value, the backfill (`backfill/pages.ts`)
 * the 5-minute history; both answer ccxt's open-interest structure, normalized alike.
 */
import type { ExchangeId, OpenInterestObservation } from '@perpflow/contracts';
import type { CcxtExchange } from '../adapters/exchange.js';
import { type FeedItem, openInterestFromCcxt, type Stamp } from '../domain/normalize.js';
import { pageLimits } from '../domain/paging.js';
import { ingestVenue } from '../venues/index.js';

/** The ccxt method `fetchCurrent` calls. */
export const CURRENT_METHOD = 'fetchOpenInterest';
/** The ccxt method `fetchHistoryPage` calls. */
export const HISTORY_METHOD = 'fetchOpenInterestHistory';
/** 5m is the finest open-interest history the exchanges serve. */
export const HISTORY_STEP_MS = 300_000;

/** The symbol's open interest now. */
export function fetchCurrent(
  ex: CcxtExchange,
  exchange: ExchangeId,
  symbol: string,
): Promise<Record<string, unknown>> {
  return ex.fetchOpenInterest(symbol, ingestVenue(exchange).currentOpenInterestParams ?? {});
}

/** The ccxt method `fetchAllCurrent` calls. */
export const CURRENT_ALL_METHOD = 'fetchOpenInterests';

/** Every one of `symbols`' open interest now, in one request; a symbol the answer lacks is absent. */
export async function fetchAllCurrent(
  ex: CcxtExchange,
  exchange: ExchangeId,
  symbols: readonly string[],
): Promise<Record<string, Record<string, unknown>>> {
  if (!ex.fetchOpenInterests)
    throw new Error(
      `${exchange}: ccxt has no fetchOpenInterests, but the venue module polls all symbols at once`,
    );
  return ex.fetchOpenInterests([...symbols], ingestVenue(exchange).currentOpenInterestParams ?? {});
}

/** Up to `limit` 5-minute points at or after `sinceMs`, with the venue's paging params. */
export function fetchHistoryPage(
  ex: CcxtExchange,
  exchange: ExchangeId,
  symbol: string,
  sinceMs: number,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const venue = ingestVenue(exchange);
  if (venue.fetchOpenInterestHistory) return venue.fetchOpenInterestHistory(ex, symbol, sinceMs, limit);
  return ex.fetchOpenInterestHistory(
    symbol,
    '5m',
    sinceMs,
    limit,
    venue.openInterestHistoryParams?.(sinceMs, limit, HISTORY_STEP_MS),
  );
}

/** The most history points the venue returns in one page. */
export function historyPageLimit(exchange: string): number {
  return pageLimits(exchange).openInterestHistory;
}

/** Open-interest structures (current or history) as records, in their order. */
export function normalize(
  rows: readonly Parameters<typeof openInterestFromCcxt>[0][],
  stamp: Stamp,
): FeedItem<OpenInterestObservation>[] {
  return rows.map((r) => ({ ...openInterestFromCcxt(r, stamp), symbol: stamp.symbol }));
}
