import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.js';

describe('archiver config', () => {
  it('archives the four raw topics and the dead-letter topic by default', () => {
    const c = loadConfig({});
    assert.deepEqual([...c.ARCHIVER_TOPICS].sort(), [
      ['perpflow.dlq.v1', 'dead_letter'],
      ['perpflow.raw.funding.v1', 'funding'],
      ['perpflow.raw.liquidation.v1', 'liquidation'],
      ['perpflow.raw.ohlcv.v1', 'ohlcv'],
      ['perpflow.raw.open_interest.v1', 'open_interest'],
    ]);
    assert.equal(c.ARCHIVER_MAX_OBJECT_AGE_MS, 3_600_000);
    const staged = loadConfig({ KAFKA_TOPIC_PREFIX: 'staging.' });
    assert.deepEqual([...staged.ARCHIVER_TOPICS.keys()].sort(), [
      'staging.perpflow.dlq.v1',
      'staging.perpflow.raw.funding.v1',
      'staging.perpflow.raw.liquidation.v1',
      'staging.perpflow.raw.ohlcv.v1',
      'staging.perpflow.raw.open_interest.v1',
    ]);
    assert.equal(c.METRICS_PORT, 39105);
  });

  it('names the key of a bad value', () => {
    for (const [key, value, message] of [
      ['ARCHIVER_TOPICS', 'candles=t1', /ARCHIVER_TOPICS.*'candles=t1' is not <feed>=<topic>/],
      ['ARCHIVER_TOPICS', 'ohlcv=a/b', /ARCHIVER_TOPICS.*not a topic name/],
      ['ARCHIVER_TOPICS', 'ohlcv=a,ohlcv=b', /ARCHIVER_TOPICS.*given twice/],
      ['ARCHIVER_MAX_OBJECT_AGE_MS', '10', /ARCHIVER_MAX_OBJECT_AGE_MS/],
      ['KAFKA_TOPIC_PREFIX', 'staging/', /KAFKA_TOPIC_PREFIX.*letters, digits/],
      ['ARCHIVER_CRASH_AT', 'before-object-put', /ARCHIVER_CRASH_AT/],
    ] as const)
      assert.throws(() => loadConfig({ [key]: value }), message, `${key}=${value}`);
  });
});

describe('archiver config: the shared rules', () => {
  const keyOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as { key?: string }).key;
    }
    return null;
  };
  it('refuses a misspelt ARCHIVER_ key, a prefix the layout refuses, SASL without TLS and half an S3 key pair', () => {
    assert.equal(
      keyOf(() => loadConfig({ ARCHIVER_MAX_OBJECT_AGE: '1000' })),
      'ARCHIVER_MAX_OBJECT_AGE',
    );
    assert.equal(
      keyOf(() => loadConfig({ S3_PREFIX: 'datasets//prod' })),
      'S3_PREFIX',
    );
    assert.equal(
      keyOf(() =>
        loadConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }),
      ),
      'KAFKA_SSL',
    );
    assert.equal(
      keyOf(() => loadConfig({ S3_ACCESS_KEY_ID: 'id' })),
      'S3_SECRET_ACCESS_KEY',
    );
  });
});
