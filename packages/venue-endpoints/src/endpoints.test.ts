import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ccxt from 'ccxt';
import { pointExchangeAt, rewriteUrl } from './endpoints.js';

const bases = { restBaseUrl: 'http://127.0.0.1:39200', wsBaseUrl: 'ws://127.0.0.1:39200' };

describe('pointExchangeAt', () => {
  it('rewrites every Binance USD-M URL, keeping the original host as the first path segment', () => {
    const ex = new ccxt.pro.binanceusdm() as unknown as { urls: { api: Record<string, unknown> } };
    pointExchangeAt(ex, bases);
    assert.equal(ex.urls.api.fapiPublic, 'http://127.0.0.1:39200/fapi.binance.com/fapi/v1');
    assert.equal(ex.urls.api.fapiData, 'http://127.0.0.1:39200/fapi.binance.com/futures/data');
    assert.equal(
      (ex.urls.api.ws as Record<string, string>).future,
      'ws://127.0.0.1:39200/fstream.binance.com/ws',
    );
    assert.ok(!JSON.stringify(ex.urls.api).includes('https://'), 'an https URL was left');
  });
  it('fills Bybit {hostname} placeholders', () => {
    const ex = new ccxt.pro.bybit() as unknown as {
      urls: { api: Record<string, unknown> };
      hostname: string;
    };
    pointExchangeAt(ex, bases);
    assert.equal(ex.urls.api.public, 'http://127.0.0.1:39200/api.bybit.com');
    const ws = ex.urls.api.ws as { public: Record<string, string> };
    assert.equal(ws.public.linear, 'ws://127.0.0.1:39200/stream.bybit.com/v5/public/linear');
  });
  it('drops a port from the original host and leaves non-URLs alone', () => {
    assert.equal(
      rewriteUrl('wss://stream.binance.com:9443/ws', bases, ''),
      'ws://127.0.0.1:39200/stream.binance.com/ws',
    );
    assert.equal(rewriteUrl('not a url', bases, ''), 'not a url');
  });
});
