import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@perpflow/contracts';
import { parseConfig, SHARED_CONFIG_KEYS } from '@perpflow/runtime';
import { z } from 'zod';
import { checkKafkaSecurity, kafkaConfigShape, kafkaSettingsFromConfig } from './client.js';

const schema = z.object(kafkaConfigShape);
const parse = (env: Record<string, string>) => parseConfig(schema, env);

describe('Kafka client config', () => {
  it('takes SASL over TLS with a user name and a password', () => {
    const settings = kafkaSettingsFromConfig(
      parse({
        KAFKA_SSL: 'true',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'pw-1',
      }),
      'test',
    );
    assert.equal(settings.ssl, true);
    assert.deepEqual(settings.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'pw-1' });
    assert.equal(kafkaSettingsFromConfig(parse({}), 'test').sasl, undefined);
  });

  const ok = {
    KAFKA_SSL: 'true',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'pw-1',
  };
  for (const [what, env, key] of [
    ['without TLS', { ...ok, KAFKA_SSL: 'false' }, 'KAFKA_SSL'],
    ['without a user name', { ...ok, KAFKA_SASL_USERNAME: '' }, 'KAFKA_SASL_USERNAME'],
    ['without a password', { ...ok, KAFKA_SASL_PASSWORD: '' }, 'KAFKA_SASL_PASSWORD'],
  ] as const)
    it(`refuses SASL ${what}, naming ${key}`, () => {
      const c = parse(env);
      const named = (e: unknown) =>
        e instanceof ConfigError &&
        e.key === key &&
        e.message.includes('KAFKA_SASL_MECHANISM=plain') &&
        e.message.includes(key) &&
        !e.message.includes('pw-1');
      assert.throws(() => checkKafkaSecurity(c), named);
      assert.throws(() => kafkaSettingsFromConfig(c, 'test'), named);
    });

  it('lists its keys among the shared keys every service accepts', () => {
    for (const key of Object.keys(kafkaConfigShape)) assert.ok(SHARED_CONFIG_KEYS.includes(key), key);
  });
});
