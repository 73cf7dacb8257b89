import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunksOf, parseTimeArg, planBackfill } from './plan.js';

const DAY = 86_400_000;
describe('planBackfill', () => {
  it('plans one job per symbol, with ids free of ":" and the same ids every time', () => {
    const spec = {
      id: 'b1',
      exchange: 'binanceusdm' as const,
      symbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT'],
      feeds: ['ohlcv' as const, 'funding' as const],
      timeframe: '1m' as const,
      fromMs: Date.UTC(2024, 0, 1, 12),
      toMs: Date.UTC(2024, 0, 4),
      chunkMs: DAY,
    };
    const jobs = planBackfill(spec);
    assert.deepEqual(
      jobs.map((j) => j.data.symbol),
      ['BTC/USDT:USDT', 'ETH/USDT:USDT'],
    );
    for (const j of jobs) assert.ok(!j.id.includes(':'), j.id);
    assert.deepEqual(
      planBackfill(spec).map((j) => j.id),
      jobs.map((j) => j.id),
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

describe('chunksOf', () => {
  it('covers the range exactly once in UTC-day chunks', () => {
    const from = Date.UTC(2024, 0, 1, 12);
    const to = Date.UTC(2024, 0, 4);
    assert.deepEqual(chunksOf(from, to, DAY), [
      { fromMs: from, toMs: Date.UTC(2024, 0, 2) },
      { fromMs: Date.UTC(2024, 0, 2), toMs: Date.UTC(2024, 0, 3) },
      { fromMs: Date.UTC(2024, 0, 3), toMs: to },
    ]);
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

describe('planBackfill over shards', () => {
  it('puts each symbol in the shard that owns it live, deterministically', async () => {
    const { shardOf } = await import('../domain/universe.js');
    const symbols = Array.from({ length: 40 }, (_, i) => `S${i}/USDT:USDT`);
    const spec = {
      id: 'x',
      exchange: 'binanceusdm' as const,
      symbols,
      feeds: ['ohlcv' as const],
      timeframe: '1m' as const,
      fromMs: 0,
      toMs: 86_400_000,
      chunkMs: 86_400_000,
      shards: 3,
    };
    const jobs = planBackfill(spec);
    assert.deepEqual(
      jobs.map((j) => j.shard),
      symbols.map((s) => shardOf('binanceusdm', s, 3)),
    );
    assert.deepEqual(new Set(jobs.map((j) => j.shard)), new Set([0, 1, 2]));
    assert.deepEqual(planBackfill(spec), jobs);
    assert.ok(planBackfill({ ...spec, shards: undefined }).every((j) => j.shard === 0));
    assert.throws(() => planBackfill({ ...spec, shards: 0 }), /shards must be a whole number/);
  });
});
