import type { AlignedBar } from '@perpflow/contracts';
import { type WindowId, windowIdString, windowStartOf } from './keys.js';

/** Kafka offsets [fromOffset, toOffset] (inclusive) of one topic-partition that fed a window. */
export interface OffsetRange {
  topic: string;
  partition: number;
  fromOffset: string;
  toOffset: string;
}

export interface SourcePosition {
  topic: string;
  partition: number;
  offset: string;
}

export interface OpenWindow {
  id: WindowId;
  /** eventTimeMs → the bar with the highest revision seen for it. */
  rows: Map<number, AlignedBar>;
  /** Changed since the last durable write. */
  dirty: boolean;
  /** The existing S3 object was read and merged (needed once before the first write). */
  loaded: boolean;
  offsets: OffsetRange[];
  lastTouchedMs: number;
}

/**
 * Last revision wins per bar time; an equal revision (a re-delivery) replaces its own row.
 * Returns true when the row was taken.
 */
export function mergeBar(rows: Map<number, AlignedBar>, bar: AlignedBar): boolean {
  const cur = rows.get(bar.eventTimeMs);
  if (cur && cur.revision > bar.revision) return false;
  rows.set(bar.eventTimeMs, bar);
  return true;
}

export function mergeOffsetRanges(into: OffsetRange[], add: readonly OffsetRange[]): OffsetRange[] {
  for (const r of add) {
    const cur = into.find((x) => x.topic === r.topic && x.partition === r.partition);
    if (!cur) into.push({ ...r });
    else {
      if (BigInt(r.fromOffset) < BigInt(cur.fromOffset)) cur.fromOffset = r.fromOffset;
      if (BigInt(r.toOffset) > BigInt(cur.toOffset)) cur.toOffset = r.toOffset;
    }
  }
  return into.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Groups bars per (exchange, symbol, timeframe, UTC day). Pure: the caller passes `nowMs`. */
export class WindowBook {
  private readonly windows = new Map<string, OpenWindow>();

  get size(): number {
    return this.windows.size;
  }

  add(bar: AlignedBar, source: SourcePosition, nowMs: number): OpenWindow {
    const id: WindowId = {
      exchange: bar.exchange,
      symbol: bar.symbol,
      timeframe: bar.timeframe,
      windowStartMs: windowStartOf(bar.eventTimeMs),
    };
    const key = windowIdString(id);
    let w = this.windows.get(key);
    if (!w) {
      w = { id, rows: new Map(), dirty: false, loaded: false, offsets: [], lastTouchedMs: nowMs };
      this.windows.set(key, w);
    }
    mergeBar(w.rows, bar);
    // Dirty even when an older revision lost: its offset is in the window's ranges.
    w.dirty = true;
    w.lastTouchedMs = nowMs;
    mergeOffsetRanges(w.offsets, [
      {
        topic: source.topic,
        partition: source.partition,
        fromOffset: source.offset,
        toOffset: source.offset,
      },
    ]);
    return w;
  }

  dirtyWindows(): OpenWindow[] {
    return [...this.windows.values()].filter((w) => w.dirty);
  }

  bufferedRows(): number {
    let n = 0;
    for (const w of this.windows.values()) if (w.dirty) n += w.rows.size;
    return n;
  }

  /** Forgets clean windows untouched since `idleMs`: a later bar reloads the object from S3. */
  evictIdle(nowMs: number, idleMs: number): number {
    let n = 0;
    for (const [k, w] of this.windows)
      if (!w.dirty && nowMs - w.lastTouchedMs >= idleMs) {
        this.windows.delete(k);
        n++;
      }
    return n;
  }
}

/** The rows of a window in time order. */
export function sortedRows(rows: Map<number, AlignedBar>): AlignedBar[] {
  return [...rows.values()].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
}
