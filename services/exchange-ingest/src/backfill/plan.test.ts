import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTimeArg, planBackfill } from './plan.js';

const DAY = 86_400_000;
describe('planBackfill', () => {
  it('splits a range into UTC-day chunks per symbol and feed, covering it exactly once', () => {
    const from = Date.UTC(2024, 0, 1, 12);
    const to = Date.UTC(2024, 0, 4);
    const jobs = planBackfill({
      id: 'b1',
      exchange: 'binanceusdm',
      symbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT'],
      feeds: ['ohlcv', 'funding'],
      timeframe: '1m',
      fromMs: from,
      toMs: to,
      chunkMs: DAY,
    });
    assert.equal(jobs.length, 2 * 2 * 3);
    const btcOhlcv = jobs
      .filter((j) => j.data.symbol === 'BTC/USDT:USDT' && j.data.feed === 'ohlcv')
      .map((j) => [j.data.fromMs, j.data.toMs]);
    assert.deepEqual(btcOhlcv, [
      [from, Date.UTC(2024, 0, 2)],
      [Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3)],
      [Date.UTC(2024, 0, 3), to],
    ]);
    assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
    for (const j of jobs) assert.ok(!j.id.includes(':'), j.id);
  });
  it('plans the same ids twice (adding a plan again adds nothing)', () => {
    const spec = {
      id: 'b2',
      exchange: 'bybit' as const,
      symbols: ['BTC/USDT:USDT'],
      feeds: ['ohlcv' as const],
      timeframe: '1m' as const,
      fromMs: 0 + 1_700_000_000_000,
      toMs: 1_700_000_000_000 + 3 * DAY,
      chunkMs: DAY,
    };
    assert.deepEqual(
      planBackfill(spec).map((j) => j.id),
      planBackfill(spec).map((j) => j.id),
    );
  });
  it('refuses an empty range', () => {
    assert.throws(
      () =>
        planBackfill({
          id: 'x',
          exchange: 'bybit',
          symbols: ['A/B:B'],
          feeds: ['ohlcv'],
          timeframe: '1m',
          fromMs: 5,
          toMs: 5,
          chunkMs: DAY,
        }),
      /must be before/,
    );
  });
});

describe('parseTimeArg', () => {
  it('reads dates, ISO times in UTC and epoch ms', () => {
    assert.equal(parseTimeArg('--from', '2024-03-01'), Date.UTC(2024, 2, 1));
    assert.equal(parseTimeArg('--from', '2024-03-01T06:30:00Z'), Date.UTC(2024, 2, 1, 6, 30));
    assert.equal(parseTimeArg('--to', '1709251200000'), 1_709_251_200_000);
  });
  it('refuses local times and garbage, naming the flag', () => {
    assert.throws(() => parseTimeArg('--from', '2024-03-01T06:30:00'), /--from: .* not a UTC date/);
    assert.throws(() => parseTimeArg('--to', 'yesterday'), /--to/);
  });
});
