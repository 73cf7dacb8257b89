import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binanceKlines } from './binanceusdm.js';
import { bybitKlines } from './bybit.js';

describe('kline mappers read the closed flag ccxt drops', () => {
  it('Binance: k.x marks the final values', () => {
    const msg = {
      e: 'kline',
      E: 1_700_000_060_100,
      s: 'BTCUSDT',
      k: {
        t: 1_700_000_000_000,
        T: 1_700_000_059_999,
        s: 'BTCUSDT',
        i: '1m',
        o: '1',
        h: '3',
        l: '0.5',
        c: '2',
        v: '10',
        x: true,
      },
    };
    assert.deepEqual(binanceKlines(msg), [
      { marketId: 'BTCUSDT', interval: '1m', row: [1_700_000_000_000, 1, 3, 0.5, 2, 10], closed: true },
    ]);
    assert.equal(binanceKlines({ ...msg, k: { ...msg.k, x: false } })[0]?.closed, false);
    assert.deepEqual(binanceKlines({ e: 'forceOrder', o: {} }), []);
  });
  it('Bybit: confirm marks the final values; intervals become ccxt timeframes', () => {
    const row = {
      start: 1_700_000_000_000,
      end: 1_700_000_059_999,
      open: '1',
      high: '3',
      low: '0.5',
      close: '2',
      volume: '10',
      confirm: true,
    };
    assert.deepEqual(bybitKlines({ topic: 'kline.1.ETHUSDT', type: 'snapshot', data: [row] }), [
      { marketId: 'ETHUSDT', interval: '1m', row: [1_700_000_000_000, 1, 3, 0.5, 2, 10], closed: true },
    ]);
    assert.equal(bybitKlines({ topic: 'kline.60.ETHUSDT', data: [row] })[0]?.interval, '1h');
    assert.equal(bybitKlines({ topic: 'kline.D.ETHUSDT', data: [row] })[0]?.interval, '1d');
    assert.deepEqual(bybitKlines({ topic: 'allLiquidation.ETHUSDT', data: [] }), []);
  });
});
