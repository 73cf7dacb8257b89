import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '@perpflow/contracts';
import { loadCompactConfig, loadConfig, loadPullConfig } from './config.js';

const names = (key: string, text: RegExp) => (e: unknown) =>
  e instanceof ConfigError && e.key === key && text.test(e.message) && !e.message.includes('s3-secret');

describe('windower config', () => {
  it('refuses misspelt WINDOWER_ and COMPACTION_ keys, naming the nearest known key', () => {
    assert.throws(
      () => loadConfig({ WINDOWER_FLUSH_INTERVAL: '100' }),
      names('WINDOWER_FLUSH_INTERVAL', /did you mean WINDOWER_FLUSH_INTERVAL_MS\?/),
    );
    assert.throws(
      () => loadCompactConfig({ COMPACTION_CONCURENCY: '2' }),
      names('COMPACTION_CONCURENCY', /did you mean COMPACTION_CONCURRENCY\?/),
    );
  });
  it('refuses hex and blank integers naming the key', () => {
    assert.throws(
      () => loadConfig({ WINDOWER_FETCH_MAX_BYTES: '0x100000' }),
      names('WINDOWER_FETCH_MAX_BYTES', /decimal integer/),
    );
    assert.throws(() => loadConfig({ METRICS_PORT: ' ' }), names('METRICS_PORT', /decimal integer/));
  });
  it('has no default S3 keys and takes both or neither', () => {
    const c = loadConfig({});
    assert.equal(c.S3_ACCESS_KEY_ID, undefined);
    assert.equal(c.S3_SECRET_ACCESS_KEY, undefined);
    for (const load of [loadConfig, loadPullConfig, loadCompactConfig])
      assert.throws(
        () => load({ S3_ACCESS_KEY_ID: 'id' }),
        names('S3_SECRET_ACCESS_KEY', /set both, or neither/),
      );
  });
  it('reads the secret file beside an empty value, and refuses a value beside a file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'perpflow-windower-cfg-')), 's3');
    writeFileSync(file, 's3-secret\n');
    const env = { S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY_FILE: file };
    assert.equal(loadConfig({ ...env, S3_SECRET_ACCESS_KEY: '' }).S3_SECRET_ACCESS_KEY, 's3-secret');
    assert.throws(
      () => loadPullConfig({ ...env, S3_SECRET_ACCESS_KEY: 'other' }),
      names('S3_SECRET_ACCESS_KEY', /S3_SECRET_ACCESS_KEY and S3_SECRET_ACCESS_KEY_FILE are both set/),
    );
  });
  it('refuses SASL without TLS naming KAFKA_SSL', () => {
    assert.throws(
      () =>
        loadConfig({
          KAFKA_SASL_MECHANISM: 'scram-sha-256',
          KAFKA_SASL_USERNAME: 'u',
          KAFKA_SASL_PASSWORD: 'p',
        }),
      names('KAFKA_SSL', /needs KAFKA_SSL=true/),
    );
  });
});

describe('windower config: S3_PREFIX', () => {
  for (const prefix of ['datasets//prod', 'a//b', 'a/b//c/'])
    it(`refuses ${prefix}, as the dataset layout does, naming S3_PREFIX`, () => {
      for (const load of [loadConfig, loadPullConfig, loadCompactConfig])
        assert.throws(
          () => load({ S3_PREFIX: prefix }),
          (err: unknown) =>
            err instanceof ConfigError &&
            err.key === 'S3_PREFIX' &&
            err.message.includes(`invalid S3 prefix '${prefix}'`),
        );
    });

  it('refuses what the character rule refuses, naming S3_PREFIX', () => {
    for (const prefix of ['datasets/./prod', '/datasets', 'Datasets'])
      assert.throws(
        () => loadConfig({ S3_PREFIX: prefix }),
        (err: unknown) => err instanceof ConfigError && err.key === 'S3_PREFIX',
      );
  });

  it('accepts the prefixes the layout accepts', () => {
    for (const prefix of ['datasets', 'datasets/prod', 'a-b/c_d/e1', 'datasets/prod/'])
      assert.equal(loadConfig({ S3_PREFIX: prefix }).S3_PREFIX, prefix);
  });
});
