/**
 * The stack's S3 server answering late (`S3_SERVER_LATENCY_MS`, the bench's
 * BENCH_S3_LATENCY_MS): a server of this test's own on a free port and data dir. Every
 * object request (PUT, GET of a present or missing key, HEAD, DELETE) answers no earlier
 * than the setting, with the same bytes; a value that is not a whole number of
 * milliseconds stops the server at start, naming the setting.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { testS3 } from '../src/dataset-io.js';
import { freePort, type ServiceProcess, startService, stopService, waitFor } from '../src/harness.js';

const BUCKET = 'latency';
const LATENCY_MS = 300;

describe('the stack S3 server with S3_SERVER_LATENCY_MS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'perpflow-s3-latency-'));
  const started: ServiceProcess[] = [];
  after(async () => {
    await Promise.allSettled(started.map((s) => stopService(s)));
    rmSync(dir, { recursive: true, force: true });
  });

  async function server(name: string, latency: string): Promise<{ s: ServiceProcess; port: number }> {
    const port = await freePort();
    const s = await startService({
      name,
      workspace: 'infra/local',
      entry: 'src/s3-server.ts',
      args: [String(port), join(dir, name), BUCKET],
      env: { NODE_OPTIONS: '--openssl-legacy-provider', S3_SERVER_LATENCY_MS: latency },
      readyPort: null,
    });
    started.push(s);
    return { s, port };
  }

  it('answers every object request no earlier than the setting, with the bytes it stored', async () => {
    const { s, port } = await server('s3-late', String(LATENCY_MS));
    const client = testS3(`http://127.0.0.1:${port}`);
    try {
      await waitFor('the S3 server', () => client.send(new HeadBucketCommand({ Bucket: BUCKET })), 30_000);
      assert.match(s.log(), new RegExp(`answering object requests ${LATENCY_MS} ms late`));
      const body = randomBytes(70_000);
      const took = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
        const t0 = performance.now();
        const out = await f();
        const ms = performance.now() - t0;
        assert.ok(ms >= LATENCY_MS - 1, `${what} answered after ${ms.toFixed(1)} ms, before ${LATENCY_MS}`);
        return out;
      };
      await took('PUT', () => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a/b', Body: body })));
      const got = await took('GET', () => client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a/b' })));
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
      const head = await took('HEAD', () =>
        client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'a/b' })),
      );
      assert.equal(head.ContentLength, body.length);
      await took('GET of a missing key', () =>
        assert.rejects(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a/none' })), {
          name: 'NoSuchKey',
        }),
      );
      await took('DELETE', () => client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'a/b' })));
      await assert.rejects(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a/b' })), {
        name: 'NoSuchKey',
      });
    } finally {
      client.destroy();
    }
  });

  it('refuses a setting that is not whole milliseconds from 0 to 10000, naming it', async () => {
    for (const bad of ['abc', '-5', '2.5', '20000']) {
      const { s } = await server(`s3-bad-${bad.replace(/\W/g, '_')}`, bad);
      assert.equal(await s.exited, 2, `S3_SERVER_LATENCY_MS=${bad}`);
      assert.match(
        s.log(),
        new RegExp(`S3_SERVER_LATENCY_MS must be an integer of milliseconds from 0 to 10000, got '${bad}'`),
      );
    }
  });
});
