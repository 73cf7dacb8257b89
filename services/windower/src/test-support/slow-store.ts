import type { FolderLister, ObjectStore } from '../adapters/s3.js';

/**
 * Objects in memory behind a store whose every read (GET, LIST) waits a few milliseconds
 * and is counted while in flight: what a reader sends to S3 at once shows as `maxInFlight`.
 */
export class SlowStore implements ObjectStore, FolderLister {
  readonly objects = new Map<string, Uint8Array>();
  inFlight = 0;
  maxInFlight = 0;
  reads = 0;
  /** The most GETs in flight at once, and the most listings. */
  readonly most = { get: 0, list: 0 };
  private readonly now = { get: 0, list: 0 };

  constructor(private readonly delayMs = 2) {}

  private async slow<T>(kind: 'get' | 'list', read: () => T): Promise<T> {
    this.reads++;
    this.inFlight++;
    this.now[kind]++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.most[kind] = Math.max(this.most[kind], this.now[kind]);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      return read();
    } finally {
      this.inFlight--;
      this.now[kind]--;
    }
  }

  /** Zeroes the counters (between two reads of the same objects). */
  reset(): void {
    this.maxInFlight = 0;
    this.reads = 0;
    this.most.get = 0;
    this.most.list = 0;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    this.objects.set(key, body);
  }
  get(key: string): Promise<Uint8Array | null> {
    return this.slow('get', () => this.objects.get(key) ?? null);
  }
  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.slow('list', () => [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort());
  }
  /** The folders directly below `prefix` that hold an object, as S3 gives common prefixes. */
  listFolders(prefix: string): Promise<string[]> {
    return this.slow('list', () => {
      const folders = new Set<string>();
      for (const k of this.objects.keys()) {
        if (!k.startsWith(prefix)) continue;
        const cut = k.indexOf('/', prefix.length);
        if (cut >= 0) folders.add(k.slice(0, cut + 1));
      }
      return [...folders].sort();
    });
  }
  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}
