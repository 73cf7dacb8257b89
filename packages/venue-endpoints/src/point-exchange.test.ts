import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ccxt from 'ccxt';
import { pointExchangeAt, rewriteUrl } from './point-exchange.js';

const bases = { restBaseUrl: 'http://127.0.0.1:39200', wsBaseUrl: 'ws://127.0.0.1:39200/' };

describe('pointExchangeAt', () => {
  it('rewrites every Binance USD-M REST and WS URL, keeping the original host as first path segment', async () => {
    const ex = new ccxt.pro.binanceusdm();
    await pointExchangeAt(ex, bases);
    const api = ex.urls.api as Record<string, unknown>;
    assert.equal(api.fapiPublic, 'http://127.0.0.1:39200/fapi.binance.com/fapi/v1');
    assert.equal(api.fapiData, 'http://127.0.0.1:39200/fapi.binance.com/futures/data');
    assert.equal((api.ws as Record<string, string>).future, 'ws://127.0.0.1:39200/fstream.binance.com/ws');
    assert.ok(!/(https|wss):\/\//.test(JSON.stringify(api)), 'a remote URL was left');
    assert.ok(ex.httpAgent !== undefined, 'ws:// needs the http agent loaded');
  });

  it('fills Bybit {hostname} placeholders in REST and nested WS maps', async () => {
    const ex = new ccxt.pro.bybit();
    await pointExchangeAt(ex, bases);
    const api = ex.urls.api as Record<string, unknown>;
    assert.equal(api.public, 'http://127.0.0.1:39200/api.bybit.com');
    const ws = api.ws as { public: Record<string, string> };
    assert.equal(ws.public.linear, 'ws://127.0.0.1:39200/stream.bybit.com/v5/public/linear');
    assert.ok(!JSON.stringify(api).includes('{hostname}'));
  });

  it('drops the original port and leaves non-URLs alone', () => {
    assert.equal(
      rewriteUrl('wss://stream.binance.com:9443/ws', bases),
      'ws://127.0.0.1:39200/stream.binance.com/ws',
    );
    assert.equal(rewriteUrl('not a url', bases), 'not a url');
  });

  it('does not load the http agent for a wss:// base', async () => {
    const ex = new ccxt.pro.binanceusdm();
    await pointExchangeAt(ex, { restBaseUrl: 'https://proxy.example', wsBaseUrl: 'wss://proxy.example' });
    assert.equal(
      (ex.urls.api as Record<string, string>).fapiPublic,
      'https://proxy.example/fapi.binance.com/fapi/v1',
    );
    assert.equal(ex.httpAgent, undefined);
  });
});
