import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '@perpflow/runtime';
import { z } from 'zod';
import { createS3Client, s3ConfigShape } from './client.js';

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
});
