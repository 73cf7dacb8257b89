import type { AlignedBar } from '@perpflow/contracts';
import {
  decodeParquetToBars,
  parseSeriesIndex,
  parseWindowManifest,
  prepareWindowWrite,
  rebuildSeriesIndex,
  revisionsKey,
  type SeriesIndex,
  seriesFolder,
  seriesIndexKey,
  serializeSeriesIndex,
  type WindowId,
  type WindowManifest,
  type WindowWrite,
  type WindowWriteInput,
  manifestKey,
  objectKey,
  upsertSeriesIndex,
} from '@perpflow/dataset';
import type { ObjectStore } from './s3.js';

/** The steps of one window write, in order; a crash hook may stop the process at any of them. */
export type WriteStep = 'before-object-put' | 'after-object-put' | 'after-manifest-put';

export interface StoredWindow {
  /** The rows of the stored objects (the object may be newer than its manifest after a crash). */
  latest: AlignedBar[];
  superseded: AlignedBar[];
  /** Null when an object was put but the process died before its first manifest. */
  manifest: WindowManifest | null;
}

export interface WindowWriteResult {
  manifest: WindowManifest;
  /** Parquet objects put (the latest object, and the revisions object when there are revisions) and their bytes. */
  files: number;
  bytes: number;
}

/**
 * One window's objects, manifest and series index on S3, in the layout of
 * @perpflow/dataset. Order of a write: Parquet object(s) → manifest → series index.
 */
export class WindowStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly writerVersion: string,
    private readonly atStep: (step: WriteStep) => void = () => undefined,
  ) {}

  /**
   * The window as S3 holds it, or null when it was never written. Reads the objects
   * themselves, not only what the manifest names: after a crash between object and
   * manifest the object holds a superset of the manifest's rows, and every row in it
   * came from a consumed record (the uncommitted ones are re-read from Kafka anyway).
   */
  async read(w: WindowId): Promise<StoredWindow | null> {
    const body = await this.store.get(objectKey(this.prefix, w));
    if (body === null) return null;
    const rawManifest = await this.store.get(manifestKey(this.prefix, w));
    const revisions = await this.store.get(revisionsKey(this.prefix, w));
    return {
      latest: decodeParquetToBars(body),
      superseded: revisions === null ? [] : decodeParquetToBars(revisions),
      manifest: rawManifest === null ? null : parseWindowManifest(rawManifest),
    };
  }

  /**
   * Encodes the window at once (the input's rows are not held past this call), then puts
   * its objects, manifest and index.
   */
  write(input: Omit<WindowWriteInput, 'prefix' | 'writerVersion'>): Promise<WindowWriteResult> {
    let prepared: WindowWrite;
    try {
      prepared = prepareWindowWrite({ ...input, prefix: this.prefix, writerVersion: this.writerVersion });
    } catch (err) {
      return Promise.reject(err);
    }
    return this.put(prepared);
  }

  private async put(prepared: WindowWrite): Promise<WindowWriteResult> {
    let bytes = 0;
    let files = 0;
    this.atStep('before-object-put');
    for (const put of prepared.puts) {
      if (put.key === prepared.manifestKey) this.atStep('after-object-put');
      await this.store.put(put.key, put.body, put.contentType);
      if (put.key !== prepared.manifestKey) {
        files++;
        bytes += put.body.byteLength;
      }
    }
    this.atStep('after-manifest-put');
    await this.updateIndex(prepared.manifest, prepared.manifestKey);
    return { manifest: prepared.manifest, files, bytes };
  }

  /** Read-modify-write of the series index; one writer per series (its Kafka partition's owner). */
  private async updateIndex(manifest: WindowManifest, mKey: string): Promise<void> {
    const key = seriesIndexKey(this.prefix, manifest.window);
    const raw = await this.store.get(key);
    let index: SeriesIndex | null;
    try {
      index = raw === null ? null : parseSeriesIndex(raw);
    } catch {
      index = await this.rebuildIndex(manifest.window); // unreadable: rebuild from the manifests
    }
    await this.store.put(
      key,
      serializeSeriesIndex(upsertSeriesIndex(index, manifest, mKey)),
      'application/json',
    );
  }

  private async rebuildIndex(series: WindowId | WindowManifest['window']): Promise<SeriesIndex | null> {
    const keys = (await this.store.list(seriesFolder(this.prefix, series))).filter((k) =>
      k.endsWith('.manifest.json'),
    );
    const manifests: { manifest: WindowManifest; key: string }[] = [];
    for (const key of keys) {
      const raw = await this.store.get(key);
      if (raw !== null) manifests.push({ manifest: parseWindowManifest(raw), key });
    }
    return rebuildSeriesIndex(manifests);
  }
}
