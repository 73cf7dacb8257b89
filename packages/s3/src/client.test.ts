import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ConfigError } from '@perpflow/contracts';
import { parseConfig, SHARED_CONFIG_KEYS } from '@perpflow/runtime';
import { z } from 'zod';
import { checkS3Credentials, createS3Client, COMMAND_MAX_ATTEMPTS, s3ConfigShape } from './client.js';
import { S3ObjectStore } from './object-store.js';

const schema = z.object(s3ConfigShape);

describe('S3 config and client', () => {
  it('defaults to the local stack and names a bad key', () => {
    const c = parseConfig(schema, {});
    assert.equal(c.S3_ENDPOINT, 'http://127.0.0.1:39000');
    assert.equal(c.S3_BUCKET, 'perpflow');
    assert.throws(() => parseConfig(schema, { S3_PREFIX: '/escapes' }), /S3_PREFIX/);
    assert.throws(() => parseConfig(schema, { S3_FORCE_PATH_STYLE: 'maybe' }), /S3_FORCE_PATH_STYLE/);
  });

  it('builds a path-style client with the configured endpoint, region and attempts', async () => {
    const client = createS3Client(parseConfig(schema, { S3_REGION: 'eu-west-1' }), { maxAttempts: 3 });
    assert.equal(await client.config.region(), 'eu-west-1');
    assert.equal(client.config.forcePathStyle, true);
    assert.equal(await client.config.maxAttempts(), 3);
    const endpoint = await client.config.endpoint?.();
    assert.equal(endpoint?.hostname, '127.0.0.1');
    assert.equal(endpoint?.port, 39000);
  });

  it('has no default keys: without them the client takes the AWS default credential chain', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'AKIA-FROM-CHAIN';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-chain';
    try {
      const c = parseConfig(schema, {});
      assert.equal(c.S3_ACCESS_KEY_ID, undefined);
      assert.equal(c.S3_SECRET_ACCESS_KEY, undefined);
      const creds = await createS3Client(c).config.credentials();
      assert.equal(creds.accessKeyId, 'AKIA-FROM-CHAIN');
      assert.equal(creds.secretAccessKey, 'secret-from-chain');
      const given = await createS3Client(
        parseConfig(schema, { S3_ACCESS_KEY_ID: 'id-1', S3_SECRET_ACCESS_KEY: 'secret-1' }),
      ).config.credentials();
      assert.deepEqual([given.accessKeyId, given.secretAccessKey], ['id-1', 'secret-1']);
    } finally {
      for (const [k, v] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  it('takes both keys or neither; an empty key counts as unset', () => {
    for (const [env, missing] of [
      [{ S3_ACCESS_KEY_ID: 'id-1' }, 'S3_SECRET_ACCESS_KEY'],
      [{ S3_ACCESS_KEY_ID: 'id-1', S3_SECRET_ACCESS_KEY: '' }, 'S3_SECRET_ACCESS_KEY'],
      [{ S3_SECRET_ACCESS_KEY: 'secret-1' }, 'S3_ACCESS_KEY_ID'],
    ] as const) {
      const c = parseConfig(schema, env);
      const named = (e: unknown) =>
        e instanceof ConfigError &&
        e.key === missing &&
        e.message.includes(missing) &&
        !e.message.includes('secret-1');
      assert.throws(() => checkS3Credentials(c), named, JSON.stringify(env));
      assert.throws(() => createS3Client(c), named, JSON.stringify(env));
    }
  });

  it('lists its keys among the shared keys every service accepts', () => {
    for (const key of Object.keys(s3ConfigShape)) assert.ok(SHARED_CONFIG_KEYS.includes(key), key);
  });
  it('a read retries a connection reset before the headers and a body cut off after them', async () => {
    const body = Buffer.from('{"rows":42}');
    const seen: string[] = [];
    // A loopback server: the 1st request's socket is reset, the 2nd sends the headers and 3 of
    // the body's bytes, then resets; the 3rd gets the whole object.
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (seen.length === 1) return req.socket.destroy();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      if (seen.length === 2) {
        res.write(body.subarray(0, 3));
        setImmediate(() => req.socket.destroy());
        return;
      }
      res.end(body);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const config = parseConfig(schema, {
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_ACCESS_KEY_ID: 'id-1',
        S3_SECRET_ACCESS_KEY: 'secret-1',
      });
      const store = new S3ObjectStore(createS3Client(config, { maxAttempts: COMMAND_MAX_ATTEMPTS }), 'bkt');
      const got = await store.get('a/manifest.json');
      assert.equal(Buffer.from(got ?? []).toString(), '{"rows":42}');
      assert.deepEqual(seen, Array(3).fill('GET /bkt/a/manifest.json?x-id=GetObject'));
      // With one attempt (the writers' setting: they retry with their own backoff) the reset is
      // the caller's, named with the key.
      seen.length = 0;
      const once1 = new S3ObjectStore(createS3Client(config), 'bkt');
      await assert.rejects(
        once1.get('a/manifest.json'),
        /S3 get a\/manifest\.json failed: .*(ECONNRESET|socket hang up)/,
      );
      assert.equal(seen.length, 1);
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
