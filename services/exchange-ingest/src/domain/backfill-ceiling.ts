import type { IngestVenue, PageLimits } from '../venues/index.js';

/** A venue's backfill ceiling for one feed, per client IP. */
export interface FeedCeiling {
  feed: keyof PageLimits;
  rowsPerPage: number;
  /** Full pages per minute the IP may fetch: the budget over the page's units, or the endpoint's own limit. */
  pagesPerMinute: number;
  /** Rows per second at that rate (what the venue allows, before any of our own cost). */
  rowsPerSecond: number;
  /** Which limit binds: `budget` (units per minute) or `endpoint` (the endpoint's call limit). */
  boundBy: 'budget' | 'endpoint';
}

/**
 * How fast a venue lets one IP page through history, feed by feed: the budget per
 * minute over a page's cost, capped by the endpoint's own call limit, times the rows a
 * page holds. It is the venue's ceiling with the whole budget to a backfill (live loops
 * and other clients on the IP take their share of it), so a user can size a backfill
 * before starting it: more IPs (shards on other hosts) or a longer wait.
 */
export function backfillCeilings(venue: IngestVenue): FeedCeiling[] {
  // A feed with a page limit of 0 has no history at the venue (Hyperliquid's open interest): no ceiling.
  const feeds = (Object.keys(venue.pageLimits) as (keyof PageLimits)[]).filter(
    (f) => venue.pageLimits[f] > 0,
  );
  return feeds.map((feed) => {
    const cost = venue.pageCosts[feed];
    const byBudget = cost.units > 0 ? venue.budget.unitsPerMinute / cost.units : Number.POSITIVE_INFINITY;
    const byEndpoint = cost.callsPerMinute ?? Number.POSITIVE_INFINITY;
    const pagesPerMinute = Math.min(byBudget, byEndpoint);
    const rowsPerPage = venue.pageLimits[feed];
    return {
      feed,
      rowsPerPage,
      pagesPerMinute,
      rowsPerSecond: (pagesPerMinute * rowsPerPage) / 60,
      boundBy: byEndpoint < byBudget ? 'endpoint' : 'budget',
    };
  });
}

/** Rows a backfill of `symbols` over [fromMs, toMs) fetches per feed (candles at `timeframeMs`, open interest at 5 min, funding hourly at most). */
export function backfillRows(
  feed: keyof PageLimits,
  symbols: number,
  fromMs: number,
  toMs: number,
  timeframeMs: number,
): number {
  const stepMs = feed === 'ohlcv' ? timeframeMs : feed === 'openInterestHistory' ? 300_000 : 3_600_000;
  return symbols * Math.max(0, Math.ceil((toMs - fromMs) / stepMs));
}
