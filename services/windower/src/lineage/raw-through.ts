import type { ArchiveGet } from '@perpflow/archive';
import { type ExchangeId, type RawPosition, formatRawThrough } from '@perpflow/contracts';
import {
  checkWindowManifest,
  DEFAULT_WINDOW_POLICY,
  expectedWindow,
  manifestKey,
  parseSeriesIndex,
  parseWindowManifest,
  seriesIndexKey,
  windowStartOf,
} from '@perpflow/dataset';
import { type BarLineage, type Chosen, liquidationIdentity, type RowOrigin } from './select.js';
import type { TraceRequest } from './trace.js';

/**
 * The aligned window holding a traced bar, and the check of the bar's deciding raw records
 * against the window's `rawThrough` (README, "Lineage"): every record that decided a bar
 * the windower wrote was applied by the aligner, so it lies below the position the window
 * names for its topic-partition. One that does not means the raw archive holds a deciding
 * record the dataset's window was not made from. Pure but for `get`.
 */

/** Exit code of `perpflow lineage` when a deciding record is not below the window's rawThrough. */
export const RAW_THROUGH_EXIT_CODE = 4;

/** What the window's manifest says about its inputs. */
export interface BarWindowManifest {
  /** The rows' dataset version (`datasetVersion`); null when written before versions existed. */
  datasetVersion: string | null;
  closed: boolean;
  writtenAtMs: number;
  /** Null when the manifest names none (a bar of an older aligner, or a rebuilt window). */
  rawThrough: RawPosition[] | null;
  /** How many archive objects a rebuilt window names (`rawInputs`); null on live windows. */
  rawInputs: number | null;
}

export interface BarWindow {
  /** The tree read: the live tree's prefix, or a version's own (`<prefix>/versions/<id>`). */
  tree: string;
  /** The layout's manifest key of the window holding the bar. */
  manifestKey: string;
  /** Null: no manifest at that key (the window was never written in this tree). */
  manifest: BarWindowManifest | null;
}

/**
 * Reads the manifest of the window holding the bar from the tree under `tree`. The window's
 * unit comes from the series index (readers never trust the policy table), or the default
 * policy when the series has no index yet. A manifest that describes another window or
 * names other keys throws DatasetMismatch, as in `perpflow pull`.
 */
export async function readBarWindow(
  get: ArchiveGet,
  tree: string,
  request: TraceRequest,
): Promise<BarWindow> {
  const series = {
    exchange: request.exchange as ExchangeId,
    symbol: request.symbol,
    timeframe: request.timeframe,
  };
  const rawIndex = await get(seriesIndexKey(tree, series));
  const unit = rawIndex === null ? DEFAULT_WINDOW_POLICY[series.timeframe] : parseSeriesIndex(rawIndex).unit;
  const expected = expectedWindow(series, unit, windowStartOf(request.tsMs, unit));
  const key = manifestKey(tree, expected);
  const raw = await get(key);
  if (raw === null) return { tree, manifestKey: key, manifest: null };
  const m = parseWindowManifest(raw);
  checkWindowManifest(tree, key, expected, m);
  return {
    tree,
    manifestKey: key,
    manifest: {
      datasetVersion: m.datasetVersion ?? null,
      closed: m.closed,
      writtenAtMs: m.writtenAtMs,
      rawThrough: m.rawThrough ?? null,
      rawInputs: m.rawInputs?.length ?? null,
    },
  };
}

/** One printed record against the window's rawThrough. */
export interface RecordAgainstRawThrough {
  feed: string;
  topic: string;
  partition: number;
  offset: string;
  kept: boolean;
  /** The window's rawThrough offset for the record's topic-partition; null when it names none. */
  rawThrough: string | null;
  /** offset < rawThrough: the aligner had applied the record when it emitted the window's latest bar. */
  below: boolean;
}

/** A deciding record none of whose copies lies below the window's rawThrough. */
export interface RawThroughFinding {
  feed: string;
  /** The copy the engine keeps. */
  record: { topic: string; partition: number; offset: string; objectKey: string };
  /** The window's position for that topic-partition; null when rawThrough does not name it. */
  rawThrough: string | null;
  copies: number;
}

export interface RawThroughCheck {
  /** no-manifest: no window; not-recorded: the manifest names no rawThrough; checked: see records. */
  status: 'no-manifest' | 'not-recorded' | 'checked';
  records: RecordAgainstRawThrough[];
  findings: RawThroughFinding[];
}

const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

/**
 * Every record of the lineage against the window's rawThrough. A deciding content (one
 * candle, one open interest, one settlement, one prediction, one liquidation) is a finding
 * when none of its copies lies below: the engine needs one copy, so a re-delivery received
 * after the window's latest bar is no disagreement while an earlier copy was applied.
 */
export function checkRawThrough(lineage: BarLineage, window: BarWindow): RawThroughCheck {
  const rawThrough = window.manifest?.rawThrough;
  if (!window.manifest) return { status: 'no-manifest', records: [], findings: [] };
  if (!rawThrough) return { status: 'not-recorded', records: [], findings: [] };
  const through = new Map(rawThrough.map((p) => [partitionKey(p.topic, p.partition), p.offset]));
  const records: RecordAgainstRawThrough[] = [];
  const findings: RawThroughFinding[] = [];
  const groups: [string, Chosen[]][] = [
    ['ohlcv', lineage.ohlcv],
    ['open_interest', lineage.openInterest],
    ['funding settled', lineage.fundingSettled],
    ['funding previous', lineage.fundingPrevious],
    ['funding predicted', lineage.fundingPredicted],
    ['mark and index', lineage.markIndex],
    ...[...groupBy(lineage.liquidations, (x) => liquidationIdentity(x.input.record)).values()].map(
      (g): [string, Chosen[]] => ['liquidation', g],
    ),
  ];
  for (const [feed, copies] of groups) {
    if (copies.length === 0) continue;
    const checked = copies.map((x) => {
      const o = x.input.origin;
      const at = through.get(partitionKey(o.topic, o.partition)) ?? null;
      const r: RecordAgainstRawThrough = {
        feed,
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        kept: x.kept,
        rawThrough: at,
        below: at !== null && BigInt(o.offset) < BigInt(at),
      };
      records.push(r);
      return r;
    });
    if (checked.some((r) => r.below)) continue;
    const kept = copies.find((x) => x.kept) ?? copies[0]!;
    const o = kept.input.origin;
    findings.push({
      feed,
      record: { topic: o.topic, partition: o.partition, offset: o.offset, objectKey: o.objectKey },
      rawThrough: through.get(partitionKey(o.topic, o.partition)) ?? null,
      copies: copies.length,
    });
  }
  return { status: 'checked', records, findings };
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}

/** The suffix of a record's line: where it stands against the window's rawThrough ('' when unchecked). */
export function rawThroughMark(check: RawThroughCheck): (o: RowOrigin) => string {
  const byPlace = new Map(check.records.map((r) => [`${r.topic}/${r.partition}@${r.offset}`, r]));
  return (o) => {
    const r = byPlace.get(`${o.topic}/${o.partition}@${o.offset}`);
    if (!r) return '';
    if (r.rawThrough === null) return `; raw through names no ${partitionKey(r.topic, r.partition)}`;
    return r.below ? `; below raw through ${r.rawThrough}` : `; NOT below raw through ${r.rawThrough}`;
  };
}

/** The window line: its manifest, version and rawThrough. */
export function describeBarWindow(w: BarWindow): string {
  const m = w.manifest;
  if (m === null) return `window ${w.manifestKey}: no window manifest (the windower has not written it here)`;
  const head = `window ${w.manifestKey}: version ${m.datasetVersion ?? 'none (written before dataset versions)'}, ${m.closed ? 'closed' : 'open'}`;
  if (m.rawThrough !== null)
    return `${head}, raw through ${m.rawThrough.map((p) => formatRawThrough([p])).join(', ')}`;
  return m.rawInputs !== null
    ? `${head}, raw through: not recorded (a rebuilt window: it names its ${m.rawInputs} archive objects, rawInputs)`
    : `${head}, raw through: not recorded (window written by an older aligner)`;
}

/** The closing lines of the check: the verdict, then one line per finding. */
export function describeRawThroughCheck(check: RawThroughCheck, window: BarWindow): string[] {
  if (check.status !== 'checked') return [];
  if (check.findings.length === 0)
    return [
      `raw through: all ${check.records.length} records above lie below the window's rawThrough (the aligner had applied them)`,
    ];
  return [
    `raw through: ${check.findings.length} deciding record(s) not below the window's rawThrough: the raw archive ` +
      `and the dataset disagree (exit ${RAW_THROUGH_EXIT_CODE})` +
      (window.manifest?.closed === false
        ? '; the window is open: bars the aligner made since its last write are not in it yet'
        : ''),
    ...check.findings.map(
      (f) =>
        `    FINDING ${f.feed} ${f.record.topic}/${f.record.partition}@${f.record.offset} in ${f.record.objectKey}` +
        (f.rawThrough === null
          ? `: rawThrough names no ${partitionKey(f.record.topic, f.record.partition)}`
          : `: at or above raw through ${f.rawThrough}`) +
        (f.copies > 1 ? ` (and its ${f.copies - 1} other copies)` : ''),
    ),
  ];
}
