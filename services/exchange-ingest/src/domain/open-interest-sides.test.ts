import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openInterestFromCcxt } from './normalize.js';

/**
 * A recorded Bybit answer as ccxt returns it (ccxt issue #30014, 2026-08-21, BTC/USDT:USDT 1h):
 * openInterest "54656.19300000" counts both sides, singleOpenInterest "27328.097" one.
 */
const recorded = {
  openInterestAmount: 54656.193,
  openInterestValue: undefined,
  timestamp: 1787248800000,
  info: { openInterest: '54656.19300000', singleOpenInterest: '27328.097', timestamp: '1787248800000' },
};
const stamp = (exchange: 'bybit' | 'binanceusdm') => ({
  exchange,
  symbol: 'BTC/USDT:USDT',
  receivedAtMs: 1787248860000,
  source: 'backfill' as const,
});

describe('open interest is one side in base units, whatever the venue counts', () => {
  it('Bybit: singleOpenInterest, not the both-sides openInterest', () => {
    const r = openInterestFromCcxt(recorded, stamp('bybit'));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.ok && r.value.openInterest, 27328.097);
  });
  it('Bybit without singleOpenInterest: half of openInterest', () => {
    const r = openInterestFromCcxt({ ...recorded, info: { openInterest: '54656.19300000' } }, stamp('bybit'));
    assert.equal(r.ok && r.value.openInterest, 27328.0965);
  });
  it('Binance reports one side: taken as it is', () => {
    const r = openInterestFromCcxt(
      { openInterestAmount: 81234.5, timestamp: 1787248800000, info: { sumOpenInterest: '81234.5' } },
      stamp('binanceusdm'),
    );
    assert.equal(r.ok && r.value.openInterest, 81234.5);
  });
});
