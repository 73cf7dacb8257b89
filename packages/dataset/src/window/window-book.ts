import { type AlignedBar, type RawPosition, timeframeMs } from '@perpflow/contracts';
import { type SeriesId, type WindowId, windowEndMs, windowIdString } from '../layout/keys.js';
import { DEFAULT_WINDOW_POLICY, type WindowPolicy, windowStartOf } from '../layout/windows.js';
import type { OffsetRange } from '../manifest/schemas.js';
import { BarRows, LatestSlots, TextCodes } from './bar-rows.js';

/** Where a record was read: Kafka topic, partition and offset (decimal string, as kafkajs gives it). */
export interface SourceOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface WindowBookOptions {
  /** Window unit per timeframe. Default DEFAULT_WINDOW_POLICY. */
  policy?: WindowPolicy;
  /** A window closes when the watermark reaches its end + this. Default 0. */
  allowedLatenessMs?: number;
  /** An open window with unwritten changes is due this long after its first unwritten change. Default 60,000. */
  flushIntervalMs?: number;
  /** Keep superseded revisions for exact as-of reads. Default true. */
  keepRevisions?: boolean;
}

/** What add() did with a bar. */
export type AddOutcome =
  /** First bar for its time in this window. */
  | 'new'
  /** A higher revision replaced the row (the old one moves to the revisions). */
  | 'replaced'
  /** A lower revision than the row held: kept in the revisions only (or dropped). */
  | 'stale'
  /** Same bar time and revision as the row held (a re-delivery): nothing changes. */
  | 'duplicate';

export interface AddResult {
  windowKey: string;
  outcome: AddOutcome;
  /** The book had no such window: the caller must merge the stored object before its first write. */
  isNewWindow: boolean;
  /** The window was already closed by the last watermark seen (a late bar reopens it). */
  late: boolean;
}

export interface DueWindow {
  windowKey: string;
  window: WindowId;
  /** close: watermark passed end + lateness; flush: open, changed, flush interval elapsed. */
  reason: 'close' | 'flush';
}

/** Everything needed to write one window now; pass `version` back to markDurable. */
export interface WindowSnapshot {
  windowKey: string;
  window: WindowId;
  latest: AlignedBar[];
  superseded: AlignedBar[];
  kafkaOffsets: OffsetRange[];
  /**
   * The raw positions every row of the window was decided below (the highest of each
   * bar's perpflow-raw-through, stored rows included); null when a row came without them.
   */
  rawThrough: RawPosition[] | null;
  closed: boolean;
  /** False until mergeStored() was called for this window (first write must merge the stored object). */
  storedMerged: boolean;
  version: number;
}

interface PendingMark {
  /** The window version of the first add of this run of adds. */
  version: number;
  minOffset: bigint;
}

interface BookWindow {
  window: WindowId;
  endMs: number;
  /** The packed rows of the window (`latest` and `superseded` hold their slots). */
  rows: BarRows;
  /** Slot of the last revision per bar time. */
  latest: LatestSlots;
  /** Slots of the superseded revisions, by `eventTimeMs|revision`. */
  superseded: Map<string, number>;
  offsets: Map<string, { topic: string; partition: number; first: bigint; last: bigint }>;
  /** Highest raw position per topic-partition over the window's bars (perpflow-raw-through). */
  raw: Map<string, { topic: string; partition: number; offset: bigint }>;
  /** False once a bar (or the stored window) came without raw positions. */
  rawKnown: boolean;
  /** The positions last noted: noting the same array again changes nothing (bars of one round share it). */
  lastRaw: readonly RawPosition[] | null | undefined;
  /** Offsets on each topic-partition not yet in a durable object, grouped by snapshot runs. */
  pending: Map<string, PendingMark[]>;
  version: number;
  lastSnapshotVersion: number;
  durableVersion: number;
  dirtySinceMs: number | null;
  /** When the first add after the last snapshot happened. */
  firstAddAfterSnapshotMs: number | null;
  closedWritten: boolean;
  storedMerged: boolean;
  /** When a bar last entered the window (idle eviction). */
  lastAddMs: number;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Groups aligned bars into windows per (exchange, symbol, timeframe, window), keeps
 * the last revision per bar time, says which windows are due, and which Kafka
 * offsets are safe to commit. Pure: the caller passes the watermark and `nowMs`.
 *
 * The commit rule: a partition's safe commit offset is the lowest offset of a bar
 * that is not yet in a durable object (markDurable), or one past the highest offset
 * seen when every bar is durable. So a commit never skips an unwritten bar.
 */
export class WindowBook {
  private readonly windows = new Map<string, BookWindow>();
  private readonly highest = new Map<string, { topic: string; partition: number; offset: bigint }>();
  private readonly policy: WindowPolicy;
  private readonly latenessMs: number;
  private readonly flushIntervalMs: number;
  private readonly keepRevisions: boolean;
  private watermarkMs: number | null = null;
  /**
   * Windows evicted while durable but still open (idle, or at once under memory pressure).
   * Without this, no window in the book stands for them when the watermark passes their
   * end, and their manifest would say `closed: false` for good (compaction waits for it).
   */
  private readonly evictedOpen = new Map<string, WindowId>();
  /** The texts of every window's rows, packed as codes. */
  private readonly texts = new TextCodes();

  constructor(options: WindowBookOptions = {}) {
    this.policy = options.policy ?? DEFAULT_WINDOW_POLICY;
    this.latenessMs = options.allowedLatenessMs ?? 0;
    this.flushIntervalMs = options.flushIntervalMs ?? 60_000;
    this.keepRevisions = options.keepRevisions ?? true;
  }

  /** The window a bar belongs to under this book's policy. */
  windowOf(bar: Pick<AlignedBar, 'exchange' | 'symbol' | 'timeframe' | 'eventTimeMs'>): WindowId {
    const unit = this.policy[bar.timeframe];
    return {
      exchange: bar.exchange,
      symbol: bar.symbol,
      timeframe: bar.timeframe,
      unit,
      startMs: windowStartOf(bar.eventTimeMs, unit),
    };
  }

  /**
   * `rawThrough`: the bar's perpflow-raw-through positions; null when it had none (or
   * unreadable ones); never changed afterwards (the book may keep the array). `window`:
   * `windowOf(bar)` and its `windowIdString`, when the caller has them already.
   */
  add(
    bar: AlignedBar,
    source: SourceOffset,
    nowMs: number,
    rawThrough: readonly RawPosition[] | null = null,
    window?: { id: WindowId; key: string },
  ): AddResult {
    const offset = BigInt(source.offset);
    this.noteConsumed(source);
    const id = window?.id ?? this.windowOf(bar);
    const windowKey = window?.key ?? windowIdString(id);
    let w = this.windows.get(windowKey);
    const isNewWindow = w === undefined;
    if (!w) {
      this.evictedOpen.delete(windowKey);
      w = this.emptyWindow(id, nowMs);
      this.windows.set(windowKey, w);
    }
    const late = this.watermarkMs !== null && this.isClosedBy(w, this.watermarkMs);
    w.lastAddMs = nowMs;
    const outcome = this.merge(w, bar);
    if (outcome === 'duplicate' || (outcome === 'stale' && !this.keepRevisions))
      return { windowKey, outcome, isNewWindow, late };

    w.version++;
    w.closedWritten = false;
    noteRaw(w, rawThrough);
    if (w.dirtySinceMs === null) w.dirtySinceMs = nowMs;
    if (w.version === w.lastSnapshotVersion + 1) w.firstAddAfterSnapshotMs = nowMs;
    const k = tpKey(source.topic, source.partition);
    const range = w.offsets.get(k);
    if (!range)
      w.offsets.set(k, { topic: source.topic, partition: source.partition, first: offset, last: offset });
    else {
      if (offset < range.first) range.first = offset;
      if (offset > range.last) range.last = offset;
    }
    const marks = w.pending.get(k) ?? [];
    const last = marks[marks.length - 1];
    if (last && last.version > w.lastSnapshotVersion) {
      if (offset < last.minOffset) last.minOffset = offset;
    } else marks.push({ version: w.version, minOffset: offset });
    w.pending.set(k, marks);
    return { windowKey, outcome, isNewWindow, late };
  }

  /**
   * A record consumed without entering a window (failed its contract, dead-lettered):
   * the commit may pass it once every earlier bar is durable.
   */
  noteConsumed(source: SourceOffset): void {
    const k = tpKey(source.topic, source.partition);
    const offset = BigInt(source.offset);
    const h = this.highest.get(k);
    if (!h || offset > h.offset)
      this.highest.set(k, { topic: source.topic, partition: source.partition, offset });
  }

  /**
   * Merges the rows of the stored object(s) of a window (read back from S3 before the
   * first write after a restart or eviction) under the same last-revision-wins rule.
   * Does not touch offsets: stored rows are already durable.
   */
  mergeStored(
    windowKey: string,
    latest: readonly AlignedBar[],
    superseded: readonly AlignedBar[],
    /** The stored manifest's raw positions: undefined when it names none because nothing was stored, null when its rows came without them. */
    rawThrough?: readonly RawPosition[] | null,
  ): void {
    const w = this.windows.get(windowKey);
    if (!w) throw new Error(`no window ${windowKey} in the book`);
    for (const r of [...superseded, ...latest]) this.merge(w, r);
    if (rawThrough !== undefined) noteRaw(w, rawThrough);
    w.storedMerged = true;
  }

  /** Windows to write now: closed ones (not yet written as closed) and open ones past the flush interval. */
  dueWindows(watermarkMs: number | null, nowMs: number): DueWindow[] {
    if (watermarkMs !== null && (this.watermarkMs === null || watermarkMs > this.watermarkMs))
      this.watermarkMs = watermarkMs;
    const out: DueWindow[] = [];
    // An evicted open window comes back (empty, merging the stored object on its write) to
    // be written as closed once the watermark has passed its end.
    if (this.watermarkMs !== null)
      for (const [windowKey, id] of this.evictedOpen)
        if (this.watermarkMs >= windowEndMs(id) + this.latenessMs) {
          this.evictedOpen.delete(windowKey);
          this.windows.set(windowKey, this.emptyWindow(id, nowMs));
        }
    for (const [windowKey, w] of this.windows) {
      const dirty = w.version > w.durableVersion;
      if (this.watermarkMs !== null && this.isClosedBy(w, this.watermarkMs)) {
        if (dirty || !w.closedWritten) out.push({ windowKey, window: w.window, reason: 'close' });
      } else if (dirty && w.dirtySinceMs !== null && nowMs - w.dirtySinceMs >= this.flushIntervalMs)
        out.push({ windowKey, window: w.window, reason: 'flush' });
    }
    return out.sort((a, b) => a.window.startMs - b.window.startMs || a.windowKey.localeCompare(b.windowKey));
  }

  /** The window's rows and offsets as of now. Adds after this are not covered by markDurable(version). */
  snapshot(windowKey: string): WindowSnapshot {
    const w = this.windows.get(windowKey);
    if (!w) throw new Error(`no window ${windowKey} in the book`);
    w.lastSnapshotVersion = w.version;
    const byTime = (a: AlignedBar, b: AlignedBar) => a.eventTimeMs - b.eventTimeMs || a.revision - b.revision;
    return {
      windowKey,
      window: w.window,
      latest: w.latest
        .slots()
        .map((slot) => w.rows.get(slot))
        .sort(byTime),
      superseded: [...w.superseded.values()].map((slot) => w.rows.get(slot)).sort(byTime),
      kafkaOffsets: [...w.offsets.values()]
        .map((r) => ({
          topic: r.topic,
          partition: r.partition,
          firstOffset: r.first.toString(),
          lastOffset: r.last.toString(),
        }))
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
      rawThrough:
        w.rawKnown && w.raw.size > 0
          ? [...w.raw.values()]
              .map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset.toString() }))
              .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
          : null,
      closed: this.watermarkMs !== null && this.isClosedBy(w, this.watermarkMs),
      storedMerged: w.storedMerged,
      version: w.version,
    };
  }

  /**
   * The objects and manifest of snapshot `version` are durable. Their bars' offsets
   * stop holding back the commit. A closed window with nothing newer leaves the book.
   */
  markDurable(windowKey: string, version: number, closed: boolean): void {
    const w = this.windows.get(windowKey);
    if (!w) return;
    if (version > w.durableVersion) w.durableVersion = version;
    for (const [k, marks] of w.pending) {
      const rest = marks.filter((m) => m.version > version);
      if (rest.length === 0) w.pending.delete(k);
      else w.pending.set(k, rest);
    }
    if (w.version <= w.durableVersion) {
      w.dirtySinceMs = null;
      if (closed) w.closedWritten = true;
    } else w.dirtySinceMs = w.firstAddAfterSnapshotMs;
    if (w.closedWritten && w.pending.size === 0) this.windows.delete(windowKey);
  }

  /** Offsets to commit (Kafka semantics: the next offset to read) per topic-partition seen. */
  safeCommitOffsets(): SourceOffset[] {
    const minPending = new Map<string, bigint>();
    for (const w of this.windows.values())
      for (const [k, marks] of w.pending)
        for (const m of marks) {
          const cur = minPending.get(k);
          if (cur === undefined || m.minOffset < cur) minPending.set(k, m.minOffset);
        }
    const out: SourceOffset[] = [];
    for (const [k, h] of this.highest)
      out.push({
        topic: h.topic,
        partition: h.partition,
        offset: (minPending.get(k) ?? h.offset + 1n).toString(),
      });
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /**
   * After a rebalance took a partition away: forget what was read from it. Windows
   * keep their rows (another member re-reads and rewrites the same keys).
   */
  forgetPartition(topic: string, partition: number): void {
    const k = tpKey(topic, partition);
    this.highest.delete(k);
    for (const w of this.windows.values()) w.pending.delete(k);
  }

  /** Windows held, rows held in them (latest + superseded), and those of windows with unwritten changes. */
  stats(): { windows: number; rows: number; dirtyWindows: number; dirtyRows: number } {
    let rows = 0;
    let dirtyWindows = 0;
    let dirtyRows = 0;
    for (const w of this.windows.values()) {
      const n = w.latest.size + w.superseded.size;
      rows += n;
      if (w.version > w.durableVersion) {
        dirtyWindows++;
        dirtyRows += n;
      }
    }
    return { windows: this.windows.size, rows, dirtyWindows, dirtyRows };
  }

  /**
   * Drops open windows that are fully durable and received no bar for `idleMs`
   * (memory bound for many series). A later bar makes the window new again
   * (`isNewWindow`), so its writer merges the stored object first. Returns how many left.
   */
  evictIdle(nowMs: number, idleMs: number): number {
    let n = 0;
    for (const [k, w] of this.windows)
      if (w.version <= w.durableVersion && w.pending.size === 0 && nowMs - w.lastAddMs >= idleMs) {
        this.windows.delete(k);
        if (!w.closedWritten) this.evictedOpen.set(k, w.window);
        n++;
      }
    return n;
  }

  /**
   * Under memory pressure: drops fully durable windows, the longest without a new bar first,
   * until at most `maxRows` rows are held (or none is left to drop). Each such window is read
   * back from its stored object before its next write; dropping every durable window instead
   * made a live windower past the bound (more than ~350 symbols of 1m bars late in the UTC
   * day) read every window back at every write. Returns how many left.
   */
  evictLeastRecent(maxRows: number): number {
    let rows = 0;
    const durable: [string, BookWindow][] = [];
    for (const [k, w] of this.windows) {
      rows += w.latest.size + w.superseded.size;
      if (w.version <= w.durableVersion && w.pending.size === 0) durable.push([k, w]);
    }
    if (rows <= maxRows) return 0;
    durable.sort((x, y) => x[1].lastAddMs - y[1].lastAddMs);
    let n = 0;
    for (const [k, w] of durable) {
      if (rows <= maxRows) break;
      this.windows.delete(k);
      if (!w.closedWritten) this.evictedOpen.set(k, w.window);
      rows -= w.latest.size + w.superseded.size;
      n++;
    }
    return n;
  }

  /** The series of every window held (for metrics and shutdown flushes). */
  windowKeys(): string[] {
    return [...this.windows.keys()];
  }

  seriesOf(windowKey: string): SeriesId | null {
    const w = this.windows.get(windowKey);
    return w ? { exchange: w.window.exchange, symbol: w.window.symbol, timeframe: w.window.timeframe } : null;
  }

  /** A window with no rows yet; its first write merges the stored object (storedMerged false). */
  private emptyWindow(id: WindowId, nowMs: number): BookWindow {
    const tfMs = timeframeMs(id.timeframe);
    return {
      window: id,
      endMs: windowEndMs(id),
      rows: new BarRows(this.texts),
      latest: new LatestSlots(id.startMs, tfMs, (windowEndMs(id) - id.startMs) / tfMs),
      superseded: new Map(),
      offsets: new Map(),
      raw: new Map(),
      rawKnown: true,
      lastRaw: undefined,
      pending: new Map(),
      version: 0,
      lastSnapshotVersion: 0,
      durableVersion: 0,
      dirtySinceMs: null,
      firstAddAfterSnapshotMs: null,
      closedWritten: false,
      storedMerged: false,
      lastAddMs: nowMs,
    };
  }

  private isClosedBy(w: BookWindow, watermarkMs: number): boolean {
    return watermarkMs >= w.endMs + this.latenessMs;
  }

  private merge(w: BookWindow, bar: AlignedBar): AddOutcome {
    const cur = w.latest.get(bar.eventTimeMs);
    if (cur === undefined) {
      w.latest.set(bar.eventTimeMs, w.rows.put(bar));
      return 'new';
    }
    const curRevision = w.rows.revision(cur);
    if (bar.revision === curRevision) return 'duplicate';
    if (bar.revision > curRevision) {
      if (this.keepRevisions) w.superseded.set(`${bar.eventTimeMs}|${curRevision}`, cur);
      else w.rows.release(cur);
      w.latest.set(bar.eventTimeMs, w.rows.put(bar));
      return 'replaced';
    }
    const id = `${bar.eventTimeMs}|${bar.revision}`;
    if (this.keepRevisions && !w.superseded.has(id)) {
      w.superseded.set(id, w.rows.put(bar));
      return 'stale';
    }
    return this.keepRevisions ? 'duplicate' : 'stale';
  }
}

/** Raises the window's raw positions to a bar's (or the stored window's); none makes them unknown. */
function noteRaw(w: BookWindow, positions: readonly RawPosition[] | null): void {
  if (positions === w.lastRaw) return;
  w.lastRaw = positions;
  if (positions === null) {
    w.rawKnown = false;
    return;
  }
  for (const p of positions) {
    const k = tpKey(p.topic, p.partition);
    const offset = BigInt(p.offset);
    const known = w.raw.get(k);
    if (!known) w.raw.set(k, { topic: p.topic, partition: p.partition, offset });
    else if (offset > known.offset) known.offset = offset;
  }
}
