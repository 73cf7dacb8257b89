import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@perpflow/contracts';
import { parseConfig, SHARED_CONFIG_KEYS } from '@perpflow/runtime';
import { z } from 'zod';
import { checkS3Credentials, createS3Client, s3ConfigShape } from './client.js';

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
});
