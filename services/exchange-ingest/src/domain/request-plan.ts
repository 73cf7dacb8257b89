import { PerpflowError } from '@perpflow/contracts';
/**
 * The live request plan: how much of an exchange's rate budget the live loops
 * need per minute, checked before start-up, and the ccxt throttle that keeps the
 * whole process (live + backfill) inside the share of the budget it may use.
 *
 * Units are ccxt "cost" units, which for Binance USDⓈ-M equal the exchange's
 * request weight (klines with limit < 100 cost 1, the all-symbol premium index
 * 10) and for Bybit v5 are 5 per request (ccxt's own table).
 */
import type { ExchangeId } from '@perpflow/contracts';
import { ingestVenue, type PlannedCall } from '../venues/index.js';

export type { PlannedCall, VenueRateBudget } from '../venues/index.js';

export interface LivePlanInput {
  exchange: ExchangeId;
  symbols: number;
  feeds: ReadonlySet<string>;
  /** 'rest': a kline poll per symbol per bar; 'websocket': REST only to fill gaps (planned at `gapFillShare` of symbols per bar). */
  candleSource: 'rest' | 'websocket';
  timeframeMs: number;
  oiPollMs: number;
  fundingPollMs: number;
  fundingHistoryPollMs: number;
  /** Share of the venue budget this process may use (leave room for other clients on the IP). */
  budgetShare: number;
  /** With websocket candles: the share of symbols expected to need a REST gap fill per bar. Default 0.1. */
  gapFillShare?: number;
}

export interface PlanLine {
  call: PlannedCall;
  callsPerMinute: number;
  unitsPerMinute: number;
}

export interface LivePlan {
  exchange: ExchangeId;
  budgetUnitsPerMinute: number;
  /** What this process may use: budget × share. */
  allowedUnitsPerMinute: number;
  plannedUnitsPerMinute: number;
  /** planned / allowed. */
  utilization: number;
  /** ccxt rateLimit (ms per cost unit) that caps the process at the allowed rate; null: ccxt's default. */
  rateLimitMs: number | null;
  lines: PlanLine[];
}

export class PlanOverBudget extends PerpflowError {
  readonly code = 'PLAN_OVER_BUDGET';
  readonly retriable = false;
}

/**
 * Plans the live loops of one exchange. Throws PlanOverBudget naming the
 * settings to change when the plan does not fit the allowed share of the budget.
 */
export function planLiveRequests(p: LivePlanInput): LivePlan {
  const budget = ingestVenue(p.exchange).budget;
  const lines: PlanLine[] = [];
  const add = (call: PlannedCall, callsPerMinute: number) => {
    if (callsPerMinute <= 0) return;
    lines.push({ call, callsPerMinute, unitsPerMinute: callsPerMinute * budget.cost[call] });
  };
  const perMinute = (everyMs: number) => 60_000 / everyMs;
  if (p.feeds.has('ohlcv')) {
    const bars = perMinute(p.timeframeMs);
    add('fetchOHLCV', p.symbols * bars * (p.candleSource === 'rest' ? 1 : (p.gapFillShare ?? 0.1)));
  }
  if (p.feeds.has('open_interest')) {
    const calls = ingestVenue(p.exchange).openInterestPoll === 'all-symbols' ? 1 : p.symbols;
    add('fetchOpenInterest', calls * perMinute(p.oiPollMs));
  }
  if (p.feeds.has('funding')) {
    add('fetchFundingRates', perMinute(p.fundingPollMs));
    add('fetchFundingRateHistory', p.symbols * perMinute(p.fundingHistoryPollMs));
  }
  add('fetchTime', perMinute(300_000));
  const planned = lines.reduce((s, l) => s + l.unitsPerMinute, 0);
  const allowed = budget.unitsPerMinute * p.budgetShare;
  const plan: LivePlan = {
    exchange: p.exchange,
    budgetUnitsPerMinute: budget.unitsPerMinute,
    allowedUnitsPerMinute: allowed,
    plannedUnitsPerMinute: planned,
    utilization: planned / allowed,
    rateLimitMs: 60_000 / allowed,
    lines,
  };
  for (const line of lines) {
    const limit = budget.callsPerMinute?.[line.call];
    if (limit !== undefined && line.callsPerMinute > limit * p.budgetShare)
      throw new PlanOverBudget(
        `${p.exchange}: the live plan makes ${Math.ceil(line.callsPerMinute)} ${line.call} calls/min but that endpoint ` +
          `allows ${limit}/min (× INGEST_BUDGET_SHARE ${p.budgetShare}); raise INGEST_FUNDING_HISTORY_POLL_MS or shard the universe.`,
      );
  }
  if (planned > allowed) {
    const top = [...lines].sort((a, b) => b.unitsPerMinute - a.unitsPerMinute)[0];
    throw new PlanOverBudget(
      `${p.exchange}: the live plan needs ${Math.ceil(planned)} units/min but may use ${Math.floor(allowed)} ` +
        `(${budget.unitsPerMinute}/min × INGEST_BUDGET_SHARE ${p.budgetShare}); the largest part is ${top?.call} ` +
        `(${Math.ceil(top?.unitsPerMinute ?? 0)}/min). Raise INGEST_OI_POLL_MS or INGEST_FUNDING_HISTORY_POLL_MS, ` +
        'use websocket candles, or shard the universe (INGEST_SHARD) across workers on other IPs.',
    );
  }
  return plan;
}

/**
 * Start times that spread `count` calls evenly over `spreadMs` from `startMs`,
 * so a per-symbol loop never bursts its whole universe into the budget at once.
 */
export function spreadStarts(count: number, startMs: number, spreadMs: number): number[] {
  if (count <= 0) return [];
  const step = spreadMs / count;
  return Array.from({ length: count }, (_, i) => Math.round(startMs + i * step));
}
