import { timeframeMs } from '@perpflow/contracts';
import { type Logger, retry } from '@perpflow/runtime';
import { type CcxtExchange, callExchange } from '../adapters/exchange.js';
import { type FeedItem, isClosed } from '../domain/normalize.js';
import type { PageSpec } from '../domain/paging.js';
import * as candles from '../feeds/candles.js';
import * as openInterest from '../feeds/open-interest.js';
import * as settledFunding from '../feeds/settled-funding.js';
import type { RateGate } from '../ingest/gate.js';
import type { IngestMetrics } from '../metrics.js';
import { type BackfillClock, PRESENT_HORIZON_MS, UNREAD_CLOCK_ERROR_MS } from './clock.js';
import type { BackfillFeed, BackfillJobData } from './plan.js';

export type Item = FeedItem<{
  exchange: string;
  symbol: string;
  eventTimeMs: number;
  receivedAtMs: number;
}>;

function timeOf(r: unknown): number | null {
  const t = Array.isArray(r) ? r[0] : (r as { timestamp?: unknown } | null)?.timestamp;
  return typeof t === 'number' ? t : null;
}

/**
 * Funding history rows a job already fetched. One page holds months of 8 h
 * settlements, so the first day's call answers for the following days too:
 * without this, a job made one call per day, and 50 jobs broke Binance's own
 * limit on that endpoint (500 calls per 5 min) in the 30-day bench.
 */
export interface FundingCache {
  fromMs: number;
  /** Rows are complete for [fromMs, coveredToMs]. */
  coveredToMs: number;
  rows: Record<string, unknown>[];
}

/**
 * The latest exchange time certainly passed when the last candle page was requested: the
 * exchange's clock estimate less its error (BackfillClock).
 */
export interface CandleAsk {
  atMs: number;
}

/** What a job's page fetchers share: its data, its exchange and gate, and the two caches. */
export interface PageContext {
  job: BackfillJobData;
  ex: CcxtExchange;
  gate: RateGate;
  metrics: IngestMetrics;
  logger: Logger;
  now: () => number;
  fundingCache: FundingCache;
  candleAsk: CandleAsk;
  /** The exchange's clock, shared by the process's jobs of this exchange. */
  clock: BackfillClock;
}

/** The pager's spec of one feed: how to fetch a page from `since`, how rows are timed, page size, step. */
export function pageSpec(feed: BackfillFeed, ctx: PageContext): PageSpec<unknown> {
  const { job: d, ex, gate, fundingCache, candleAsk } = ctx;
  // Each page retries retriable errors (5xx, timeouts, rate limits after the gate's pause)
  // a few times with backoff and jitter before the job itself fails and BullMQ retries it.
  const call = <T>(method: string, fn: () => Promise<T>): Promise<T> =>
    retry(
      async () => {
        await gate.pass();
        try {
          return await callExchange(ex, method, ctx.metrics, fn, gate);
        } catch (err) {
          gate.onError(err);
          throw err;
        }
      },
      {
        retries: 4,
        baseDelayMs: 500,
        onRetry: (err, attempt, delayMs) =>
          ctx.logger.warn(
            { exchange: d.exchange, symbol: d.symbol, method, attempt, delayMs, err: (err as Error).message },
            'backfill page retry',
          ),
      },
    );
  if (feed === 'ohlcv')
    return {
      fetch: async (since, limit) => {
        // A page that may hold a candle still open at the exchange is judged by the
        // exchange's clock: a clock of ours running ahead would take it for closed.
        if (since + limit * timeframeMs(d.timeframe) > ctx.now() - PRESENT_HORIZON_MS)
          await ctx.clock
            .readIfStale(() => call('fetchTime', () => ex.fetchTime()))
            .catch((err) =>
              ctx.logger.warn(
                { exchange: d.exchange, err: (err as Error).message, unreadErrorMs: UNREAD_CLOCK_ERROR_MS },
                "backfill could not read the exchange's clock; candles count as closed by ours",
              ),
            );
        return call(candles.PAGE_METHOD, () => {
          candleAsk.atMs = ctx.clock.clock.passedMs(); // this attempt's request time
          return candles.fetchPage(ex, d.symbol, d.timeframe, since, limit);
        });
      },
      timeOf,
      limit: candles.pageLimit(d.exchange),
      stepMs: timeframeMs(d.timeframe),
    };
  if (feed === 'open_interest')
    return {
      fetch: (since, limit) =>
        call(openInterest.HISTORY_METHOD, () =>
          openInterest.fetchHistoryPage(ex, d.exchange, d.symbol, since, limit),
        ),
      timeOf,
      limit: openInterest.historyPageLimit(d.exchange),
      stepMs: openInterest.HISTORY_STEP_MS,
    };
  return {
    fetch: async (since, limit) => {
      const c = fundingCache;
      // Served from the cache only when it covers a time past the chunk (the pager then stops).
      if (since >= c.fromMs && c.coveredToMs >= since + d.chunkMs)
        return c.rows.filter((r) => (timeOf(r) ?? -1) >= since);
      const rows = await call(settledFunding.PAGE_METHOD, () =>
        settledFunding.fetchPage(ex, d.symbol, since, limit),
      );
      const times = rows.map(timeOf);
      if (times.length > 0 && times.every((t) => t !== null)) {
        const last = Math.max(...(times as number[]));
        // A short page holds everything the exchange has from `since` up to its now.
        Object.assign(c, {
          fromMs: since,
          coveredToMs: rows.length < limit ? ctx.now() : last,
          rows,
        });
      }
      return rows;
    },
    timeOf,
    limit: settledFunding.pageLimit(d.exchange),
    stepMs: 1,
  };
}

/**
 * A page's rows as records of the job's series, stamped as received now. Open candles are
 * left out: a backfill never publishes one (not final). Judged at the time the page was
 * requested, not received: an answer given just before a close and parsed after it still
 * holds the candle open, with partial values.
 */
export function normalizePage(
  feed: BackfillFeed,
  rows: readonly unknown[],
  d: BackfillJobData,
  receivedAtMs: number,
  candleAsk: CandleAsk,
): Item[] {
  const stamp = { exchange: d.exchange, symbol: d.symbol, source: 'backfill' as const, receivedAtMs };
  if (feed === 'ohlcv') {
    const closed = rows.filter((r) => {
      const t = timeOf(r);
      return t === null || isClosed(t, d.timeframe, candleAsk.atMs);
    });
    return candles.normalize(closed as unknown[][], stamp, d.timeframe);
  }
  if (feed === 'open_interest') return openInterest.normalize(rows as Record<string, number>[], stamp);
  return settledFunding.normalize(rows as Record<string, number>[], stamp);
}
