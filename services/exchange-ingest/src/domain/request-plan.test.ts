import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlanOverBudget, planLiveRequests, spreadStarts } from './request-plan.js';

const base = {
  exchange: 'binanceusdm' as const,
  symbols: 500,
  feeds: new Set(['ohlcv', 'open_interest', 'funding', 'liquidation']),
  candleSource: 'rest' as const,
  timeframeMs: 60_000,
  oiPollMs: 60_000,
  fundingPollMs: 60_000,
  fundingHistoryPollMs: 600_000,
  budgetShare: 0.8,
};

describe('planLiveRequests', () => {
  it('plans 500 symbols × 4 feeds with REST candles inside 80 % of Binance USD-M 2400 weight/min', () => {
    const plan = planLiveRequests(base);
    const byCall = Object.fromEntries(plan.lines.map((l) => [l.call, l.unitsPerMinute]));
    assert.deepEqual(byCall, {
      fetchOHLCV: 500,
      fetchOpenInterest: 500,
      fetchFundingRates: 10,
      fetchFundingRateHistory: 50,
      fetchTime: 0.2,
    });
    assert.equal(plan.plannedUnitsPerMinute, 1060.2);
    assert.equal(plan.allowedUnitsPerMinute, 1920);
    // The throttle caps the process at 1920 units/min: 31.25 ms per weight unit.
    assert.equal(plan.rateLimitMs, 31.25);
  });
  it('websocket candles leave REST klines only for gap fills', () => {
    const plan = planLiveRequests({ ...base, candleSource: 'websocket', gapFillShare: 0.1 });
    assert.equal(plan.lines.find((l) => l.call === 'fetchOHLCV')?.callsPerMinute, 50);
  });
  it('refuses a plan over the allowed share and names the settings to change', () => {
    assert.throws(
      () => planLiveRequests({ ...base, symbols: 1500, fundingHistoryPollMs: 3_600_000 }),
      (err: unknown) =>
        err instanceof PlanOverBudget &&
        /needs 3\d{3} units\/min but may use 1920/.test(err.message) &&
        /INGEST_OI_POLL_MS/.test(err.message) &&
        /INGEST_SHARD/.test(err.message),
    );
  });
  it('refuses a plan over an endpoint limit of its own (Binance fundingRate: 500 calls per 5 min)', () => {
    assert.throws(
      () => planLiveRequests({ ...base, fundingHistoryPollMs: 60_000 }),
      (err: unknown) =>
        err instanceof PlanOverBudget &&
        /500 fetchFundingRateHistory calls\/min/.test(err.message) &&
        /INGEST_FUNDING_HISTORY_POLL_MS/.test(err.message),
    );
  });
  it("counts Hyperliquid's info calls at the venue's weight 20 against 1,200 per minute, one open-interest call per poll for every symbol", () => {
    const hl = { ...base, exchange: 'hyperliquid' as const, candleSource: 'websocket' as const };
    const plan = planLiveRequests({ ...hl, symbols: 20, fundingHistoryPollMs: 3_600_000 });
    assert.equal(plan.budgetUnitsPerMinute, 1200);
    // One metaAndAssetCtxs per poll answers every coin's open interest; one for all funding rates.
    assert.equal(plan.lines.find((l) => l.call === 'fetchOpenInterest')?.unitsPerMinute, 20);
    assert.equal(plan.lines.find((l) => l.call === 'fetchFundingRates')?.unitsPerMinute, 20);
    // 200 coins (about Hyperliquid's listing) fit one IP: gap fills 0.1 × 200 × 20 = 400, funding
    // history 200 / 60 × 20 ≈ 67, the two all-coin calls 40, fetchTime 0.4: 507 of 960.
    const all = planLiveRequests({ ...hl, symbols: 200, fundingHistoryPollMs: 3_600_000 });
    assert.equal(Math.round(all.plannedUnitsPerMinute), 507);
    assert.throws(
      () => planLiveRequests({ ...hl, symbols: 500, fundingHistoryPollMs: 3_600_000 }),
      (err: unknown) => err instanceof PlanOverBudget && /may use 960/.test(err.message),
    );
  });
  it('counts Bybit requests at ccxt cost 5 against 600 requests per 5 s', () => {
    const plan = planLiveRequests({ ...base, exchange: 'bybit' });
    assert.equal(plan.budgetUnitsPerMinute, 36_000);
    assert.equal(plan.lines.find((l) => l.call === 'fetchOpenInterest')?.unitsPerMinute, 2500);
  });
  it('spreads starts evenly over the window', () => {
    assert.deepEqual(spreadStarts(4, 1000, 400), [1000, 1100, 1200, 1300]);
    assert.deepEqual(spreadStarts(0, 0, 10), []);
  });
});
