import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HYPERLIQUID_BUDGET,
  HYPERLIQUID_PAGE_LIMITS,
  HYPERLIQUID_RATE_LIMITED,
  hyperliquidAnswerWeight,
  hyperliquidFundingHour,
  hyperliquidKlines,
} from './hyperliquid.js';

/** ccxt 4.5.84 js/src/pro/hyperliquid.js, handleOHLCV: a recorded candle push. */
const RECORDED_PUSH = {
  channel: 'candle',
  data: {
    t: 1710146280000,
    T: 1710146339999,
    s: 'BTC',
    i: '1m',
    o: '71400.0',
    c: '71411.0',
    h: '71422.0',
    l: '71389.0',
    v: '1.20407',
    n: 20,
  },
};

describe('hyperliquid ingest facts', () => {
  it('maps a recorded candle push: coin as market id, open before T, closed once received after T', () => {
    const open = hyperliquidKlines(RECORDED_PUSH, 1710146339999);
    assert.deepEqual(open, [
      {
        marketId: 'BTC',
        interval: '1m',
        row: [1710146280000, 71400, 71422, 71389, 71411, 1.20407],
        closed: false,
      },
    ]);
    assert.equal(hyperliquidKlines(RECORDED_PUSH, 1710146340000)[0]?.closed, true);
  });

  it('ignores the other channels (ccxt 4.5.84 recorded subscriptionResponse and pong)', () => {
    const ack = {
      channel: 'subscriptionResponse',
      data: { method: 'unsubscribe', subscription: { type: 'trades', coin: 'PURR/USDC' } },
    };
    assert.deepEqual(hyperliquidKlines(ack, 0), []);
    assert.deepEqual(hyperliquidKlines({ channel: 'pong' }, 0), []);
    assert.deepEqual(hyperliquidKlines(null, 0), []);
  });

  it('floors a recorded funding time to its hour (ccxt 4.5.84 fetchFundingRateHistory: 1704290400031)', () => {
    assert.equal(hyperliquidFundingHour(1704290400031), 1704290400000);
  });

  it('pages 5000 candles and 500 funding rows, has no open-interest history, budgets 1200 weight a minute', () => {
    assert.deepEqual(HYPERLIQUID_PAGE_LIMITS, { ohlcv: 5000, openInterestHistory: 0, fundingHistory: 500 });
    assert.equal(HYPERLIQUID_BUDGET.unitsPerMinute, 1200);
    assert.equal(hyperliquidAnswerWeight('ohlcv', 5000), 103);
    assert.equal(hyperliquidAnswerWeight('fundingHistory', 500), 45);
  });

  it("recognises ccxt's RateLimitExceeded message for a 429", () => {
    const msg =
      'hyperliquid POST http://127.0.0.1:1/api.hyperliquid.xyz/info 429 Too Many Requests Too Many Requests';
    assert.match(msg, HYPERLIQUID_RATE_LIMITED.pattern);
    assert.doesNotMatch('hyperliquid POST … 422 Unprocessable Entity', HYPERLIQUID_RATE_LIMITED.pattern);
  });
});
