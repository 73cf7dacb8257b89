import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { SinkUnavailable } from '@perpflow/contracts';
import type { ArchiverMetrics, S3Op } from '../metrics.js';

/** What the archiver needs from an object store. */
export interface ObjectStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  /** Every key under `prefix` (all pages). Only to rebuild an unreadable index. */
  list(prefix: string): Promise<string[]>;
}

/** S3, every request timed and failures counted; failures are SinkUnavailable (retriable). */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly metrics: Pick<ArchiverMetrics, 's3Latency' | 's3Errors'>,
  ) {}

  put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    return this.time('put', key, async () => {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
      );
    });
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.time('get', key, async () => {
      try {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
      } catch (err) {
        if (
          err instanceof NoSuchKey ||
          (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)
        )
          return null;
        throw err;
      }
    });
  }

  list(prefix: string): Promise<string[]> {
    return this.time('list', prefix, async () => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
      return keys;
    });
  }

  private async time<T>(op: S3Op, key: string, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics.s3Latency.startTimer({ op });
    try {
      return await fn();
    } catch (err) {
      this.metrics.s3Errors.inc({ op });
      const status = err instanceof S3ServiceException ? ` (HTTP ${err.$metadata.httpStatusCode})` : '';
      throw new SinkUnavailable(`S3 ${op} ${key} failed${status}: ${(err as Error).message}`, {
        cause: err,
        context: { op, key },
      });
    } finally {
      end();
    }
  }
}
