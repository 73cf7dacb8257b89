/**
 * Credentials never reach logs or metrics. Every service's parsed config, with every
 * secret set, is logged through the service logger: no secret appears. Each
 * Kafka-facing service is started with a SASL password from a secret file
 * (`KAFKA_SASL_PASSWORD_FILE`) but without TLS: it stops at start-up naming
 * KAFKA_SSL, and the password appears nowhere in its output. Then the aligner runs
 * with the password set but SASL off: its log and /metrics never contain it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { kafkaSettingsFromConfig } from '@perpflow/kafka';
import { createLogger } from '@perpflow/runtime';
import { loadConfig as loadAlignerConfig } from '../../services/aligner/src/config.js';
import { loadConfig as loadIngestConfig } from '../../services/exchange-ingest/src/config.js';
import { loadConfig as loadSimConfig } from '../../services/exchange-sim/src/config.js';
import { loadConfig as loadMonitorConfig } from '../../services/monitor/src/config.js';
import {
  loadCompactConfig,
  loadPullConfig,
  loadConfig as loadWindowerConfig,
} from '../../services/windower/src/config.js';
import { freePort, STACK, startService, stopService, uniqueName, waitFor } from '../src/harness.js';

const SECRET = `pw-${randomBytes(12).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'perpflow-secret-'));
const secretFile = join(dir, 'kafka-password');
writeFileSync(secretFile, `${SECRET}\n`);

const SERVICES: { name: string; workspace: string; env: Record<string, string> }[] = [
  { name: 'exchange-ingest', workspace: 'services/exchange-ingest', env: { INGEST_LIVE: 'false' } },
  { name: 'aligner', workspace: 'services/aligner', env: { ALIGNER_GROUP_ID: uniqueName('secrets') } },
  {
    name: 'windower',
    workspace: 'services/windower',
    env: {
      WINDOWER_GROUP_ID: uniqueName('secrets'),
      S3_ENDPOINT: STACK.s3Endpoint,
      S3_BUCKET: STACK.s3Bucket,
    },
  },
];

describe('secrets stay out of logged configs', () => {
  const secrets = {
    kafka: `kafka-${randomBytes(8).toString('hex')}`,
    s3Id: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    s3: `s3-${randomBytes(8).toString('hex')}`,
    redis: `redis-${randomBytes(8).toString('hex')}`,
  };
  const s3SecretFile = join(dir, 's3-secret');
  writeFileSync(s3SecretFile, `${secrets.s3}\n`);
  const environment = {
    KAFKA_SSL: 'true',
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'perpflow-user',
    KAFKA_SASL_PASSWORD: secrets.kafka,
    S3_ACCESS_KEY_ID: secrets.s3Id,
    S3_SECRET_ACCESS_KEY_FILE: s3SecretFile,
    REDIS_URL: `redis://perpflow-user:${secrets.redis}@redis.internal:6379/0`,
  };
  const loaders: [string, (e: Record<string, string>) => object][] = [
    ['exchange-ingest', loadIngestConfig],
    ['aligner', loadAlignerConfig],
    ['windower', loadWindowerConfig],
    ['perpflow pull', loadPullConfig],
    ['perpflow compact', loadCompactConfig],
    ['exchange-sim', loadSimConfig],
    ['monitor', loadMonitorConfig],
  ];
  for (const [name, load] of loaders)
    it(`${name}: its parsed config and Kafka settings, logged, show no secret`, () => {
      const chunks: string[] = [];
      const logger = createLogger({
        service: name,
        level: 'debug',
        destination: new Writable({
          write(chunk, _enc, cb) {
            chunks.push(String(chunk));
            cb();
          },
        }),
      });
      const config = load(environment);
      const kafka = 'KAFKA_BROKERS' in config ? kafkaSettingsFromConfig(config as never, name) : undefined;
      logger.info({ config, kafka, environment }, 'config');
      logger.child({ config }).debug({ redis: (config as { REDIS_URL?: string }).REDIS_URL }, 'child');
      logger.warn(`connecting to ${environment.REDIS_URL}`);
      const text = chunks.join('');
      assert.equal(text.trim().split('\n').length, 3, 'three lines logged');
      for (const [what, secret] of Object.entries(secrets))
        assert.ok(!text.includes(secret), `${name} logged the ${what} secret: ${text}`);
      assert.ok(text.includes('redis.internal:6379'), 'the Redis host is still logged');
      if (kafka) assert.ok(text.includes('perpflow-user'), 'the SASL user name is still logged');
    });
});

describe('secrets stay out of logs and metrics', { timeout: 240_000 }, () => {
  for (const svc of SERVICES)
    it(`${svc.name}: SASL without TLS stops start-up naming KAFKA_SSL, never the password`, async () => {
      const port = await freePort();
      const p = await startService({
        name: `secrets-${svc.name}`,
        workspace: svc.workspace,
        env: {
          ...svc.env,
          KAFKA_BROKERS: STACK.kafkaBrokers,
          REDIS_URL: STACK.redisUrl,
          KAFKA_SASL_MECHANISM: 'plain',
          KAFKA_SASL_USERNAME: 'perpflow',
          KAFKA_SASL_PASSWORD_FILE: secretFile,
          METRICS_PORT: String(port),
        },
        readyPort: null,
      });
      const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('running'), 90_000))]);
      if (code === 'running') await stopService(p, 'SIGKILL');
      assert.notEqual(code, 0, `${svc.name} must not start with SASL over plaintext`);
      const log = p.log();
      assert.match(log, /KAFKA_SASL_MECHANISM=plain needs KAFKA_SSL=true/, 'the log names the keys');
      assert.ok(!log.includes(SECRET), `${svc.name} printed the password`);
    });

  it('aligner: a configured password is in neither the log nor /metrics of a running service', async () => {
    const port = await freePort();
    const p = await startService({
      name: 'secrets-aligner-running',
      workspace: 'services/aligner',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        REDIS_URL: STACK.redisUrl,
        ALIGNER_GROUP_ID: uniqueName('secrets'),
        ALIGNER_FROM_BEGINNING: 'false',
        KAFKA_SASL_MECHANISM: 'none',
        KAFKA_SASL_PASSWORD_FILE: secretFile,
        LOG_LEVEL: 'debug',
        METRICS_PORT: String(port),
      },
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    try {
      const metrics = await waitFor(
        'metrics',
        async () => {
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return text.includes('perpflow_') ? text : null;
        },
        30_000,
      );
      assert.ok(!metrics.includes(SECRET), '/metrics shows the password');
    } finally {
      await stopService(p);
    }
    const log = p.log();
    assert.match(log, /aligner ready/);
    assert.ok(!log.includes(SECRET), 'the log shows the password');
  });
});
