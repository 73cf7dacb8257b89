/**
 * Reads what the windower wrote under an S3 prefix, independently of the windower's
 * own code paths: lists every key, checks each manifest against the bytes of its
 * objects (sha256, size, rows) and the series index against the manifests, and
 * returns every row of the latest and revisions trees.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { AlignedBar } from '@perpflow/contracts';
import {
  decodeParquetToBars,
  parseSeriesIndex,
  parseWindowManifest,
  type WindowManifest,
} from '@perpflow/dataset';
import { STACK, STACK_S3_CREDENTIALS } from './harness.js';

export function testS3(endpoint = STACK.s3Endpoint): S3Client {
  return new S3Client({
    region: process.env.S3_REGION ?? 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: {
      accessKeyId: STACK_S3_CREDENTIALS.S3_ACCESS_KEY_ID,
      secretAccessKey: STACK_S3_CREDENTIALS.S3_SECRET_ACCESS_KEY,
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
}

export async function listKeys(client: S3Client, prefix: string, bucket = STACK.s3Bucket): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }),
    );
    for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function getBytes(client: S3Client, key: string, bucket = STACK.s3Bucket): Promise<Uint8Array> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
}

export async function deletePrefix(client: S3Client, prefix: string, bucket = STACK.s3Bucket): Promise<void> {
  for (const key of await listKeys(client, prefix, bucket).catch(() => []))
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface StoredDataset {
  keys: string[];
  manifests: WindowManifest[];
  /** Rows of every `aligned/v1` object (the last revision of each bar, once if all is well). */
  latest: AlignedBar[];
  /** Rows of every `aligned_revisions/v1` object. */
  superseded: AlignedBar[];
}

/**
 * Everything under `prefix`, with the consistency checks every reader relies on:
 * each manifest matches its objects' bytes, each index entry its manifest, and no
 * Parquet object exists without a manifest.
 */
export async function readStoredDataset(
  client: S3Client,
  prefix: string,
  bucket = STACK.s3Bucket,
): Promise<StoredDataset> {
  // Compacted months (aligned_compacted/v1) have manifests of their own kind; they are
  // checked where compaction is tested (test/integration/compaction.test.ts).
  const keys = (await listKeys(client, prefix, bucket)).filter((k) => !k.includes('/aligned_compacted/'));
  const manifests: WindowManifest[] = [];
  const latest: AlignedBar[] = [];
  const superseded: AlignedBar[] = [];
  const described = new Set<string>();
  for (const key of keys.filter((k) => k.endsWith('.manifest.json'))) {
    const m = parseWindowManifest(await getBytes(client, key, bucket));
    manifests.push(m);
    for (const [ref, into] of [
      [m.object, latest],
      [m.revisions, superseded],
    ] as const) {
      if (!ref) continue;
      const body = await getBytes(client, ref.key, bucket);
      assert.equal(sha256(body), ref.sha256, `${ref.key}: sha256 differs from its manifest`);
      assert.equal(body.byteLength, ref.bytes, `${ref.key}: size`);
      const rows = decodeParquetToBars(body);
      assert.equal(rows.length, ref.rowCount, `${ref.key}: row count`);
      into.push(...rows);
      described.add(ref.key);
    }
  }
  for (const key of keys.filter((k) => k.endsWith('.parquet')))
    assert.ok(described.has(key), `${key} has no manifest naming it`);
  for (const key of keys.filter((k) => k.endsWith('/_index.json'))) {
    const index = parseSeriesIndex(await getBytes(client, key, bucket));
    for (const e of index.windows) {
      const m = manifests.find((x) => x.object.key === e.objectKey);
      assert.equal(e.sha256, m?.object.sha256, `${key}: entry ${e.startMs} differs from its manifest`);
    }
    const ofSeries = manifests.filter(
      (m) =>
        m.window.exchange === index.series.exchange &&
        m.window.symbol === index.series.symbol &&
        m.window.timeframe === index.series.timeframe,
    );
    assert.equal(index.windows.length, ofSeries.length, `${key}: one entry per window`);
  }
  return { keys, manifests, latest, superseded };
}
