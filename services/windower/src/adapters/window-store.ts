import { type AlignedBar, SCHEMA_VERSION } from '@perpflow/contracts';
import { manifestKey, objectKey, type WindowId } from '../domain/keys.js';
import { buildManifest, type WindowManifest } from '../domain/manifest.js';
import { decodeAlignedBars, encodeAlignedBars } from '../domain/parquet.js';
import type { OffsetRange } from '../domain/window-book.js';
import type { ObjectStore } from './s3.js';

export interface StoredWindow {
  bars: AlignedBar[];
  manifest: WindowManifest | null;
}

/** Reads and writes one window's Parquet object and manifest under a dataset prefix. */
export class WindowStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly writerVersion: string,
  ) {}

  /** The window as S3 holds it, or null when it was never written. */
  async read(id: WindowId): Promise<StoredWindow | null> {
    const body = await this.store.get(objectKey(this.prefix, id));
    if (body === null) return null;
    const raw = await this.store.get(manifestKey(this.prefix, id));
    const manifest = raw === null ? null : (JSON.parse(Buffer.from(raw).toString('utf8')) as WindowManifest);
    return { bars: decodeAlignedBars(body).bars, manifest };
  }

  /** Object first, then its manifest: a manifest never names bytes that are not there. */
  async write(
    id: WindowId,
    rows: readonly AlignedBar[],
    kafkaOffsets: OffsetRange[],
    nowMs: number,
  ): Promise<WindowManifest> {
    const key = objectKey(this.prefix, id);
    const body = encodeAlignedBars(rows, { createdBy: this.writerVersion });
    const manifest = buildManifest({
      key,
      window: id,
      schemaVersion: SCHEMA_VERSION,
      rows,
      body,
      kafkaOffsets,
      writerVersion: this.writerVersion,
      writtenAtMs: nowMs,
    });
    await this.store.put(key, body, 'application/vnd.apache.parquet');
    await this.store.put(
      manifestKey(this.prefix, id),
      Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
      'application/json',
    );
    return manifest;
  }
}
