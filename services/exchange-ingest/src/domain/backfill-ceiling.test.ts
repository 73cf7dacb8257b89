import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { binanceusdm } from '../venues/binanceusdm.js';
import { bybit } from '../venues/bybit.js';
import { hyperliquid } from '../venues/hyperliquid.js';
import { INGEST_VENUES, SUPPORTED_EXCHANGES } from '../venues/index.js';
import { backfillCeilings, backfillRows } from './backfill-ceiling.js';

describe('backfillCeilings', () => {
  it('Hyperliquid: 5000-candle pages at weight 103, 500-row funding pages at 45, no open-interest history', () => {
    const c = Object.fromEntries(backfillCeilings(hyperliquid).map((x) => [x.feed, x]));
    assert.deepEqual(Object.keys(c), ['ohlcv', 'fundingHistory']);
    assert.equal(Math.round(c.ohlcv?.rowsPerSecond ?? 0), 971);
    assert.equal(Math.round(c.fundingHistory?.rowsPerSecond ?? 0), 222);
  });
  it("gives Binance's per-IP ceilings: candles by weight, open interest and funding by their endpoint limits", () => {
    const c = Object.fromEntries(backfillCeilings(binanceusdm).map((x) => [x.feed, x]));
    // 2,400 weight / 2 per 499-row page = 1,200 pages/min.
    assert.equal(c.ohlcv?.pagesPerMinute, 1200);
    assert.equal(c.ohlcv?.rowsPerSecond, 9980);
    assert.equal(c.ohlcv?.boundBy, 'budget');
    // openInterestHist weighs 0; 1,000 calls per 5 min of 500 points.
    assert.equal(c.openInterestHistory?.pagesPerMinute, 200);
    assert.equal(Math.round(c.openInterestHistory?.rowsPerSecond ?? 0), 1667);
    assert.equal(c.openInterestHistory?.boundBy, 'endpoint');
    assert.equal(c.fundingHistory?.boundBy, 'endpoint');
    assert.equal(Math.round(c.fundingHistory?.rowsPerSecond ?? 0), 1667);
  });

  it("gives Bybit's: 600 requests per 5 s, whatever the rows", () => {
    const c = Object.fromEntries(backfillCeilings(bybit).map((x) => [x.feed, x]));
    assert.equal(c.ohlcv?.pagesPerMinute, 7200);
    assert.equal(c.ohlcv?.rowsPerSecond, 120_000);
    assert.equal(c.openInterestHistory?.rowsPerSecond, 24_000);
  });

  it('counts the rows a backfill fetches per feed', () => {
    const day = 86_400_000;
    assert.equal(backfillRows('ohlcv', 3, 0, 2 * day, 60_000), 3 * 2880);
    assert.equal(backfillRows('openInterestHistory', 3, 0, day, 60_000), 3 * 288);
    assert.equal(backfillRows('fundingHistory', 1, 0, day, 60_000), 24);
    assert.equal(backfillRows('ohlcv', 3, day, 0, 60_000), 0);
  });

  it("matches the README's sizing table, venue by venue and feed by feed", () => {
    const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('**Sizing a backfill.**'));
    for (const id of SUPPORTED_EXCHANGES) {
      const row = table.split('\n').find((l) => l.startsWith(`| \`${id}\` |`));
      assert.ok(row, `README's sizing table has no row for ${id}`);
      const cells = row
        .split('|')
        .slice(2, 5)
        .map((c) => c.trim());
      // A feed the venue does not serve has no ceiling; its cell starts with "none".
      const ceilings = backfillCeilings(INGEST_VENUES[id]!);
      const feeds = ['ohlcv', 'openInterestHistory', 'fundingHistory'] as const;
      assert.deepEqual(
        cells.map((c) => c.split(/[: ]/)[0]),
        feeds.map((feed) => {
          const c = ceilings.find((x) => x.feed === feed);
          return c ? `${Math.round(c.rowsPerSecond).toLocaleString('en-US')}/s` : 'none';
        }),
        `${id}: README cells vs backfillCeilings (ohlcv, open-interest history, funding history)`,
      );
    }
  });
});
