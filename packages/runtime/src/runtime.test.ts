import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ConfigError, RateLimited, SinkUnavailable } from '@perpflow/contracts';
import { z } from 'zod';
import { describeConfig, env, parseConfig } from './config.js';
import { createLogger } from './logger.js';
import { backoffDelayMs, retry } from './retry.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

describe('logger', () => {
  it('redacts secrets at any depth and keeps everything else', () => {
    const out = capture();
    const log = createLogger({ service: 'test', destination: out.stream });
    log.info(
      {
        s3: { endpoint: 'http://127.0.0.1:39000', secretAccessKey: 'hunter2', accessKeyId: 'AKIAXXXX' },
        kafka: { sasl: { mechanism: 'plain', username: 'u', password: 'pw-123' } },
        exchange: { apiKey: 'k-abc', apiSecret: 's-def' },
        env: { S3_SECRET_ACCESS_KEY: 'env-secret' },
      },
      'started',
    );
    const text = JSON.stringify(out.lines());
    for (const secret of ['hunter2', 'AKIAXXXX', 'pw-123', 'k-abc', 's-def', 'env-secret'])
      assert.ok(!text.includes(secret), secret);
    const line = out.lines()[0] as {
      s3: { endpoint: string; secretAccessKey: string };
      service: string;
      kafka: { sasl: { username: string } };
    };
    assert.equal(line.s3.endpoint, 'http://127.0.0.1:39000');
    assert.equal(line.s3.secretAccessKey, '[redacted]');
    assert.equal(line.kafka.sasl.username, 'u');
    assert.equal(line.service, 'test');
  });
});

describe('retry', () => {
  it('retries retriable errors and returns the eventual value', async () => {
    let calls = 0;
    const delays: number[] = [];
    const v = await retry(
      async () => {
        calls++;
        if (calls < 3) throw new SinkUnavailable('down');
        return 'ok';
      },
      { baseDelayMs: 1, onRetry: (_e, _a, d) => delays.push(d) },
    );
    assert.equal(v, 'ok');
    assert.equal(calls, 3);
    assert.equal(delays.length, 2);
  });
  it('does not retry a non-retriable error', async () => {
    let calls = 0;
    await assert.rejects(
      retry(async () => {
        calls++;
        throw new ConfigError('X', 'bad');
      }),
      ConfigError,
    );
    assert.equal(calls, 1);
  });
  it('gives up after the configured retries with the last error', async () => {
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw new SinkUnavailable(`down ${calls}`);
        },
        { retries: 2, baseDelayMs: 1 },
      ),
      /down 3/,
    );
    assert.equal(calls, 3);
  });
  it('backs off exponentially with full jitter, capped, and honours Retry-After', () => {
    const half = { random: () => 0.5, baseDelayMs: 100, maxDelayMs: 1_000 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((a) => backoffDelayMs(a, half)),
      [50, 100, 200, 400, 500, 500],
    );
    const rl = new RateLimited('429', 7_000);
    assert.equal(
      backoffDelayMs(
        0,
        { ...half, requestedDelayMs: (e) => (e instanceof RateLimited ? e.retryAfterMs : null) },
        rl,
      ),
      7_000,
    );
  });
});

describe('config', () => {
  const schema = z.object({
    KAFKA_BROKERS: env.list(['127.0.0.1:39092']).describe('Kafka bootstrap servers'),
    METRICS_PORT: env.port(39101).describe('metrics port'),
    S3_SECRET_ACCESS_KEY: z.string().min(1).describe('S3 secret'),
    DRY_RUN: env.bool(false),
  });
  it('parses defaults and values', () => {
    const c = parseConfig(schema, {
      S3_SECRET_ACCESS_KEY: 's',
      METRICS_PORT: '4000',
      KAFKA_BROKERS: 'a:1, b:2,',
    });
    assert.deepEqual(c, {
      KAFKA_BROKERS: ['a:1', 'b:2'],
      METRICS_PORT: 4000,
      S3_SECRET_ACCESS_KEY: 's',
      DRY_RUN: false,
    });
  });
  it('stops with the key that is wrong and the value it got', () => {
    assert.throws(
      () => parseConfig(schema, { S3_SECRET_ACCESS_KEY: 's', METRICS_PORT: '70000' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'METRICS_PORT' && /got "70000"/.test(e.message),
    );
  });
  it('names a missing required key and never prints a secret value', () => {
    assert.throws(
      () => parseConfig(schema, {}),
      (e: unknown) => e instanceof ConfigError && e.key === 'S3_SECRET_ACCESS_KEY' && /unset/.test(e.message),
    );
  });
  it('reads <KEY>_FILE secret files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'perpflow-cfg-'));
    writeFileSync(join(dir, 'secret'), 'from-file\n');
    const c = parseConfig(schema, { S3_SECRET_ACCESS_KEY_FILE: join(dir, 'secret') });
    assert.equal(c.S3_SECRET_ACCESS_KEY, 'from-file');
  });
  it('describes every key for the README, hiding secret defaults', () => {
    const rows = describeConfig(schema);
    assert.deepEqual(
      rows.map((r) => [r.key, r.default]),
      [
        ['KAFKA_BROKERS', '127.0.0.1:39092'],
        ['METRICS_PORT', '39101'],
        ['S3_SECRET_ACCESS_KEY', '(required)'],
        ['DRY_RUN', 'false'],
      ],
    );
    assert.equal(rows[0]?.description, 'Kafka bootstrap servers');
  });
});
