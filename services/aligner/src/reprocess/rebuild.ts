import {
  type ArchiveGet,
  type ArchiveObjectEntry,
  type ArchiveRow,
  listArchiveObjects,
  readArchiveObject,
} from '@perpflow/archive';
import { type AlignedBar, FEED_RECORD_KIND, FEEDS, type Feed } from '@perpflow/contracts';
import {
  DEFAULT_WINDOW_POLICY,
  type WindowId,
  type WindowWriteInput,
  windowEndOf,
  windowStartOf,
} from '@perpflow/dataset';
import { checkRaw } from '../domain/batch.js';
import { QualityAlignEngine } from '../domain/engine.js';
import { type ReprocessJobData, readMarginsMs } from './plan.js';

/** One window of a job, ready for prepareWindowWrite (the caller adds prefix and writer). */
export type RebuiltWindow = Omit<WindowWriteInput, 'prefix' | 'writerVersion'>;

export interface RebuildResult {
  windows: RebuiltWindow[];
  /** Archive rows of the series read (lead-in and tail included) and fed to the engine. */
  records: number;
  /** Archive objects read (each checked against its index's sha256). */
  objects: number;
  /** Rows written to `aligned/v1` (one per bar) and revisions superseded. */
  bars: number;
  revisions: number;
  /** Records the contract or the rules turned away, by rule: what live sent to the dead-letter topic. */
  deadLetters: Record<string, number>;
}

export type RebuildProgress = (read: { objects: number; records: number }) => void;

const FEED_RANK: Record<Feed, number> = Object.fromEntries(FEEDS.map((f, i) => [f, i])) as Record<
  Feed,
  number
>;

/** Arrival order: Kafka timestamp, then feed, partition and offset (total and deterministic). */
function compareArrival(a: { row: ArchiveRow; feed: Feed }, b: { row: ArchiveRow; feed: Feed }): number {
  return (
    a.row.kafkaTimestampMs - b.row.kafkaTimestampMs ||
    FEED_RANK[a.feed] - FEED_RANK[b.feed] ||
    a.row.partition - b.row.partition ||
    (BigInt(a.row.offset) < BigInt(b.row.offset) ? -1 : BigInt(a.row.offset) > BigInt(b.row.offset) ? 1 : 0)
  );
}

const utf8 = new TextDecoder();

/**
 * Rebuilds one job's windows from the raw archive with the live aligner's code: each
 * record of the series is checked by the same contract step (`checkRaw`) and fed to a
 * fresh QualityAlignEngine in arrival order (Kafka timestamp), with the Kafka timestamp
 * as the rules' `now`. The records read span the job's windows plus a lead-in (so the
 * first bars see the funding and open interest live had) and a tail (so the last bars are
 * emitted and late records meet the same watermark). Bars of the job's windows are kept:
 * per bar time the last revision, earlier ones superseded, as the windower keeps them.
 *
 * Pure but for `get`: the same archive gives the same windows, byte for byte once
 * encoded (writtenAtMs is the window's newest known_at, not a clock). A corrupt or
 * missing object throws ArchiveObjectCorrupt / ArchiveObjectMissing naming it.
 */
export async function rebuildWindows(
  get: ArchiveGet,
  archivePrefix: string,
  job: ReprocessJobData,
  onProgress: RebuildProgress = () => undefined,
): Promise<RebuildResult> {
  const align = job.engine.align;
  const { leadInMs, tailMs } = readMarginsMs(align);
  const readFrom = job.fromMs - leadInMs;
  const readTo = job.toMs + tailMs;
  const inputs: { row: ArchiveRow; feed: Feed }[] = [];
  /** Objects that held a record of the series, with the event-time span of those records. */
  const used: { entry: ArchiveObjectEntry; minMs: number; maxMs: number }[] = [];
  let objects = 0;
  for (const feed of FEEDS) {
    const listing = await listArchiveObjects(get, archivePrefix, {
      feed,
      exchange: job.exchange,
      fromMs: readFrom,
      toMs: readTo,
    });
    for (const entry of listing.objects) {
      const rows = await readArchiveObject(get, entry);
      objects++;
      let minMs = Number.POSITIVE_INFINITY;
      let maxMs = Number.NEGATIVE_INFINITY;
      for (const row of rows) {
        if (row.exchange !== job.exchange || row.symbol !== job.symbol || row.eventTimeMs === null) continue;
        if (row.eventTimeMs < readFrom || row.eventTimeMs >= readTo) continue;
        inputs.push({ row, feed });
        minMs = Math.min(minMs, row.eventTimeMs);
        maxMs = Math.max(maxMs, row.eventTimeMs);
      }
      if (minMs <= maxMs) used.push({ entry, minMs, maxMs });
      onProgress({ objects, records: inputs.length });
    }
  }
  inputs.sort(compareArrival);

  const engine = new QualityAlignEngine({ quality: job.engine.quality, align }, null);
  const deadLetters: Record<string, number> = {};
  const count = (rule: string) => {
    deadLetters[rule] = (deadLetters[rule] ?? 0) + 1;
  };
  /** Per bar time in the job's range, every revision in emission order. */
  const byTs = new Map<number, AlignedBar[]>();
  for (const { row, feed } of inputs) {
    const value =
      row.value === null ? null : Buffer.from(row.value.buffer, row.value.byteOffset, row.value.byteLength);
    const key = row.key === null ? null : utf8.decode(row.key);
    const checked = checkRaw(FEED_RECORD_KIND[feed], key, value);
    if (!('record' in checked)) {
      count(checked.ruleId);
      continue;
    }
    const out = engine.apply([{ feed, record: checked.record, ref: null }], row.kafkaTimestampMs);
    for (const r of out.rejected) count(r.ruleId);
    for (const bar of out.bars) {
      if (bar.eventTimeMs < job.fromMs || bar.eventTimeMs >= job.toMs) continue;
      const revs = byTs.get(bar.eventTimeMs);
      if (revs) revs.push(bar);
      else byTs.set(bar.eventTimeMs, [bar]);
    }
  }
  const watermarkMs = engine.snapshot().streams[`${job.exchange}|${job.symbol}`]?.align.watermarkMs ?? null;

  const unit = DEFAULT_WINDOW_POLICY[align.timeframe];
  const byWindow = new Map<number, { latest: AlignedBar[]; superseded: AlignedBar[] }>();
  let bars = 0;
  let revisions = 0;
  for (const [ts, revs] of [...byTs].sort((a, b) => a[0] - b[0])) {
    const start = windowStartOf(ts, unit);
    let w = byWindow.get(start);
    if (!w) {
      w = { latest: [], superseded: [] };
      byWindow.set(start, w);
    }
    w.latest.push(revs[revs.length - 1] as AlignedBar);
    for (const r of revs.slice(0, -1)) w.superseded.push(r);
    bars++;
    revisions += revs.length - 1;
  }
  const windows: RebuiltWindow[] = [];
  for (const [startMs, rows] of byWindow) {
    const endMs = windowEndOf(startMs, unit);
    const window: WindowId = {
      exchange: job.exchange as WindowId['exchange'],
      symbol: job.symbol,
      timeframe: align.timeframe,
      unit,
      startMs,
    };
    let knownAt = startMs;
    for (const r of rows.latest) knownAt = Math.max(knownAt, r.knownAtMs);
    for (const r of rows.superseded) knownAt = Math.max(knownAt, r.knownAtMs);
    windows.push({
      window,
      latest: rows.latest,
      superseded: rows.superseded,
      kafkaOffsets: [],
      watermarkMs,
      closed: watermarkMs !== null && watermarkMs >= endMs + align.allowedLatenessMs,
      writtenAtMs: knownAt,
      datasetVersion: job.version,
      rawInputs: used
        .filter((u) => u.maxMs >= startMs - leadInMs && u.minMs < endMs + tailMs)
        .map((u) => ({ key: u.entry.key, sha256: u.entry.sha256 })),
    });
  }
  return { windows, records: inputs.length, objects, bars, revisions, deadLetters };
}
