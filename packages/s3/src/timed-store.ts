import type { FolderLister, ObjectStore } from './object-store.js';

/** The operations timed; a service's metrics label them with these names. */
export type S3Op = 'get' | 'put' | 'head' | 'list' | 'delete';

/** The two metrics a timed store feeds (prom-client's Histogram and Counter with an `op` label fit). */
export interface S3RequestMetrics {
  s3Latency: { startTimer(labels: { op: S3Op }): () => unknown };
  s3Errors: { inc(labels: { op: S3Op }): void };
}

/** An object store whose every request is timed and, when it fails, counted per operation. */
export class TimedObjectStore implements ObjectStore, FolderLister {
  constructor(
    private readonly inner: ObjectStore & Partial<FolderLister>,
    private readonly metrics: S3RequestMetrics,
  ) {}

  put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    return this.time('put', () => this.inner.put(key, body, contentType));
  }
  get(key: string): Promise<Uint8Array | null> {
    return this.time('get', () => this.inner.get(key));
  }
  exists(key: string): Promise<boolean> {
    return this.time('head', () => this.inner.exists(key));
  }
  list(prefix: string): Promise<string[]> {
    return this.time('list', () => this.inner.list(prefix));
  }
  listFolders(prefix: string): Promise<string[]> {
    const { listFolders } = this.inner;
    if (!listFolders) throw new Error('this object store cannot list folders');
    return this.time('list', () => listFolders.call(this.inner, prefix));
  }
  delete(key: string): Promise<void> {
    return this.time('delete', () => this.inner.delete(key));
  }

  private async time<T>(op: S3Op, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics.s3Latency.startTimer({ op });
    try {
      return await fn();
    } catch (err) {
      this.metrics.s3Errors.inc({ op });
      throw err;
    } finally {
      end();
    }
  }
}
