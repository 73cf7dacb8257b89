import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pagesOf } from './paging.js';
import { selectSymbols, shardOf } from './universe.js';

describe('pagesOf', () => {
  it('walks irregular times by the returned rows, with no loss and no repeat', async () => {
    // Funding every 4 h, which a fixed 8 h step would halve.
    const times = Array.from({ length: 2190 }, (_, i) => 1_700_000_000_000 + i * 4 * 3_600_000);
    const spec = {
      fetch: async (since: number, limit: number) =>
        times
          .filter((t) => t >= since)
          .slice(0, limit)
          .map((t) => ({ t })),
      timeOf: (r: { t: number }) => r.t,
      limit: 1000,
      stepMs: 1,
    };
    const seen: number[] = [];
    let pages = 0;
    for await (const p of pagesOf(spec, times[0]!, times.at(-1)! + 1)) {
      pages++;
      seen.push(...p.rows.map((r) => r.t));
    }
    assert.deepEqual(seen, times);
    assert.equal(pages, 3);
  });
  it('stops at the end of the data and returns the resume point of each page', async () => {
    const times = [0, 60_000, 120_000].map((x) => x + 1_700_000_040_000);
    const spec = {
      fetch: async (since: number, limit: number) => times.filter((t) => t >= since).slice(0, limit),
      timeOf: (t: number) => t,
      limit: 2,
      stepMs: 60_000,
    };
    const out: { rows: number[]; next: number }[] = [];
    for await (const p of pagesOf(spec, times[0]!, times[0]! + 10 * 60_000))
      out.push({ rows: p.rows, next: p.nextSinceMs });
    assert.deepEqual(out, [
      { rows: [times[0], times[1]], next: times[2] },
      { rows: [times[2]], next: times[2]! + 60_000 },
      { rows: [], next: times[0]! + 10 * 60_000 },
    ]);
  });
});

describe('pagesOf on a malformed page', () => {
  it('throws a retriable error instead of ending the range early', async () => {
    const spec = {
      fetch: async () => [[null, null], [undefined]],
      timeOf: (r: unknown[]) => (typeof r[0] === 'number' ? r[0] : null),
      limit: 10,
      stepMs: 60_000,
    };
    const pages = pagesOf(spec, 1_700_000_040_000, 1_700_000_640_000);
    await assert.rejects(
      pages.next(),
      (e: unknown) =>
        e instanceof Error &&
        (e as { retriable?: boolean }).retriable === true &&
        /malformed/.test((e as Error).message),
    );
  });
});

describe('universe', () => {
  const markets = [
    { symbol: 'BTC/USDT:USDT', swap: true, linear: true, active: true },
    { symbol: 'ETH/USDT:USDT', swap: true, linear: true, active: true },
    { symbol: 'OLD/USDT:USDT', swap: true, linear: true, active: false },
    { symbol: 'BTC/USDT', swap: false },
  ];
  it('takes every active linear perpetual, sorted', () => {
    assert.deepEqual(
      selectSymbols('binanceusdm', markets, { symbols: 'all', limit: 0, shard: { index: 0, count: 1 } }),
      ['BTC/USDT:USDT', 'ETH/USDT:USDT'],
    );
  });
  it('names listed symbols the exchange does not have', () => {
    assert.throws(
      () =>
        selectSymbols('binanceusdm', markets, {
          symbols: 'BTC/USDT:USDT,NOPE/USDT:USDT',
          limit: 0,
          shard: { index: 0, count: 1 },
        }),
      /does not list NOPE\/USDT:USDT/,
    );
  });
  it('shards split the universe into disjoint covering parts', () => {
    const many = Array.from({ length: 500 }, (_, i) => ({
      symbol: `S${i}/USDT:USDT`,
      swap: true,
      linear: true,
    }));
    const parts = [0, 1, 2].map((index) =>
      selectSymbols('bybit', many, { symbols: 'all', limit: 0, shard: { index, count: 3 } }),
    );
    assert.equal(parts.flat().length, 500);
    assert.equal(new Set(parts.flat()).size, 500);
    for (const p of parts) assert.ok(p.length > 100, `unbalanced shard: ${p.length}`);
    assert.equal(shardOf('bybit', 'S1/USDT:USDT', 3), shardOf('bybit', 'S1/USDT:USDT', 3));
  });
});
