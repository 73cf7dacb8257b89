/**
 * OHLCV candles by REST, for the live rounds (`ingest/live/candles.ts`) and the
 * backfill (`backfill/pages.ts`). Which rows count as closed is decided by each caller
 * from when its request went out (its clock and margin differ).
 */
import type { Candle, Timeframe } from '@perpflow/contracts';
import type { CcxtExchange } from '../adapters/exchange.js';
import { candleFromOhlcv, type FeedItem, type Stamp } from '../domain/normalize.js';
import { pageLimits } from '../domain/paging.js';

/** The ccxt method `fetchPage` calls (labels the call's metrics and errors). */
export const PAGE_METHOD = 'fetchOHLCV';

/** Up to `limit` candles opening at or after `sinceMs`. */
export function fetchPage(
  ex: CcxtExchange,
  symbol: string,
  timeframe: Timeframe,
  sinceMs: number,
  limit: number,
): Promise<unknown[][]> {
  return ex.fetchOHLCV(symbol, timeframe, sinceMs, limit);
}

/** The most candles the venue returns in one page. */
export function pageLimit(exchange: string): number {
  return pageLimits(exchange).ohlcv;
}

/** One row `[ts, o, h, l, c, v]` of a candle known to be closed. */
export function closedCandle(row: readonly unknown[], stamp: Stamp, timeframe: Timeframe): FeedItem<Candle> {
  return { ...candleFromOhlcv(row, stamp, timeframe, true), symbol: stamp.symbol };
}

/** Rows of candles known to be closed, in their order. */
export function normalize(
  rows: readonly (readonly unknown[])[],
  stamp: Stamp,
  timeframe: Timeframe,
): FeedItem<Candle>[] {
  return rows.map((r) => closedCandle(r, stamp, timeframe));
}
