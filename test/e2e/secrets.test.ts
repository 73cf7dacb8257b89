/**
 * Credentials never reach logs or metrics. Each Kafka-facing service is started with
 * a SASL password from a secret file (`KAFKA_SASL_PASSWORD_FILE`) against the local
 * broker, which speaks PLAINTEXT: the SASL handshake fails, the service exits naming
 * the cause, and the password appears nowhere in its output. Then the aligner runs
 * with the password set but SASL off: its log and /metrics never contain it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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

describe('secrets stay out of logs and metrics', { timeout: 240_000 }, () => {
  for (const svc of SERVICES)
    it(`${svc.name}: a failed SASL login names the cause, never the password`, async () => {
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
      assert.notEqual(code, 0, `${svc.name} must not start with a failing SASL login`);
      const log = p.log();
      assert.match(log, /SASL/i, 'the log names the SASL failure');
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
