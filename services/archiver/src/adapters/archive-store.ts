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
    for (const o of plan.objects) {
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
    }
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
