import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SinkUnavailable } from '@perpflow/contracts';

/** Where drift reports go and pinned baselines come from. */
export interface JsonObjectStore {
  putJson(key: string, value: unknown): Promise<void>;
  /** null when the object does not exist. */
  getJson(key: string): Promise<unknown | null>;
}

export class S3JsonStore implements JsonObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async putJson(key: string, value: unknown): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: `${JSON.stringify(value, null, 1)}\n`,
          ContentType: 'application/json',
        }),
      );
    } catch (err) {
      throw new SinkUnavailable(`S3 put ${key} failed: ${(err as Error).message}`, {
        cause: err,
        context: { key },
      });
    }
  }

  async getJson(key: string): Promise<unknown | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse((await r.Body?.transformToString('utf8')) ?? 'null');
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return null;
      throw new SinkUnavailable(`S3 get ${key} failed: ${(err as Error).message}`, {
        cause: err,
        context: { key },
      });
    }
  }
}
