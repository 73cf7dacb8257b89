import {
  type DayIndex,
  type FlushPlan,
  type LedgerEntry,
  parseArchiveManifest,
  parseDayIndex,
  parseLedgerEntry,
  serializeDocument,
  upsertDayIndex,
} from '@perpflow/archive';
import type { FlushStep } from '../crash-hook.js';
import type { ObjectStore } from './s3.js';

/** An object waiting to enter its day index, and who waits for it. */
interface IndexEntryWaiting {
  manifest: FlushPlan['objects'][number]['manifest'];
  manifestKey: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The archive on S3. Order of a flush: ledger entry → per object, the objects of a flush
 * at once: Parquet object → manifest → day index (read-modify-write). The offset commit
 * follows, in the pipeline, only after all of it.
 */
export class ArchiveStore {
  /** Per day-index key: the entries waiting for its next read-modify-write, and whether one runs. */
  private readonly indexQueues = new Map<string, { waiting: IndexEntryWaiting[]; running: boolean }>();

  constructor(
    private readonly store: ObjectStore,
    private readonly atStep: (step: FlushStep) => void = () => undefined,
  ) {}

  async readLedger(key: string): Promise<LedgerEntry | null> {
    const raw = await this.store.get(key);
    return raw === null ? null : parseLedgerEntry(raw);
  }

  async writeFlush(plan: FlushPlan): Promise<void> {
    await this.store.put(plan.ledgerKey, plan.ledgerBody, 'application/json');
    this.atStep('after-ledger-put');
    // A flush holds an object per (exchange, date) of its rows: one after another, a
    // partition's flush was up to 25 round trips in a row (1.2–1.6 s with S3 30 ms away).
    // Each settles before the flush fails, so a retry never races a put of its own.
    const settled = await Promise.allSettled(
      plan.objects.map(async (o) => {
        await this.store.put(o.key, o.body, 'application/vnd.apache.parquet');
        this.atStep('after-object-put');
        await this.store.put(o.manifestKey, serializeDocument(o.manifest), 'application/json');
        this.atStep('after-manifest-put');
        await this.enterIndex(o.indexKey, o.manifest, o.manifestKey);
      }),
    );
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
  }

  /**
   * Resolves once the object is in its day index on S3. Flushes of one feed's
   * topic-partitions run at once, and two read-modify-writes of one day index at once
   * would each write back what it read, losing the other's entry: one runs at a time per
   * index, and it takes every entry queued by then, so the partitions' flushes share one
   * read and one write (each a round trip to S3) instead of taking turns.
   */
  private enterIndex(
    indexKey: string,
    manifest: IndexEntryWaiting['manifest'],
    manifestKey: string,
  ): Promise<void> {
    let q = this.indexQueues.get(indexKey);
    if (!q) {
      q = { waiting: [], running: false };
      this.indexQueues.set(indexKey, q);
    }
    const queue = q;
    const entered = new Promise<void>((resolve, reject) =>
      queue.waiting.push({ manifest, manifestKey, resolve, reject }),
    );
    if (!queue.running) void this.updateIndex(indexKey, queue);
    return entered;
  }

  /** Read-modify-writes of one day index until no entry waits; a failure fails the entries it held. */
  private async updateIndex(
    indexKey: string,
    queue: { waiting: IndexEntryWaiting[]; running: boolean },
  ): Promise<void> {
    queue.running = true;
    while (queue.waiting.length > 0) {
      const entries = queue.waiting.splice(0);
      try {
        const raw = await this.store.get(indexKey);
        let index: DayIndex | null = null;
        try {
          if (raw !== null) index = parseDayIndex(raw);
        } catch {
          index = await this.rebuildIndex(indexKey); // unreadable: rebuild from the day's manifests
        }
        for (const e of entries) index = upsertDayIndex(index, e.manifest, e.manifestKey);
        await this.store.put(indexKey, serializeDocument(index as DayIndex), 'application/json');
        this.atStep('after-index-put');
        for (const e of entries) e.resolve();
      } catch (err) {
        for (const e of entries) e.reject(err);
      }
    }
    queue.running = false;
    this.indexQueues.delete(indexKey);
  }

  /** The day index as the manifests in its folder describe it (one listing of one day folder). */
  private async rebuildIndex(indexKey: string): Promise<DayIndex | null> {
    const folder = indexKey.slice(0, indexKey.lastIndexOf('/') + 1);
    let index: DayIndex | null = null;
    for (const key of (await this.store.list(folder)).filter((k) => k.endsWith('.manifest.json')).sort()) {
      const raw = await this.store.get(key);
      if (raw !== null) index = upsertDayIndex(index, parseArchiveManifest(raw), key);
    }
    return index;
  }
}
