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

/**
 * The archive on S3. Order of a flush: ledger entry → per object: Parquet object,
 * manifest → per object: day index (read-modify-write). The offset commit follows,
 * in the pipeline, only after all of it.
 */
export class ArchiveStore {
  /** Per day-index key, the end of the last read-modify-write queued on it. */
  private readonly indexTurns = new Map<string, Promise<void>>();

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
    for (const o of plan.objects) {
      await this.store.put(o.key, o.body, 'application/vnd.apache.parquet');
      this.atStep('after-object-put');
      await this.store.put(o.manifestKey, serializeDocument(o.manifest), 'application/json');
      this.atStep('after-manifest-put');
    }
    for (const o of plan.objects)
      await this.inTurn(o.indexKey, async () => {
        const raw = await this.store.get(o.indexKey);
        let index: DayIndex | null = null;
        try {
          if (raw !== null) index = parseDayIndex(raw);
        } catch {
          index = await this.rebuildIndex(o.indexKey); // unreadable: rebuild from the day's manifests
        }
        await this.store.put(
          o.indexKey,
          serializeDocument(upsertDayIndex(index, o.manifest, o.manifestKey)),
          'application/json',
        );
        this.atStep('after-index-put');
      });
  }

  /**
   * Runs `update` after every update of `indexKey` queued before it: flushes of one feed's
   * topic-partitions run at once, and two read-modify-writes of one day index at once
   * would each write back what it read, losing the other's entry.
   */
  private inTurn(indexKey: string, update: () => Promise<void>): Promise<void> {
    const run = (this.indexTurns.get(indexKey) ?? Promise.resolve()).then(update);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.indexTurns.set(indexKey, settled);
    void settled.then(() => {
      if (this.indexTurns.get(indexKey) === settled) this.indexTurns.delete(indexKey);
    });
    return run;
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
