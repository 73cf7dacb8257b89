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
});
