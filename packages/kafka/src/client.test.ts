import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@perpflow/contracts';
import { parseConfig, SHARED_CONFIG_KEYS } from '@perpflow/runtime';
import { logLevel } from 'kafkajs';
import { z } from 'zod';
import { checkKafkaSecurity, kafkaConfigShape, kafkajsLogLevel, kafkaSettingsFromConfig } from './client.js';

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

describe('kafkajs log levels', () => {
  const response = (error: unknown) =>
    kafkajsLogLevel(logLevel.ERROR, 'Connection', 'Response Heartbeat(key: 12, version: 3)', error);

  it('logs a broker error kafkajs handles itself (a rebalance, a leader moving) at debug', () => {
    // The three error responses of a CI run's service logs (211 + 18 + 1 lines at error).
    assert.equal(response('The group is rebalancing, so a rejoin is needed'), 'debug');
    assert.equal(response('This server is not the leader for that topic-partition'), 'debug');
    assert.equal(response('This server does not host this topic-partition'), 'debug');
  });

  it("logs kafkajs's notice of our bounded idempotent-producer retries at info, other producer warnings at warn", () => {
    const message = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';
    assert.equal(kafkajsLogLevel(logLevel.WARN, 'Producer', message, undefined), 'info');
    assert.equal(kafkajsLogLevel(logLevel.WARN, 'Producer', 'Failed to send messages', undefined), 'warn');
    assert.equal(kafkajsLogLevel(logLevel.WARN, 'Consumer', message, undefined), 'warn');
  });

  it('keeps every other error an error, and other levels as they are', () => {
    assert.equal(response('Not authorized to access topics: [Topic authorization failed]'), 'error');
    assert.equal(response(undefined), 'error');
    assert.equal(
      kafkajsLogLevel(
        logLevel.ERROR,
        'Consumer',
        'Crash: The group is rebalancing, so a rejoin is needed',
        undefined,
      ),
      'error',
    );
    assert.equal(
      kafkajsLogLevel(
        logLevel.ERROR,
        'Connection',
        'Connection error: connect ECONNREFUSED',
        'The request timed out',
      ),
      'error',
      'only error responses',
    );
    assert.equal(
      kafkajsLogLevel(logLevel.WARN, 'Connection', 'Response Fetch', 'The request timed out'),
      'warn',
    );
    assert.equal(kafkajsLogLevel(logLevel.INFO, 'Consumer', 'Starting', undefined), 'info');
  });
});
