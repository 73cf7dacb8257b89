import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { versionDescriptorKey } from '@perpflow/dataset';
import { type Logger, retry } from '@perpflow/runtime';
import type { DatasetVersion } from '../version.js';

export interface DescriptorTarget {
  client: S3Client;
  bucket: string;
  prefix: string;
}

/**
 * Writes `<prefix>/versions/<id>/version.json` unless it is there: the object is named by
 * its content, so a present one holds the same bytes (checked: different bytes are a
 * corrupted or hand-edited descriptor, reported and left alone). Retries with backoff
 * while S3 is unavailable, logging each attempt; resolves true once the descriptor is on
 * S3, false if the one there differs. Bars flow meanwhile: the descriptor is what
 * `perpflow datasets` shows for the version, not an input of any bar.
 */
export async function publishVersionDescriptor(
  s3: DescriptorTarget,
  version: DatasetVersion,
  logger: Logger,
  signal?: AbortSignal,
): Promise<boolean> {
  const key = versionDescriptorKey(s3.prefix, version.id);
  const body = Buffer.from(version.json, 'utf8');
  return retry(
    async () => {
      const found = await read(s3, key);
      if (found !== null) {
        if (Buffer.compare(found, body) === 0) return true;
        logger.error(
          { key, version: version.id },
          'the version descriptor on S3 differs from this aligner’s: it was edited or corrupted; delete it and restart the aligner to write it again',
        );
        return false;
      }
      await s3.client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: 'application/json' }),
      );
      logger.info({ key, version: version.id }, 'dataset version descriptor written');
      return true;
    },
    {
      retries: Number.POSITIVE_INFINITY,
      maxDelayMs: 30_000,
      shouldRetry: () => !signal?.aborted,
      signal,
      onRetry: (err, attempt, delayMs) =>
        logger.warn(
          { key, attempt, delayMs, err: (err as Error).message },
          'cannot write the dataset version descriptor to S3; retrying (bars flow meanwhile)',
        ),
    },
  );
}

async function read(s3: DescriptorTarget, key: string): Promise<Buffer | null> {
  try {
    const res = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return Buffer.from(res.Body ? await res.Body.transformToByteArray() : new Uint8Array());
  } catch (err) {
    if (
      err instanceof NoSuchKey ||
      (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)
    )
      return null;
    throw err;
  }
}
