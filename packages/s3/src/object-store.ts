import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { SinkUnavailable } from '@perpflow/contracts';

/** What the dataset's writers and readers need from an object store (null: no such key). */
export interface ObjectStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  exists(key: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}

/** Folder listing (S3 common prefixes), to walk the dataset's partitions without listing every object. */
export interface FolderLister {
  /** The sub-folders directly below `prefix` (which ends with `/`), each ending with `/`. */
  listFolders(prefix: string): Promise<string[]>;
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

export class S3ObjectStore implements ObjectStore, FolderLister {
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

  /**
   * The SDK retries a request up to its `maxAttempts` until the response's headers; a body cut
   * off after them (a reset mid-transfer) is read again here within the same number of attempts.
   */
  async get(key: string): Promise<Uint8Array | null> {
    const attempts = await this.client.config.maxAttempts();
    for (let attempt = 1; ; attempt++) {
      let res: GetObjectCommandOutput;
      try {
        res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      } catch (err) {
        if (
          err instanceof NoSuchKey ||
          (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)
        )
          return null;
        throw unavailable('get', key, err);
      }
      try {
        return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
      } catch (err) {
        if (attempt >= attempts) throw unavailable('get', key, err);
      }
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
    return this.listAll(prefix, undefined);
  }

  async listFolders(prefix: string): Promise<string[]> {
    return this.listAll(prefix, '/');
  }

  /** Every key under `prefix` (no delimiter) or every sub-folder (delimiter '/'), all pages. */
  private async listAll(prefix: string, delimiter: '/' | undefined): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            Delimiter: delimiter,
            ContinuationToken: token,
            MaxKeys: 1000,
          }),
        );
        const found = delimiter
          ? (res.CommonPrefixes ?? []).map((p) => p.Prefix)
          : (res.Contents ?? []).map((o) => o.Key);
        for (const name of found) if (name) out.push(name);
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw unavailable('list', prefix, err);
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      throw unavailable('delete', key, err);
    }
  }
}
