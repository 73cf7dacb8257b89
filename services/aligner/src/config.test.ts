import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@perpflow/contracts';
import { loadConfig } from './config.js';

const names = (key: string, text: RegExp) => (e: unknown) =>
  e instanceof ConfigError && e.key === key && text.test(e.message);

describe('aligner config', () => {
  it('refuses a misspelt ALIGNER_ key, naming it and the nearest known key', () => {
    assert.throws(
      () => loadConfig({ ALIGNER_SNAPHOT_INTERVAL_MS: '1000' }),
      names('ALIGNER_SNAPHOT_INTERVAL_MS', /did you mean ALIGNER_SNAPSHOT_INTERVAL_MS\?/),
    );
    assert.equal(loadConfig({ ALIGNER_METRICS_PORT: '39102' }).ALIGNER_SNAPSHOT_INTERVAL_MS, 900_000);
  });
  for (const bad of [' ', '0x10', '1e4', '5000.5'])
    it(`refuses ALIGNER_ALLOWED_LATENESS_MS=${JSON.stringify(bad)} naming the key`, () => {
      assert.throws(
        () => loadConfig({ ALIGNER_ALLOWED_LATENESS_MS: bad }),
        names('ALIGNER_ALLOWED_LATENESS_MS', /decimal integer/),
      );
    });
  it('refuses SASL without TLS or a password, naming the keys', () => {
    const sasl = { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'pw' };
    assert.throws(
      () => loadConfig(sasl),
      names('KAFKA_SSL', /KAFKA_SASL_MECHANISM=plain needs KAFKA_SSL=true/),
    );
    assert.throws(
      () => loadConfig({ ...sasl, KAFKA_SSL: 'true', KAFKA_SASL_PASSWORD: '' }),
      names('KAFKA_SASL_PASSWORD', /needs KAFKA_SASL_PASSWORD/),
    );
    assert.equal(loadConfig({ ...sasl, KAFKA_SSL: 'true' }).KAFKA_SASL_MECHANISM, 'plain');
  });
});
