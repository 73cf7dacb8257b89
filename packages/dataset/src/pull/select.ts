import { type AlignedBar, PerpflowError, type Timeframe, timeframeMs } from '@perpflow/contracts';
import { sha256Hex } from '../hash.js';
import type { ObjectRef } from '../manifest/schemas.js';
import type { TimeRange } from './plan.js';

/**
 * The downloaded bytes are not the object the manifest describes: a write raced the
 * read (object replaced, manifest not yet) or the object is corrupt. Retriable: read
 * the manifest and object again; persistent mismatch means corruption.
 */
export class ObjectIntegrityError extends PerpflowError {
  readonly code = 'OBJECT_INTEGRITY';
  readonly retriable = true;
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
  }
}

/** Step 4: checks downloaded bytes against the manifest's size and sha256. */
export function verifyObject(bytes: Uint8Array, ref: ObjectRef): void {
  if (bytes.byteLength !== ref.bytes)
    throw new ObjectIntegrityError(
      `${ref.key}: ${bytes.byteLength} bytes, manifest says ${ref.bytes}`,
      ref.key,
    );
  const sha = sha256Hex(bytes);
  if (sha !== ref.sha256)
    throw new ObjectIntegrityError(`${ref.key}: sha256 ${sha}, manifest says ${ref.sha256}`, ref.key);
}

export interface RowSelection {
  fromMs: number;
  toMs: number;
  asOfMs?: number;
}

export interface SelectedRows {
  /** One row per bar time in [fromMs, toMs), sorted by time. */
  rows: AlignedBar[];
  /** Bars in range that exist now but had no revision with known_at ≤ asOf (not known yet then). */
  notYetKnown: number;
  /** Rows whose as-of revision is older than the latest stored one. */
  olderRevisions: number;
}

/**
 * Step 5: rows of one window in [fromMs, toMs). Without asOf: the latest rows. With
 * asOf: per bar time, the highest revision with known_at ≤ asOf among the latest and
 * superseded rows. Exact when `superseded` holds every revision the windower
 * received (the revisions object); with latest rows only, a bar whose last revision
 * is newer than asOf is left out rather than shown in its older form.
 */
export function selectRows(
  latest: readonly AlignedBar[],
  superseded: readonly AlignedBar[],
  sel: RowSelection,
): SelectedRows {
  const inRange = (b: AlignedBar) => b.eventTimeMs >= sel.fromMs && b.eventTimeMs < sel.toMs;
  if (sel.asOfMs === undefined) {
    const rows = latest.filter(inRange).sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    return { rows, notYetKnown: 0, olderRevisions: 0 };
  }
  const asOf = sel.asOfMs;
  const latestRevision = new Map<number, number>();
  for (const b of latest) if (inRange(b)) latestRevision.set(b.eventTimeMs, b.revision);
  const best = new Map<number, AlignedBar>();
  for (const b of [...latest, ...superseded]) {
    if (!inRange(b) || b.knownAtMs > asOf) continue;
    const cur = best.get(b.eventTimeMs);
    if (!cur || b.revision > cur.revision) best.set(b.eventTimeMs, b);
  }
  const rows = [...best.values()].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
  let olderRevisions = 0;
  for (const r of rows) if (r.revision !== latestRevision.get(r.eventTimeMs)) olderRevisions++;
  let notYetKnown = 0;
  for (const t of latestRevision.keys()) if (!best.has(t)) notYetKnown++;
  return { rows, notYetKnown, olderRevisions };
}

export interface Coverage extends TimeRange {
  /** Closed windows are complete: every bar time in them should have a row. */
  closed: boolean;
  /** For an open window, bars after its last row are not written yet, not missing. */
  maxTsMs: number | null;
}

export interface BarGap extends TimeRange {
  /** Bar open times missing in [startMs, endMs). */
  missingBars: number;
}

/**
 * Step 6: missing bar times inside what the fetched windows cover, clipped to
 * [fromMs, toMs), as ranges. A closed window covers up to its end; an open one up to
 * its last row. (Missing windows are reported by planPull.) Rows must be sorted.
 */
export function findBarGaps(
  rows: readonly AlignedBar[],
  timeframe: Timeframe,
  fromMs: number,
  toMs: number,
  coverage: readonly Coverage[],
): BarGap[] {
  const step = timeframeMs(timeframe);
  const have = new Set(rows.map((r) => r.eventTimeMs));
  const gaps: BarGap[] = [];
  for (const c of [...coverage].sort((a, b) => a.startMs - b.startMs)) {
    const end = Math.min(toMs, c.closed ? c.endMs : c.maxTsMs === null ? c.startMs : c.maxTsMs + step);
    const first = Math.max(fromMs, c.startMs);
    let t = Math.ceil(first / step) * step;
    for (; t < end; t += step) {
      if (have.has(t)) continue;
      const last = gaps[gaps.length - 1];
      if (last && last.endMs === t) {
        last.endMs = t + step;
        last.missingBars++;
      } else gaps.push({ startMs: t, endMs: t + step, missingBars: 1 });
    }
  }
  return gaps;
}
