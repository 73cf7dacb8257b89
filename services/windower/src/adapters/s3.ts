import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { SinkUnavailable } from '@perpflow/contracts';
import { env } from '@perpflow/runtime';
import { z } from 'zod';

/** The S3 keys every S3-using config schema includes. */
export const s3ConfigShape = {
  S3_ENDPOINT: z
    .string()
    .default('http://127.0.0.1:39000')
    .describe('S3 endpoint URL (empty string: AWS default for the region)'),
  S3_REGION: z.string().default('us-east-1').describe('S3 region'),
  S3_BUCKET: z.string().min(3).default('perpflow').describe('bucket holding the dataset'),
  S3_PREFIX: z
    .string()
    .regex(/^[a-z0-9][a-z0-9/_-]*$/, 'lower-case letters, digits, / _ - only, not starting with /')
    .default('datasets')
    .describe('key prefix of the dataset inside the bucket'),
  S3_ACCESS_KEY_ID: z.string().default('S3RVER').describe('S3 access key id (or S3_ACCESS_KEY_ID_FILE)'),
  S3_SECRET_ACCESS_KEY: z.string().default('S3RVER').describe('S3 secret key (or S3_SECRET_ACCESS_KEY_FILE)'),
  S3_FORCE_PATH_STYLE: env.bool(true).describe('path-style URLs (local servers, MinIO)'),
};
const s3Schema = z.object(s3ConfigShape);
export type S3Config = z.infer<typeof s3Schema>;

/**
 * Checksums only when required: otherwise the SDK sends streamed bodies
 * aws-chunked, which some S3-compatible servers store with the framing bytes.
 */
export function createS3Client(c: S3Config): S3Client {
  return new S3Client({
    region: c.S3_REGION,
    ...(c.S3_ENDPOINT ? { endpoint: c.S3_ENDPOINT } : {}),
    forcePathStyle: c.S3_FORCE_PATH_STYLE,
    credentials: { accessKeyId: c.S3_ACCESS_KEY_ID, secretAccessKey: c.S3_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
}

/** What the windower and the pull client need from an object store. */
export interface ObjectStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  exists(key: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}

function unavailable(op: string, key: string, err: unknown): SinkUnavailable {
  const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
  return new SinkUnavailable(
    `S3 ${op} ${key} failed${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message}`,
    {
      cause: err,
      context: { op, key },
    },
  );
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
      );
    } catch (err) {
      throw unavailable('put', key, err);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (
        err instanceof NoSuchKey ||
        (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)
      )
        return null;
      throw unavailable('get', key, err);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
      throw unavailable('head', key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
            MaxKeys: 1000,
          }),
        );
        for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw unavailable('list', prefix, err);
    }
    return keys;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      throw unavailable('delete', key, err);
    }
  }
}
