import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.js';

describe('ingest config', () => {
  it('takes INGEST_SHARD as i/n with i < n', () => {
    assert.equal(loadConfig({ INGEST_SHARD: '1/2' }).INGEST_SHARD, '1/2');
    assert.equal(loadConfig({}).INGEST_SHARD, '0/1');
  });
  for (const bad of ['2/2', '1', 'a/b', '0/0', '-1/2'])
    it(`refuses INGEST_SHARD=${bad} naming the key`, () => {
      assert.throws(
        () => loadConfig({ INGEST_SHARD: bad }),
        (err: Error) => /INGEST_SHARD/.test(err.message),
      );
    });
  it('refuses an unknown candle source naming the key', () => {
    assert.throws(
      () => loadConfig({ INGEST_CANDLES: 'carrier-pigeon' }),
      (err: Error) => /INGEST_CANDLES/.test(err.message),
    );
  });
  it('refuses a misspelt INGEST_ key, naming the nearest known key', () => {
    assert.throws(
      () => loadConfig({ INGEST_SYMBOL_LIMT: '5' }),
      /INGEST_SYMBOL_LIMT.*did you mean INGEST_SYMBOL_LIMIT\?/,
    );
  });
  it('takes INGEST_CRASH_AT (test only) as after-job-completed[:n] or empty, and refuses another step naming the key', () => {
    assert.equal(loadConfig({}).INGEST_CRASH_AT, '');
    assert.equal(
      loadConfig({ INGEST_CRASH_AT: 'after-job-completed:2' }).INGEST_CRASH_AT,
      'after-job-completed:2',
    );
    assert.throws(
      () => loadConfig({ INGEST_CRASH_AT: 'after-job-done' }),
      /INGEST_CRASH_AT.*after-job-completed/,
    );
    assert.throws(() => loadConfig({ INGEST_CRASH_AT: 'after-job-completed:0' }), /INGEST_CRASH_AT/);
  });

  it('refuses a hex or blank number naming the key', () => {
    assert.throws(() => loadConfig({ INGEST_SYMBOL_LIMIT: '0x10' }), /INGEST_SYMBOL_LIMIT.*decimal integer/);
    assert.throws(() => loadConfig({ INGEST_BUDGET_SHARE: ' ' }), /INGEST_BUDGET_SHARE.*decimal number/);
    assert.equal(loadConfig({ INGEST_BUDGET_SHARE: '0.5' }).INGEST_BUDGET_SHARE, 0.5);
  });
  it('takes every exchange with an ingest venue module, and refuses another naming the key', () => {
    assert.deepEqual(loadConfig({ INGEST_EXCHANGES: 'okx,bybit,binanceusdm' }).INGEST_EXCHANGES, [
      'okx',
      'bybit',
      'binanceusdm',
    ]);
    assert.throws(() => loadConfig({ INGEST_EXCHANGES: 'binanceusdm,kraken' }), /INGEST_EXCHANGES/);
  });
  it('refuses SASL without a password naming the key', () => {
    assert.throws(
      () => loadConfig({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }),
      /KAFKA_SASL_PASSWORD/,
    );
  });
});
