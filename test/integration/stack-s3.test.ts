/**
 * The stack's S3-compatible server (@20minutes/s3rver) with the client the project uses
 * (@aws-sdk/client-s3 + lib-storage): byte-exact round trips, paginated listing,
 * multipart upload, delete. Everything lives under a unique key prefix, removed at the end.
 * Assumes `npm run stack -- up`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Agent, get } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STACK_SH = join(ROOT, 'infra', 'local', 'stack.sh');

/** A connection setting: the environment first, then `stack.sh env` (which applies the stack's defaults). */
function stackSetting(key: string): string {
  const fromEnv = process.env[key];
  if (fromEnv) return fromEnv;
  const line = execFileSync('bash', [STACK_SH, 'env'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`stack.sh env has no ${key}`);
  return line.slice(key.length + 1);
}

const MiB = 1024 * 1024;
const Bucket = stackSetting('S3_BUCKET');
const prefix = `stacktest/${process.pid}-${randomUUID().slice(0, 8)}/`;
const s3 = new S3Client({
  endpoint: stackSetting('S3_ENDPOINT'),
  region: stackSetting('S3_REGION'),
  credentials: {
    accessKeyId: stackSetting('S3_ACCESS_KEY_ID'),
    secretAccessKey: stackSetting('S3_SECRET_ACCESS_KEY'),
  },
  forcePathStyle: true,
  // Without these the SDK sends stream bodies aws-chunked with a CRC32 trailer, which
  // s3rver rejects (see shared/notes/parquet-and-s3.md).
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Streams an object's body through SHA-256 without holding it in memory. */
async function remoteDigest(Key: string): Promise<{ sha: string; bytes: number }> {
  const res = await s3.send(new GetObjectCommand({ Bucket, Key }));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.Body as Readable) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha: hash.digest('hex'), bytes };
}

async function listAll(Prefix: string, MaxKeys: number): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let pages = 0;
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix, MaxKeys, ContinuationToken }));
    pages++;
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    assert.ok((page.Contents ?? []).length <= MaxKeys);
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (page.IsTruncated) assert.ok(ContinuationToken, 'a truncated page carries a continuation token');
  } while (ContinuationToken);
  return { keys, pages };
}

describe('stack: S3 (s3rver) with @aws-sdk/client-s3', () => {
  let tmp: string | undefined;

  after(async () => {
    const { keys } = await listAll(prefix, 1000);
    if (keys.length)
      await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    s3.destroy();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('round-trips a Buffer byte for byte', async () => {
    const body = randomBytes(3 * MiB + 17);
    await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}buffer.bin`, Body: body }));
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: `${prefix}buffer.bin` }));
    assert.equal(head.ContentLength, body.length);
    assert.deepEqual(await remoteDigest(`${prefix}buffer.bin`), { sha: sha256(body), bytes: body.length });
  });

  it('round-trips a file stream byte for byte (no aws-chunked framing stored)', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'perpflow-s3-'));
    const body = randomBytes(4 * MiB + 3);
    const file = join(tmp, 'stream.bin');
    await writeFile(file, body);
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: `${prefix}stream.bin`,
        Body: createReadStream(file),
        ContentLength: body.length,
      }),
    );
    assert.deepEqual(await remoteDigest(`${prefix}stream.bin`), { sha: sha256(body), bytes: body.length });
  });

  it('serves a whole object, old or new, while the same key is overwritten (S3 PUT is atomic)', async () => {
    // s3rver wrote an object in place: a GET during an overwrite got the old length with the
    // new, half-written file (a bench read a manifest cut at byte 1,535).
    const Key = `${prefix}overwritten.bin`;
    const bodies = [randomBytes(2 * MiB + 11), randomBytes(MiB + 5)];
    const whole = new Map(bodies.map((b) => [sha256(b), b.length]));
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: bodies[0] }));
    // The writer overwrites until the readers are done: every read overlaps writes.
    let reading = true;
    let puts = 0;
    const writer = (async () => {
      while (reading) await s3.send(new PutObjectCommand({ Bucket, Key, Body: bodies[++puts % 2] }));
    })();
    const seen: string[] = [];
    const reader = async () => {
      for (let i = 0; i < 15; i++) {
        try {
          // A body shorter than its Content-Length never ends: bounded, it fails the test instead.
          let timer: NodeJS.Timeout | undefined;
          const stalled = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('body stalled 15 s')), 15_000);
          });
          const got = await Promise.race([remoteDigest(Key), stalled]).finally(() => clearTimeout(timer));
          seen.push(whole.get(got.sha) === got.bytes ? 'whole' : `${got.bytes} bytes, not a body put`);
        } catch (err) {
          seen.push(`GET failed: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all([reader(), reader(), reader()]).finally(() => {
      reading = false;
    });
    await writer;
    assert.equal(seen.length, 45);
    assert.ok(puts >= 5, `only ${puts} overwrites during the reads`);
    assert.deepEqual(
      seen.filter((s) => s !== 'whole'),
      [],
      `${seen.length} reads`,
    );
  });

  it('lists over several pages with continuation tokens', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `${prefix}page/${String(i).padStart(3, '0')}.json`);
    for (let i = 0; i < keys.length; i += 5) {
      await Promise.all(
        keys
          .slice(i, i + 5)
          .map((Key) => s3.send(new PutObjectCommand({ Bucket, Key, Body: JSON.stringify({ Key }) }))),
      );
    }
    const listed = await listAll(`${prefix}page/`, 7);
    assert.equal(listed.pages, 4);
    assert.deepEqual(listed.keys, keys);
  });

  it('uploads in parts with lib-storage Upload and reads back the same bytes', async () => {
    const body = randomBytes(12 * MiB + 5);
    const parts = new Set<number>();
    const upload = new Upload({
      client: s3,
      params: { Bucket, Key: `${prefix}multipart.bin`, Body: body },
      partSize: 5 * MiB,
      queueSize: 2,
      leavePartsOnError: false,
    });
    upload.on('httpUploadProgress', (p) => {
      if (p.part) parts.add(p.part);
    });
    await upload.done();
    assert.deepEqual([...parts].sort(), [1, 2, 3], 'three parts of at most 5 MiB');
    assert.deepEqual(await remoteDigest(`${prefix}multipart.bin`), { sha: sha256(body), bytes: body.length });
  });

  it('deletes one object and then many', async () => {
    await s3.send(new DeleteObjectCommand({ Bucket, Key: `${prefix}buffer.bin` }));
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: `${prefix}buffer.bin` })), {
      name: 'NotFound',
    });

    const { keys } = await listAll(prefix, 1000);
    assert.ok(keys.length >= 27);
    const res = await s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
    );
    assert.equal(res.Deleted?.length, keys.length);
    assert.deepEqual((await listAll(prefix, 1000)).keys, []);
  });
  it("keeps an idle connection 65 s (Keep-Alive hint), not Node's 5 s that raced clients under load", async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const header = await new Promise<string | undefined>((resolve, reject) => {
        get(`${stackSetting('S3_ENDPOINT')}/${Bucket}?list-type=2&max-keys=1`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['keep-alive'] as string | undefined));
        }).on('error', reject);
      });
      assert.equal(header, 'timeout=65');
    } finally {
      agent.destroy();
    }
  });
});
