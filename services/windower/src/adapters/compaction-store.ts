import { EXCHANGES, TIMEFRAMES } from '@perpflow/contracts';
import { forEachPool } from '@perpflow/runtime';
import {
  type CompactedManifest,
  compactedManifestKey,
  compactedSeriesFolder,
  type DayObject,
  latestTreeFolder,
  type MonthCompaction,
  parseCompactedManifest,
  parseCompactedManifestKey,
  parseSeriesIndex,
  parseSeriesIndexKey,
  parseWindowManifest,
  prepareMonthCompaction,
  type SeriesId,
  type SeriesIndex,
  seriesIndexKey,
  CompactionSourceChanged,
  windowEndOf,
} from '@perpflow/dataset';
import type { FolderLister, ObjectStore } from './s3.js';

/** The steps of one month write, in order; a crash hook may stop the process after either put. */
export type CompactionStep = 'after-object-put' | 'after-manifest-put';

/** Listings and index reads sent to S3 at once (each is a round trip of tens of milliseconds). */
export const READS_AT_ONCE = 8;

/**
 * The dataset as month compaction sees it: series indexes, compacted manifests, day
 * objects; writes a compacted month as object, then manifest (deterministic keys).
 */
export class CompactionStore {
  constructor(
    private readonly store: ObjectStore & FolderLister,
    private readonly prefix: string,
    private readonly writerVersion: string,
    private readonly atStep: (step: CompactionStep) => void = () => undefined,
  ) {}

  /**
   * Every series with an index: the symbol folders of each known (timeframe, exchange)
   * partition, listed with a delimiter rather than listing every object of the dataset
   * (6 × 3 LISTs, plus one per 1,000 symbols). Timeframes and exchanges come from the
   * contracts, not from a listing: the local S3 server reports common prefixes only
   * for folders that hold an object directly, as a symbol folder does (`_index.json`).
   */
  async listSeries(): Promise<SeriesId[]> {
    const partitions = TIMEFRAMES.flatMap((tf) => EXCHANGES.map((ex) => ({ tf, ex })));
    // The listings at once (each a round trip to S3), the series in partition order.
    const found: SeriesId[][] = partitions.map(() => []);
    await forEachPool(
      partitions.map((part, i) => ({ ...part, i })),
      READS_AT_ONCE,
      async ({ tf, ex, i }) => {
        for (const sym of await this.store.listFolders(
          `${latestTreeFolder(this.prefix)}timeframe=${tf}/exchange=${ex}/`,
        )) {
          const series = parseSeriesIndexKey(this.prefix, `${sym}_index.json`);
          if (series) found[i]?.push(series);
        }
      },
    );
    return found.flat();
  }

  async readIndex(series: SeriesId): Promise<SeriesIndex | null> {
    const raw = await this.store.get(seriesIndexKey(this.prefix, series));
    return raw === null ? null : parseSeriesIndex(raw);
  }

  /** The compacted manifests of a series, by month start (an unreadable one counts as absent: it is rewritten). */
  async readCompacted(series: SeriesId): Promise<Map<number, CompactedManifest>> {
    const out = new Map<number, CompactedManifest>();
    for (const key of await this.store.list(compactedSeriesFolder(this.prefix, series))) {
      const parsed = parseCompactedManifestKey(this.prefix, key);
      if (!parsed) continue;
      const m = await this.readCompactedMonth(series, parsed.monthStartMs);
      if (m) out.set(parsed.monthStartMs, m);
    }
    return out;
  }

  async readCompactedMonth(series: SeriesId, monthStartMs: number): Promise<CompactedManifest | null> {
    const raw = await this.store.get(compactedManifestKey(this.prefix, series, monthStartMs));
    if (raw === null) return null;
    try {
      return parseCompactedManifest(raw);
    } catch {
      return null;
    }
  }

  /**
   * Reads every day of the month the index lists (manifest, then object), builds the
   * compacted month (each day verified against its manifest and the index), puts the
   * object, then the manifest.
   */
  async compactMonth(
    index: SeriesIndex,
    monthStartMs: number,
    writtenAtMs: number,
  ): Promise<MonthCompaction> {
    const end = windowEndOf(monthStartMs, 'month');
    const days = new Map<number, DayObject>();
    for (const e of index.windows) {
      if (e.startMs < monthStartMs || e.startMs >= end) continue;
      const rawManifest = await this.store.get(e.manifestKey);
      const bytes = await this.store.get(e.objectKey);
      if (rawManifest === null || bytes === null)
        throw new CompactionSourceChanged(
          `${e.objectKey}: listed in the index, but its manifest or object is missing`,
        );
      days.set(e.startMs, { manifest: parseWindowManifest(rawManifest), bytes });
    }
    const built = await prepareMonthCompaction({
      prefix: this.prefix,
      index,
      monthStartMs,
      days,
      writtenAtMs,
      writerVersion: this.writerVersion,
    });
    await this.store.put(built.objectKey, built.body, 'application/vnd.apache.parquet');
    this.atStep('after-object-put');
    await this.store.put(built.manifestKey, built.manifestBody, 'application/json');
    this.atStep('after-manifest-put');
    return built;
  }
}
