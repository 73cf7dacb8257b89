import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ConfigError, RateLimited, SinkUnavailable } from '@perpflow/contracts';
import { z } from 'zod';
import { describeConfig, env, parseConfig, redisUrlKey, serviceKeys } from './config.js';
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

  it('redacts by pattern at any depth: headers, URL userinfo in any string, errors, the message', () => {
    const out = capture();
    const log = createLogger({ service: 'test', destination: out.stream });
    const err = new Error('connect failed to redis://:err-pw@10.0.0.1:6379');
    log.child({ redis: 'redis://bind-user:bind-pw@host:6379/0' }).warn(
      {
        a: { b: { c: { d: { e: { request: { headers: { Authorization: 'Bearer tok-deep' } } } } } } },
        config: { REDIS_URL: 'redis://:url-pw@127.0.0.1:6379', list: ['amqp://u:list-pw@mq'] },
        nested: { x: { y: { z: { w: { clientCredentials: { id: 'c', key: 'cred-secret' } } } } } },
        'x-api-key': 'hdr-key',
        err,
      },
      'retrying http://user:msg-pw@example.com/path',
    );
    const text = out
      .lines()
      .map((l) => JSON.stringify(l))
      .join('\n');
    for (const secret of [
      'tok-deep',
      'url-pw',
      'list-pw',
      'cred-secret',
      'hdr-key',
      'err-pw',
      'bind-pw',
      'msg-pw',
    ])
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    const line = out.lines()[0] as Record<string, unknown> & {
      config: { REDIS_URL: string };
      err: { message: string; type: string };
    };
    assert.equal(line.config.REDIS_URL, 'redis://[redacted]@127.0.0.1:6379');
    assert.equal(line.msg, 'retrying http://[redacted]@example.com/path');
    assert.equal(line.err.type, 'Error');
    assert.equal(line.err.message, 'connect failed to redis://[redacted]@10.0.0.1:6379');
    assert.equal(line.redis, 'redis://[redacted]@host:6379/0');
    assert.equal(
      err.message,
      'connect failed to redis://:err-pw@10.0.0.1:6379',
      'the logged error is not changed',
    );
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
  it('reads the file when the value is empty, and refuses a value and a file for the same key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'perpflow-cfg-'));
    writeFileSync(join(dir, 'secret'), 'from-file\n');
    const file = join(dir, 'secret');
    assert.equal(
      parseConfig(schema, { S3_SECRET_ACCESS_KEY: '', S3_SECRET_ACCESS_KEY_FILE: file }).S3_SECRET_ACCESS_KEY,
      'from-file',
    );
    assert.equal(
      parseConfig(schema, { S3_SECRET_ACCESS_KEY: 's', S3_SECRET_ACCESS_KEY_FILE: '' }).S3_SECRET_ACCESS_KEY,
      's',
    );
    assert.throws(
      () => parseConfig(schema, { S3_SECRET_ACCESS_KEY: 's', S3_SECRET_ACCESS_KEY_FILE: file }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'S3_SECRET_ACCESS_KEY' &&
        /S3_SECRET_ACCESS_KEY and S3_SECRET_ACCESS_KEY_FILE are both set/.test(e.message),
    );
  });
  for (const [bad, why] of [
    [' ', 'a blank'],
    ['0x10', 'hex'],
    ['1e3', 'an exponent'],
    ['12.5', 'a fraction'],
    ['12abc', 'trailing text'],
    ['Infinity', 'Infinity'],
  ] as const)
    it(`refuses ${why} (${JSON.stringify(bad)}) where an integer is meant, naming the key`, () => {
      assert.throws(
        () => parseConfig(schema, { S3_SECRET_ACCESS_KEY: 's', METRICS_PORT: bad }),
        (e: unknown) =>
          e instanceof ConfigError && e.key === 'METRICS_PORT' && /decimal integer/.test(e.message),
      );
      assert.throws(
        () => parseConfig(z.object({ N: env.int(1) }), { N: bad }),
        (e: unknown) => e instanceof ConfigError && e.key === 'N',
      );
    });
  it('takes decimal numbers, and refuses blanks and hex in them', () => {
    const s = z.object({ SHARE: env.number(0.8, { gt: 0, max: 1 }), N: env.int(3, { min: -5 }) });
    assert.deepEqual(parseConfig(s, {}), { SHARE: 0.8, N: 3 });
    assert.deepEqual(parseConfig(s, { SHARE: '.5', N: '-5' }), { SHARE: 0.5, N: -5 });
    assert.equal(parseConfig(s, { SHARE: '1e-3' }).SHARE, 0.001);
    for (const bad of [' ', '0x1', 'NaN', '0', '1.5'])
      assert.throws(
        () => parseConfig(s, { SHARE: bad }),
        (e: unknown) => e instanceof ConfigError && e.key === 'SHARE',
        bad,
      );
  });
  it('refuses an unknown key with a service prefix, naming it and the nearest known key', () => {
    const s = z.object({
      ALIGNER_SNAPSHOT_INTERVAL_MS: env.int(1),
      ALIGNER_GROUP_ID: z.string().default('g'),
    });
    assert.throws(
      () => parseConfig(s, { ALIGNER_SNAPHOT_INTERVAL_MS: '5' }, { prefixes: ['ALIGNER_'] }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'ALIGNER_SNAPHOT_INTERVAL_MS' &&
        /did you mean ALIGNER_SNAPSHOT_INTERVAL_MS\?/.test(e.message),
    );
    // shared keys near-missed are refused too; platform variables under shared prefixes are not
    assert.throws(
      () => parseConfig(s, { S3_SECRET_ACESS_KEY: 'x' }, { prefixes: ['ALIGNER_'] }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'S3_SECRET_ACESS_KEY' &&
        /did you mean S3_SECRET_ACCESS_KEY\?/.test(e.message),
    );
    assert.throws(() => parseConfig(s, { KAFKA_BROKER: 'x' }), /did you mean KAFKA_BROKERS\?/);
    assert.throws(() => parseConfig(s, { LOG_LEVL: 'debug' }), /LOG_LEVL.*did you mean LOG_LEVEL\?/);
    assert.throws(() => parseConfig(s, { METRICS_PROT: '1' }), /did you mean METRICS_PORT\?/);
    const ok = parseConfig(
      s,
      {
        ALIGNER_GROUP_ID: 'g2',
        ALIGNER_GROUP_ID_FILE: '',
        ALIGNER_METRICS_PORT: '39102',
        S3_ENDPOINT: 'http://x',
        KAFKA_PORT: '39092',
        KAFKA_SERVICE_HOST: '10.0.0.1',
        REDIS_PORT_6379_TCP: 'tcp://10.0.0.2:6379',
        WINDOWER_SNAPHOT: 'not ours',
        HOME: '/root',
      },
      { prefixes: ['ALIGNER_'] },
    );
    assert.equal(ok.ALIGNER_GROUP_ID, 'g2');
    // a prefix the schema does not claim is another program's business
    assert.doesNotThrow(() => parseConfig(s, { ALIGNER_SNAPHOT_INTERVAL_MS: '5' }));
  });
  it("accepts every variable of the local stack's env (infra/local/stack.env) in any service", () => {
    const stackEnv = readFileSync(new URL('../../../infra/local/stack.env', import.meta.url), 'utf8');
    const keys = [...stackEnv.matchAll(/\$\{([A-Z0-9_]+):=/g)].map((m) => m[1]!);
    assert.ok(keys.includes('S3_PORT') && keys.length > 10, `read ${keys.length} keys`);
    const s = z.object({ X: z.string().default('') });
    const prefixes = [
      'ALIGNER_',
      'INGEST_',
      'WINDOWER_',
      'MONITOR_',
      'ARCHIVER_',
      'SIM_',
      'KAFKA_',
      'S3_',
      'REDIS_',
    ];
    for (const key of keys) assert.doesNotThrow(() => parseConfig(s, { [key]: '1' }, { prefixes }), key);
  });
  it('never shows the password of a URL in an error', () => {
    const s = z.object({ REDIS_URL: z.string().regex(/^redis:\/\/[^:]/, 'must not start with a colon') });
    assert.throws(
      () => parseConfig(s, { REDIS_URL: 'redis://:hunter2@host:6379' }),
      (e: unknown) =>
        e instanceof ConfigError && !e.message.includes('hunter2') && /\[redacted\]@host/.test(e.message),
    );
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
  it('declares the keys runService reads once, with each service’s own metrics port and Redis description', () => {
    const s = z.object({ REDIS_URL: redisUrlKey('Redis for jobs'), ...serviceKeys({ metricsPort: 39105 }) });
    assert.deepEqual(parseConfig(s, {}), {
      REDIS_URL: 'redis://127.0.0.1:36379',
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: 39105,
      LOG_LEVEL: 'info',
    });
    assert.deepEqual(
      describeConfig(s).map((r) => [r.key, r.default, r.description]),
      [
        ['REDIS_URL', 'redis://127.0.0.1:36379', 'Redis for jobs'],
        ['METRICS_HOST', '127.0.0.1', 'bind address of /metrics, /healthz, /readyz'],
        ['METRICS_PORT', '39105', 'port of /metrics, /healthz, /readyz'],
        ['LOG_LEVEL', 'info', ''],
      ],
    );
    assert.throws(
      () => parseConfig(s, { LOG_LEVEL: 'verbose' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'LOG_LEVEL',
    );
  });
});
