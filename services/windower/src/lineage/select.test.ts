import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LineageInput, RowOrigin } from './select.js';
import { selectBarLineage } from './select.js';

const T = Date.UTC(2024, 2, 1, 12, 0); // bar open
const TF = 60_000;
const OPTS = {
  exchange: 'binanceusdm',
  symbol: 'BTC/USDT:USDT',
  barTimeMs: T,
  timeframeMs: TF,
  maxOpenInterestStalenessMs: 600_000,
  maxMarkIndexStalenessMs: 600_000,
};
const base = { schemaVersion: 1, exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', source: 'live' } as const;

let nextOffset = 0;
function origin(topic: string): RowOrigin {
  return {
    topic,
    partition: 0,
    offset: String(nextOffset++),
    kafkaTimestampMs: T,
    objectKey: `k/${topic}`,
    objectSha256: 'a'.repeat(64),
  };
}
function candle(openTimeMs: number, over: Record<string, unknown> = {}): LineageInput {
  const record = {
    ...base,
    eventTimeMs: openTimeMs,
    receivedAtMs: openTimeMs + TF + 100,
    openTimeMs,
    timeframe: '1m',
    open: 10,
    high: 12,
    low: 9,
    close: 11,
    volume: 5,
    closed: true,
    ...over,
  };
  return { feed: 'ohlcv', record, origin: origin('raw.ohlcv') } as unknown as LineageInput;
}
function oi(eventTimeMs: number, openInterest: number, receivedAtMs = eventTimeMs + 50): LineageInput {
  const record = { ...base, eventTimeMs, receivedAtMs, openInterest, openInterestValue: null };
  return { feed: 'open_interest', record, origin: origin('raw.open_interest') } as unknown as LineageInput;
}
function liq(eventTimeMs: number, receivedAtMs = eventTimeMs + 10, side = 'sell'): LineageInput {
  const record = { ...base, eventTimeMs, receivedAtMs, side, price: 100, amount: 2 };
  return { feed: 'liquidation', record, origin: origin('raw.liquidations') } as unknown as LineageInput;
}
function funding(
  kind: string,
  eventTimeMs: number,
  fundingTimeMs: number,
  fundingRate: number,
): LineageInput {
  const record = {
    ...base,
    eventTimeMs,
    receivedAtMs: eventTimeMs + 10,
    kind,
    fundingRate,
    fundingTimeMs,
    markPrice: null,
    indexPrice: null,
  };
  return { feed: 'funding', record, origin: origin('raw.funding') } as unknown as LineageInput;
}

describe('selectBarLineage', () => {
  it('picks the candle of the bar; of several versions the closed, larger one; every copy shown, earliest receipt kept', () => {
    const provisional = candle(T, { closed: false, volume: 9 });
    const late = candle(T, { receivedAtMs: T + TF + 900 });
    const early = candle(T, { receivedAtMs: T + TF + 200 });
    const smaller = candle(T, { volume: 4 });
    const other = candle(T + TF);
    const out = selectBarLineage([provisional, late, early, smaller, other], OPTS);
    assert.deepEqual(
      out.ohlcv.map((c) => [c.input, c.kept]),
      [
        [late, false],
        [early, true],
      ],
    );
  });

  it('takes the latest open interest at or before the close; a point beyond the staleness bound is not used', () => {
    const atClose = oi(T + TF, 7);
    const after = oi(T + TF + 1, 99);
    const older = oi(T, 5);
    assert.deepEqual(
      selectBarLineage([older, atClose, after], OPTS).openInterest.map((c) => c.input),
      [atClose],
    );

    const stale = oi(T + TF - 600_001, 3);
    const out = selectBarLineage([stale], OPTS);
    assert.deepEqual(out.openInterest, []);
    assert.deepEqual(out.openInterestStale, [stale]);
    // Exactly at the bound is still fresh.
    const edge = oi(T + TF - 600_000, 4);
    assert.deepEqual(
      selectBarLineage([edge], OPTS).openInterest.map((c) => c.input),
      [edge],
    );
  });

  it('two open interest points with one event time: the larger is kept', () => {
    const a = oi(T + 10, 5);
    const b = oi(T + 10, 6);
    assert.deepEqual(
      selectBarLineage([a, b], OPTS).openInterest.map((c) => c.input),
      [b],
    );
  });

  it('liquidations in [t, t+tf): one at exactly t+tf is excluded; a re-delivery is shown and the earliest receipt kept', () => {
    const first = liq(T);
    const redelivered = liq(T, T + 500);
    const atClose = liq(T + TF);
    const before = liq(T - 1);
    const buy = liq(T + 30_000, T + 30_010, 'buy');
    const out = selectBarLineage([redelivered, first, atClose, before, buy], OPTS);
    assert.deepEqual(
      out.liquidations.map((c) => [c.input, c.kept]),
      [
        [redelivered, false],
        [first, true],
        [buy, true],
      ],
    );
  });

  it('funding: the latest settled rate by the close, and a prediction only for a later settlement', () => {
    const settledOld = funding('settled', T - 8 * 3_600_000, T - 8 * 3_600_000, 0.0001);
    const settled = funding('settled', T - 100, T - 100, 0.0002);
    const settledLater = funding('settled', T + TF + 5, T + TF + 5, 0.0003); // after the close: look-ahead
    const predicted = funding('predicted', T + 1_000, T + 3_600_000, 0.0004);
    const out = selectBarLineage([settledOld, settled, settledLater, predicted], OPTS);
    assert.deepEqual(
      out.fundingSettled.map((c) => c.input),
      [settled],
    );
    assert.deepEqual(
      out.fundingPredicted.map((c) => c.input),
      [predicted],
    );

    const spent = funding('predicted', T + 1_000, T + 2_000, 0.0005); // its settlement is inside the bar
    assert.deepEqual(selectBarLineage([spent], OPTS).fundingPredicted, []);
  });

  it('names the settlement before the bar’s (the interval) and the premium observation behind mark and index', () => {
    const H = 3_600_000;
    const close = T + TF;
    const older = funding('settled', T - 8 * H + 9, T - 8 * H, 0.0001);
    const previous = funding('settled', T - 4 * H + 9, T - 4 * H, 0.0002);
    const chosen = funding('settled', T - 9 * 60_000, T - 9 * 60_000 - 5, 0.0003);
    const premium = (eventTimeMs: number, markPrice: number | null) => {
      const r = funding('predicted', eventTimeMs, T + 4 * H, 0.0004);
      Object.assign(r.record, { markPrice, indexPrice: markPrice === null ? null : markPrice - 5 });
      return r;
    };
    const l = selectBarLineage(
      [older, previous, chosen, premium(close - 700_000, 61_000), premium(close - 30_000, 61_010)],
      OPTS,
    );
    assert.deepEqual(
      l.fundingPrevious.map((x) => x.input.record.fundingTimeMs),
      [T - 4 * H],
    );
    assert.deepEqual(
      l.markIndex.map((x) => (x.input.record as { markPrice: number }).markPrice),
      [61_010],
    );
    // Stale (past maxMarkIndexStalenessMs), or no prices sent: nothing decided mark and index.
    assert.deepEqual(selectBarLineage([premium(close - 700_000, 61_000)], OPTS).markIndex, []);
    assert.deepEqual(selectBarLineage([premium(close - 30_000, null)], OPTS).markIndex, []);
    assert.deepEqual(selectBarLineage([chosen], OPTS).fundingPrevious, [], 'one settlement: no previous');
  });

  it('ignores other exchanges and symbols', () => {
    const other = candle(T);
    (other.record as { symbol: string }).symbol = 'ETH/USDT:USDT';
    assert.deepEqual(selectBarLineage([other], OPTS).ohlcv, []);
  });
});
