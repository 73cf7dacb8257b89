import { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '@perpflow/contracts';
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
  S3_ACCESS_KEY_ID: z
    .string()
    .optional()
    .describe(
      'S3 access key id (or S3_ACCESS_KEY_ID_FILE), set with S3_SECRET_ACCESS_KEY; both unset: the AWS default credential chain (environment, profile, instance or pod role)',
    ),
  S3_SECRET_ACCESS_KEY: z
    .string()
    .optional()
    .describe('S3 secret key (or S3_SECRET_ACCESS_KEY_FILE); set together with S3_ACCESS_KEY_ID'),
  S3_FORCE_PATH_STYLE: env.bool(true).describe('path-style URLs (local servers, MinIO)'),
};
const s3Schema = z.object(s3ConfigShape);
export type S3Config = z.infer<typeof s3Schema>;

/**
 * Both keys of the pair or neither (then the SDK's default credential chain):
 * one alone would silently fall back to whatever the chain finds.
 */
export function checkS3Credentials(c: Pick<S3Config, 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY'>): void {
  const id = c.S3_ACCESS_KEY_ID !== undefined;
  const secret = c.S3_SECRET_ACCESS_KEY !== undefined;
  if (id && !secret)
    throw new ConfigError(
      'S3_SECRET_ACCESS_KEY',
      'S3_ACCESS_KEY_ID is set without S3_SECRET_ACCESS_KEY (or its _FILE): set both, or neither to use the AWS default credential chain',
    );
  if (secret && !id)
    throw new ConfigError(
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY is set without S3_ACCESS_KEY_ID (or its _FILE): set both, or neither to use the AWS default credential chain',
    );
}

/**
 * Attempts per request for the commands a user runs (pull, datasets, lineage, report,
 * reprocess). Their requests are idempotent (reads, and writes of content-addressed objects),
 * so the SDK's standard strategy retries their transient failures (a connection reset or timed
 * out, a 5xx, throttling) with backoff: a fresh CI saw `perpflow pull` fail on one
 * `read ECONNRESET` from a busy S3 server. The services keep 1 and retry with their own backoff.
 */
export const COMMAND_MAX_ATTEMPTS = 4;

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
  checkS3Credentials(c);
  return new S3Client({
    region: c.S3_REGION,
    ...(c.S3_ENDPOINT ? { endpoint: c.S3_ENDPOINT } : {}),
    forcePathStyle: c.S3_FORCE_PATH_STYLE,
    ...(c.S3_ACCESS_KEY_ID !== undefined && c.S3_SECRET_ACCESS_KEY !== undefined
      ? { credentials: { accessKeyId: c.S3_ACCESS_KEY_ID, secretAccessKey: c.S3_SECRET_ACCESS_KEY } }
      : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: options.maxAttempts ?? 1,
  });
}
