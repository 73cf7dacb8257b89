import { S3Client } from '@aws-sdk/client-s3';
import { env } from '@perpflow/runtime';
import { z } from 'zod';

/** The S3 keys every S3-using service's config schema includes (spread into its z.object). */
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

export interface S3ClientOptions {
  /** Attempts per request inside the SDK; default 1 (callers retry with their own backoff). */
  maxAttempts?: number;
}

/**
 * Checksums only when required: otherwise the SDK sends streamed bodies
 * aws-chunked, which some S3-compatible servers store with the framing bytes
 * (shared/notes/parquet-and-s3.md).
 */
export function createS3Client(c: S3Config, options: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region: c.S3_REGION,
    ...(c.S3_ENDPOINT ? { endpoint: c.S3_ENDPOINT } : {}),
    forcePathStyle: c.S3_FORCE_PATH_STYLE,
    credentials: { accessKeyId: c.S3_ACCESS_KEY_ID, secretAccessKey: c.S3_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: options.maxAttempts ?? 1,
  });
}
