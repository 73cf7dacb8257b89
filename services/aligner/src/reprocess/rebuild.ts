import {
  type ArchiveGet,
  type ArchiveObjectEntry,
  listArchiveObjects,
  type ReplayRow,
  readArchiveObjectForReplay,
  Utf8Texts,
  utcDaysOf,
} from '@perpflow/archive';
import { type AlignedBar, FEED_RECORD_KIND, FEEDS, type Feed } from '@perpflow/contracts';
import {
  BarRows,
  DEFAULT_WINDOW_POLICY,
  TextCodes,
  type WindowId,
  type WindowWriteInput,
  windowEndOf,
  windowStartOf,
} from '@perpflow/dataset';
import { forEachPool } from '@perpflow/runtime';
import { checkRaw } from '../domain/batch.js';
import { QualityAlignEngine } from '../domain/engine.js';
import type { EngineInput, EngineOutput, RawRecord } from '../domain/engine-types.js';
import { firstLane } from '../domain/merge.js';
import { type ReprocessJobData, readMarginsMs } from './plan.js';

/** One window of a job, ready for prepareWindowWrite (the caller adds prefix and writer). */
export type RebuiltWindow = Omit<WindowWriteInput, 'prefix' | 'writerVersion'>;

export interface RebuildStats {
  /** Archive rows of the job's series read (lead-in and tail included) and fed to the engine. */
  records: number;
  /** Archive objects read (each checked against its index's sha256 first). */
  objects: number;
  /** Windows handed to the sink, rows in them (one per bar) and revisions superseded. */
  windows: number;
  bars: number;
  revisions: number;
  /** Records the contract or the rules turned away, by rule: what live sent to the dead-letter topic. */
  deadLetters: Record<string, number>;
}

export type RebuildProgress = (read: { objects: number; records: number }) => void;

const DAY_MS = 86_400_000;
/** Archive day indexes read at once when a job starts (a month job reads ~130 of them). */
const INDEX_READS_AT_ONCE = 8;
/**
 * A record is filed under the day of its event time, and arrives (Kafka timestamp) after
 * it, but for a clock skew the quality rules allow (clockSkewMs, 5 s by default): records
 * that arrived this long before a day's first instant may still sit in that day's folder.
 */
const ARRIVAL_MARGIN_MS = 60_000;

/** Decimal Kafka offsets in numeric order without BigInt: the shorter is smaller, else by text. */
const byOffset = (a: ReplayRow, b: ReplayRow) =>
  a.offset.length !== b.offset.length
    ? a.offset.length - b.offset.length
    : a.offset < b.offset
      ? -1
      : a.offset > b.offset
        ? 1
        : 0;

interface OpenWindow {
  symbol: string;
  startMs: number;
  endMs: number;
  /**
   * Every bar emitted into the window (each revision of a bar time), in emission order:
   * its packed row's slot in the job's BarRows. Bars as objects (34 properties, a boxed
   * number for most) held until their window finished were the largest part of a worker's
   * live objects (57,000 bars, ~30 MiB of a 112 MiB live heap in a snapshot of a bench worker).
   */
  slots: number[];
  /** Handed to the sink and out of `open`: a later bar of its span opens a new window. */
  finished: boolean;
}

/** True when `lane` is already in byOffset order (as archive objects give it), so sorting would not move a row. */
function inOffsetOrder(lane: readonly ReplayRow[]): boolean {
  for (let i = 1; i < lane.length; i++)
    if (byOffset(lane[i - 1] as ReplayRow, lane[i] as ReplayRow) > 0) return false;
  return true;
}

/**
 * Rebuilds one job's windows from the raw archive with the live aligner's code: each
 * record is checked by the same contract step (`checkRaw`) and fed to one
 * QualityAlignEngine for the partition, in the live aligner's merged order (each raw topic by
 * offset, across topics by Kafka timestamp: domain/merge.ts), with the
 * Kafka timestamp as the rules' `now`. The records read span the job's windows plus a
 * lead-in (the first bars see the funding and open interest live had) and a tail (the
 * last bars are emitted, and late records meet the watermark they met live). Bars of the
 * job's windows are kept as the windower keeps them: per bar time the last revision,
 * earlier ones superseded.
 *
 * Day by day, in bounded memory: after a day's objects are read, every record that
 * arrived before the next day began (less ARRIVAL_MARGIN_MS) is processed (no record of a
 * later day's folder can have arrived before it), and each window whose end plus the tail
 * has been passed goes to `sink` and leaves memory. Memory holds about two days of the
 * partition's records and bars, whatever the job's length.
 *
 * Pure but for `get` and `sink`: the same archive gives the same windows, byte for byte
 * once encoded (writtenAtMs is the window's newest known_at, never a clock). A corrupt or
 * missing object throws ArchiveObjectCorrupt / ArchiveObjectMissing naming it.
 */
export async function rebuildWindows(
  get: ArchiveGet,
  archivePrefix: string,
  job: ReprocessJobData,
  sink: (w: RebuiltWindow) => Promise<void>,
  onProgress: RebuildProgress = () => undefined,
): Promise<RebuildStats> {
  const align = job.engine.align;
  const unit = DEFAULT_WINDOW_POLICY[align.timeframe];
  const { leadInMs, tailMs } = readMarginsMs(align);
  const readFrom = job.fromMs - leadInMs;
  const readTo = job.toMs + tailMs;
  const wanted = job.symbols === null ? null : new Set(job.symbols);

  // The job's objects, by day: its partition of every feed. The day indexes are read
  // INDEX_READS_AT_ONCE at a time (each a round trip to S3), used in (feed, day) order.
  const byDay = new Map<string, { feed: Feed; entry: ArchiveObjectEntry }[]>();
  const dayLists = FEEDS.flatMap((feed) =>
    utcDaysOf(readFrom, readTo).map((date) => {
      const dayMs = Date.parse(`${date}T00:00:00Z`);
      return { feed, fromMs: Math.max(readFrom, dayMs), toMs: Math.min(readTo, dayMs + DAY_MS) };
    }),
  );
  const listings: Awaited<ReturnType<typeof listArchiveObjects>>[] = [];
  await forEachPool(
    dayLists.map((d, i) => ({ ...d, i })),
    INDEX_READS_AT_ONCE,
    async ({ feed, fromMs, toMs, i }) => {
      listings[i] = await listArchiveObjects(get, archivePrefix, {
        feed,
        exchange: job.exchange,
        fromMs,
        toMs,
      });
    },
  );
  for (const [i, { feed }] of dayLists.entries()) {
    for (const entry of (listings[i] as (typeof listings)[number]).objects) {
      if (entry.partition !== job.partition) continue;
      const list = byDay.get(entry.date) ?? [];
      list.push({ feed, entry });
      byDay.set(entry.date, list);
    }
  }

  const stats: RebuildStats = { records: 0, objects: 0, windows: 0, bars: 0, revisions: 0, deadLetters: {} };
  const count = (rule: string) => {
    stats.deadLetters[rule] = (stats.deadLetters[rule] ?? 0) + 1;
  };
  /** Objects that held records of a series: the event-time span of those records. */
  const used = new Map<string, { entry: ArchiveObjectEntry; spans: Map<string, [number, number]> }>();
  const engine = new QualityAlignEngine({ quality: job.engine.quality, align }, null);
  const open = new Map<string, OpenWindow>();
  /** The open windows' bars, packed (the windower's book keeps its rows the same way). */
  const barRows = new BarRows(new TextCodes());
  /** Per feed (FEEDS order), records read and not yet fed. */
  let pending: ReplayRow[][] = FEEDS.map(() => []);
  /** A partition's message keys are the few `exchange|symbol` of its series: decoded once each. */
  const keyTexts = new Utf8Texts();

  /**
   * Each symbol's window of its last bar: a symbol's bars come in time order, so nearly
   * every bar finds its window here without building the `open` key (a string per bar
   * was 2.6 % of the rebuild's profile).
   */
  const lastWindow = new Map<string, OpenWindow>();

  const emit = (bar: AlignedBar) => {
    if (bar.eventTimeMs < job.fromMs || bar.eventTimeMs >= job.toMs) return;
    const startMs = windowStartOf(bar.eventTimeMs, unit);
    let w = lastWindow.get(bar.symbol);
    if (w === undefined || w.startMs !== startMs || w.finished) {
      const key = `${bar.symbol}\u0000${startMs}`;
      w = open.get(key);
      if (!w) {
        w = {
          symbol: bar.symbol,
          startMs,
          endMs: windowEndOf(startMs, unit),
          slots: [],
          finished: false,
        };
        open.set(key, w);
      }
      lastWindow.set(bar.symbol, w);
    }
    w.slots.push(barRows.put(bar));
  };

  // One input and one output, reused for every record (the engine appends into `out`).
  const input: EngineInput<null> = {
    feed: FEEDS[0] as Feed,
    record: null as unknown as RawRecord,
    ref: null,
  };
  const one = [input];
  const out: EngineOutput<null> = { bars: [], rejected: [], hits: [], watermarks: new Map() };

  /** The merged order of the live aligner (domain/merge.ts): each topic by offset, across them by timestamp. */
  const feedUpTo = (upToArrivalMs: number) => {
    for (const lane of pending) if (!inOffsetOrder(lane)) lane.sort(byOffset);
    const heads = pending.map(() => 0);
    /** Each lane's head timestamp (undefined: lane empty), updated as its head moves. */
    const headTs = pending.map((lane) => lane[0]?.kafkaTimestampMs);
    for (;;) {
      const i = firstLane(headTs);
      if (i < 0) break;
      const lane = pending[i] as ReplayRow[];
      const row = lane[heads[i] as number] as ReplayRow;
      if (row.kafkaTimestampMs >= upToArrivalMs) break;
      const next = (heads[i] as number) + 1;
      heads[i] = next;
      headTs[i] = lane[next]?.kafkaTimestampMs;
      const feed = FEEDS[i] as Feed;
      const checked = checkRaw(
        FEED_RECORD_KIND[feed],
        row.key === null ? null : keyTexts.textOf(row.key),
        row.value,
      );
      if (!('record' in checked)) {
        count(checked.ruleId);
        continue;
      }
      input.feed = feed;
      input.record = checked.record;
      out.bars.length = 0;
      out.rejected.length = 0;
      out.hits.length = 0;
      engine.apply(one, row.kafkaTimestampMs, out);
      for (const r of out.rejected) count(r.ruleId);
      for (const bar of out.bars) emit(bar);
    }
    pending = pending.map((lane, k) => lane.slice(heads[k]));
  };

  const finish = async (w: OpenWindow) => {
    // The window's bars by time, each time's revisions in emission order (a stable sort):
    // per time the last is kept, the ones before it are superseded.
    const bars = w.slots.map((slot) => barRows.get(slot));
    for (const slot of w.slots) barRows.release(slot);
    w.slots = [];
    bars.sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    const latest: AlignedBar[] = [];
    const superseded: AlignedBar[] = [];
    let knownAt = w.startMs;
    for (const [i, bar] of bars.entries()) {
      if (bars[i + 1]?.eventTimeMs === bar.eventTimeMs) superseded.push(bar);
      else latest.push(bar);
      knownAt = Math.max(knownAt, bar.knownAtMs);
    }
    const watermarkMs = engine.watermarkOf(job.exchange, w.symbol);
    const window: WindowId = {
      exchange: job.exchange as WindowId['exchange'],
      symbol: w.symbol,
      timeframe: align.timeframe,
      unit,
      startMs: w.startMs,
    };
    const rawInputs: { key: string; sha256: string }[] = [];
    for (const u of used.values()) {
      const span = u.spans.get(w.symbol);
      if (span && span[1] >= w.startMs - leadInMs && span[0] < w.endMs + tailMs)
        rawInputs.push({ key: u.entry.key, sha256: u.entry.sha256 });
    }
    stats.windows++;
    stats.bars += latest.length;
    stats.revisions += superseded.length;
    await sink({
      window,
      latest,
      superseded,
      kafkaOffsets: [],
      watermarkMs,
      closed: watermarkMs !== null && watermarkMs >= w.endMs + align.allowedLatenessMs,
      writtenAtMs: knownAt,
      datasetVersion: job.version,
      rawInputs,
    });
  };

  /** Windows whose end plus the tail every processed arrival has passed; in (symbol, start) order. */
  const finishUpTo = async (arrivalMs: number) => {
    const due = [...open.entries()]
      .filter(([, w]) => w.endMs + tailMs <= arrivalMs)
      .sort((a, b) =>
        a[1].symbol < b[1].symbol ? -1 : a[1].symbol > b[1].symbol ? 1 : a[1].startMs - b[1].startMs,
      );
    for (const [key, w] of due) {
      open.delete(key);
      w.finished = true;
      await finish(w);
    }
  };

  const days = utcDaysOf(readFrom, readTo);
  // Reads ahead: a day's objects and the next day's are requested together while the
  // current one is decoded and processed, so the worker does not wait on S3 object by
  // object. At most two days of the partition's object bytes are held (the records of
  // two days are held anyway). The bytes are checked against the index as before.
  const requested = new Map<string, Promise<Uint8Array | null>>();
  const request = (date: string | undefined) => {
    for (const { entry } of date === undefined ? [] : (byDay.get(date) ?? []))
      if (!requested.has(entry.key)) {
        const p = get(entry.key);
        // Rejections reach the reader below; a job that fails before reading it leaves no unhandled one.
        p.catch(() => undefined);
        requested.set(entry.key, p);
      }
  };
  const readAhead: ArchiveGet = (key) => {
    const p = requested.get(key);
    if (p === undefined) return get(key);
    requested.delete(key);
    return p;
  };
  for (const [i, date] of days.entries()) {
    request(date);
    request(days[i + 1]);
    for (const { feed, entry } of byDay.get(date) ?? []) {
      const lane = pending[FEEDS.indexOf(feed)] as ReplayRow[];
      const rows = await readArchiveObjectForReplay(
        readAhead,
        entry,
        (exchange, symbol, eventTimeMs) =>
          exchange === job.exchange &&
          symbol !== null &&
          eventTimeMs !== null &&
          eventTimeMs >= readFrom &&
          eventTimeMs < readTo &&
          (wanted === null || wanted.has(symbol)),
      );
      stats.objects++;
      let u = used.get(entry.key);
      for (const row of rows) {
        const symbol = row.symbol as string;
        const eventTimeMs = row.eventTimeMs as number;
        lane.push(row);
        stats.records++;
        if (!u) {
          u = { entry, spans: new Map() };
          used.set(entry.key, u);
        }
        const span = u.spans.get(symbol);
        if (span) {
          if (eventTimeMs < span[0]) span[0] = eventTimeMs;
          if (eventTimeMs > span[1]) span[1] = eventTimeMs;
        } else u.spans.set(symbol, [eventTimeMs, eventTimeMs]);
      }
      onProgress({ objects: stats.objects, records: stats.records });
    }
    const last = i === days.length - 1;
    const safe = last
      ? Number.POSITIVE_INFINITY
      : Date.parse(`${date}T00:00:00Z`) + DAY_MS - ARRIVAL_MARGIN_MS;
    feedUpTo(safe);
    if (!last) await finishUpTo(safe);
  }
  await finishUpTo(Number.POSITIVE_INFINITY);
  return stats;
}
