import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binanceusdm } from '../venues/binanceusdm.js';
import { bybit } from '../venues/bybit.js';
import { hyperliquid } from '../venues/hyperliquid.js';
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
});
