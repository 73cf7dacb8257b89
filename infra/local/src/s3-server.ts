/**
 * The stack's S3-compatible server: @20minutes/s3rver on loopback, storing objects as
 * files under <dir>, creating <bucket> on start (an existing bucket keeps its objects).
 * Usage: node --openssl-legacy-provider --import tsx infra/local/src/s3-server.ts <port> <dir> <bucket>
 *   --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES,
 *     which OpenSSL 3 refuses otherwise (every truncated page would be a 500).
 *   allowMismatchedSignatures: 4.0.4 rejects the SDK's CreateBucket signature without it.
 *   S3_SERVER_LATENCY_MS (default 0): every object PUT, GET, HEAD and DELETE answers this much
 *     later, to measure a client as S3's own latency (tens of milliseconds for small objects)
 *     would pace it; the bench sets it from BENCH_S3_LATENCY_MS.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver from '@20minutes/s3rver';

const KEEP_ALIVE_MS = 65_000;

/**
 * S3 replaces an object atomically: a GET during a PUT of the same key returns the old
 * object or the new one, whole. s3rver 4.0.4's filesystem store writes the object file in
 * place, and a GET takes the length from one stat and the bytes from a later open: a reader
 * during an overwrite got a body cut short, or one shorter than its Content-Length that
 * never ended (the windower rewrites manifests and objects under readers; a bench read a
 * manifest cut at byte 1,535). So, patched here: a PUT writes its bytes to a temporary
 * file and renames it over the object, and its metadata likewise; per key, the rename and
 * metadata of a PUT, a GET's stat and open, and a DELETE run one at a time. An open file
 * keeps its bytes when a rename replaces its name, so a GET that has opened streams the
 * object as it was. Temporary names never end in `._S3rver_object`: listings skip them.
 */
interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | NodeJS.ReadableStream;
  metadata: Record<string, string>;
}
interface FilesystemStoreLike {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<void>;
}
const require = createRequire(import.meta.url);
const store = require('@20minutes/s3rver/lib/stores/filesystem.js').prototype as FilesystemStoreLike;
/** The metadata s3rver keeps besides x-amz-meta-*, as its own putMetadata picks it. */
const METADATA_KEYS = new Set<string>(require('@20minutes/s3rver/lib/models/object.js').ALLOWED_METADATA);

const keyQueues = new Map<string, Promise<unknown>>();
/** Runs `fn` after every earlier holder of `id` has finished. */
function oneAtATime<T>(id: string, fn: () => Promise<T>): Promise<T> {
  const before = keyQueues.get(id) ?? Promise.resolve();
  const mine = before.then(fn, fn);
  const tail = mine.catch(() => undefined);
  keyQueues.set(id, tail);
  void tail.then(() => {
    if (keyQueues.get(id) === tail) keyQueues.delete(id);
  });
  return mine;
}

let temporaries = 0;
const temporaryOf = (path: string) => `${path}.${process.pid}-${++temporaries}.tmp`;

async function writeReplacing(path: string, data: string): Promise<void> {
  const tmp = temporaryOf(path);
  await writeFile(tmp, data);
  await rename(tmp, path);
}

const LATENCY_MS = Number(process.env.S3_SERVER_LATENCY_MS ?? '0');
if (!Number.isInteger(LATENCY_MS) || LATENCY_MS < 0 || LATENCY_MS > 10_000) {
  console.error(
    `S3_SERVER_LATENCY_MS must be an integer of milliseconds from 0 to 10000, got '${process.env.S3_SERVER_LATENCY_MS}'`,
  );
  process.exit(2);
}
/** `value`, settled no earlier than LATENCY_MS from now (a rejection is handled meanwhile, not left unhandled). */
const later = <T>(value: Promise<T>): Promise<T> =>
  LATENCY_MS === 0
    ? value
    : Promise.allSettled([value, new Promise((r) => setTimeout(r, LATENCY_MS))]).then(() => value);

const { getObject, deleteObject } = store;
store.putMetadata = async function (bucket, key, metadata, md5) {
  const json: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata))
    if (METADATA_KEYS.has(k) || k.startsWith('x-amz-meta-')) json[k] = v;
  if (md5) await writeReplacing(this.getResourcePath(bucket, key, 'object.md5'), md5);
  await writeReplacing(this.getResourcePath(bucket, key, 'metadata.json'), JSON.stringify(json, null, 2));
};
store.putObject = async function (object) {
  const path = this.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(path), { recursive: true });
  const tmp = temporaryOf(path);
  const md5 = createHash('md5');
  let size = 0;
  try {
    await pipeline(
      Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content,
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          md5.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(tmp),
    );
    const digest = md5.digest('hex');
    await oneAtATime(path, async () => {
      await rename(tmp, path);
      await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    });
    return await later(Promise.resolve({ size, md5: digest }));
  } finally {
    await rm(tmp, { force: true });
  }
};
store.getObject = function (bucket, key, options) {
  return later(
    oneAtATime(this.getResourcePath(bucket, key, 'object'), () => getObject.call(this, bucket, key, options)),
  );
};
store.deleteObject = function (bucket, key) {
  return later(
    oneAtATime(this.getResourcePath(bucket, key, 'object'), () => deleteObject.call(this, bucket, key)),
  );
};

const [port = '39000', directory = '.data/s3', bucket = 'perpflow'] = process.argv.slice(2);
const server = new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  directory,
  silent: process.env.S3_SERVER_VERBOSE !== '1',
  allowMismatchedSignatures: true,
  configureBuckets: [{ name: bucket, configs: [] }],
});
await server.run();
/** Requests served, by method: printed when the server stops (what a run asked of S3). */
const requests = new Map<string, number>();
// Node's server closes an idle keep-alive connection after 5 s. A client about to reuse it
// then (its agent drops one a second before the server's Keep-Alive hint, so a client whose
// event loop lags more than that under load) gets ECONNRESET or "socket hang up": fresh CI
// runs saw both, on a GET of `perpflow pull` and on a PUT of a test fixture. 65 s, with the
// headers timeout above it, as an HTTP load balancer's idle timeout is set longer than its
// clients'.
if (server.httpServer) {
  server.httpServer.keepAliveTimeout = KEEP_ALIVE_MS;
  server.httpServer.headersTimeout = KEEP_ALIVE_MS + 1_000;
  server.httpServer.on('request', (req: { method?: string }) => {
    const m = req.method ?? '?';
    requests.set(m, (requests.get(m) ?? 0) + 1);
  });
}
console.log(
  `s3rver listening on 127.0.0.1:${port}, bucket ${bucket}, objects in ${directory}${LATENCY_MS > 0 ? `, answering object requests ${LATENCY_MS} ms late` : ''}`,
);
const stop = async (signal: string) => {
  const served = [...requests].map(([m, n]) => `${m} ${n}`).join(', ');
  console.log(`s3rver: ${signal}, closing; requests served: ${served || 'none'}`);
  await server.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
