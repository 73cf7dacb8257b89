import { PerpflowError } from '@perpflow/contracts';
import { lstat, mkdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { AlignedBar, ExchangeId, Timeframe } from '@perpflow/contracts';
import {
  type BarGap,
  type CompactedManifest,
  checkCompactedManifest,
  checkRows,
  checkWindowManifest,
  DatasetMismatch,
  expectedWindow,
  localPathOfKey,
  compactedManifestKey,
  compactedMonthUsable,
  type Coverage,
  decodeParquetToBars,
  encodeBarsToParquet,
  encodeBarsToParquetStream,
  findBarGaps,
  type ObjectRef,
  ObjectIntegrityError,
  objectsToFetch,
  type PlannedWindow,
  planPull,
  type PullRequest,
  parseCompactedManifest,
  parseSeriesIndex,
  parseWindowManifest,
  type SeriesId,
  type SeriesIndex,
  selectRows,
  seriesToPull,
  type TimeRange,
  verifyObject,
  type WindowManifest,
  windowStartOf,
} from '@perpflow/dataset';
import { forEachPool, inOrderAhead } from '@perpflow/runtime';
import type { ObjectStore } from '../adapters/s3.js';

/** What `perpflow pull` asks for; the TypeScript form of its flags. */
export interface PullOptions {
  exchanges: readonly ExchangeId[];
  symbols: readonly string[];
  timeframe: Timeframe;
  /** Inclusive bar open time, ms UTC. */
  fromMs: number;
  /** Exclusive bar open time, ms UTC. */
  toMs: number;
  /** Point in time: only what was known then (per bar, the highest revision with known_at ≤ asOfMs). */
  asOfMs?: number;
  /** Folder the Parquet files are written to (created). */
  outDir: string;
  /** One file `merged.parquet` instead of one per window. Default false. */
  merge?: boolean;
  /** Dataset prefix in the bucket (S3_PREFIX of the windower). */
  prefix: string;
  /** Called after each window (progress bar, log lines). */
  onProgress?: (p: PullProgress) => void;
  /** Re-reads of a window whose object does not match its manifest (a write raced the read). Default 2. */
  integrityRetries?: number;
  /**
   * Read a compacted month (one object) instead of its day objects where it stands for
   * exactly the days the index lists. Default true; rows and gaps are the same either way.
   */
  useCompacted?: boolean;
  /**
   * Objects read at once: series indexes, compacted-month manifests, and windows or months
   * fetched ahead of the one being written (results are still taken in order, at most this
   * many held). Default 8. Each read is a round trip to S3 (tens of milliseconds for a
   * small object): one at a time, a month of 500 symbols' day windows is ~15,000 of them.
   */
  concurrency?: number;
}

/** PullOptions.concurrency when not given. */
export const PULL_CONCURRENCY = 8;

export interface PullProgress {
  windowsDone: number;
  windowsTotal: number;
  bytesDownloaded: number;
  /** The window just finished. */
  key: string;
}

/** One file written into outDir. */
export interface PulledFile {
  path: string;
  rows: number;
  /** The object(s) it came from, each verified against its manifest's sha256. */
  sources: { key: string; sha256: string }[];
}

export interface SeriesReport {
  exchange: ExchangeId;
  symbol: string;
  rows: number;
  /** No index for this series: nothing was ever written for it under the prefix. */
  indexFound: boolean;
  /** Whole windows in range the index does not list. */
  missingWindows: TimeRange[];
  /** Missing bar times inside the windows fetched. */
  gaps: BarGap[];
  /** As-of only: bars that exist now but were not known at asOf. */
  notYetKnown: number;
  /** As-of only: rows returned in an older revision than the latest. */
  olderRevisions: number;
}

export interface PullReport {
  request: Omit<PullOptions, 'onProgress' | 'outDir'> & { outDir: string };
  files: PulledFile[];
  series: SeriesReport[];
  rows: number;
  bytesDownloaded: number;
  objectsVerified: number;
  /** Months read from their compacted object instead of their day objects. */
  compactedMonths: number;
}

/** The request cannot be served as asked; the message says what to change. Not retriable. */
export class PullError extends PerpflowError {
  readonly code: string;
  readonly retriable = false;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
  }
}

/**
 * Pulls aligned bars from the dataset: series index → manifests → objects, each
 * verified against its manifest's sha256 (a mismatch is re-read, then fails), rows
 * selected by range and as-of, gaps reported, Parquet written to outDir.
 */
/** What one fetch gives the select-and-write step: a compacted month, or one window. */
interface FetchedUnit {
  compacted: boolean;
  latest: AlignedBar[];
  superseded: AlignedBar[];
  /** The latest object's bytes, written as they are when every row is selected. */
  latestBytes: Uint8Array;
  bytes: number;
  objectsVerified: number;
  sources: PulledFile['sources'];
  /** The object whose local path the rows are written under. */
  objectKey: string;
  coverage: Coverage[];
  /** Planned windows it stands for. */
  windows: number;
}

/** A task's fetch: verified bytes, decoded by the reader in its turn (so at most `concurrency` held undecoded). */
type FetchedBytes =
  | { compacted: true; month: CompactedManifest; object: Uint8Array; bytes: number; group: MonthGroup }
  | { compacted: false; window: PlannedWindow; fetched: FetchedWindowBytes };

/** A fetched unit decoded and checked: what the select-and-write step takes. */
function decodeUnit(series: SeriesId, index: SeriesIndex | null, f: FetchedBytes): FetchedUnit {
  if (f.compacted) {
    const latest = decodeParquetToBars(f.object);
    checkRows(f.month.object.key, latest, {
      series,
      startMs: f.month.month.startMs,
      endMs: f.month.month.endMs,
      rowCount: f.month.object.rowCount,
    });
    return {
      compacted: true,
      latest,
      superseded: [],
      latestBytes: f.object,
      bytes: f.bytes,
      objectsVerified: 1,
      sources: [{ key: f.month.object.key, sha256: f.month.object.sha256 }],
      objectKey: f.month.object.key,
      coverage: f.group.windows.map((w) => ({
        startMs: w.startMs,
        endMs: w.endMs,
        closed: w.closed,
        maxTsMs: index?.windows.find((x) => x.startMs === w.startMs)?.maxTsMs ?? null,
      })),
      windows: f.group.windows.length,
    };
  }
  const got = decodeWindow(series, f.window, f.fetched);
  return {
    compacted: false,
    latest: got.latest,
    superseded: got.superseded,
    latestBytes: got.latestBytes,
    bytes: got.bytes,
    objectsVerified: got.sources.length,
    sources: got.sources,
    objectKey: f.window.objectKey,
    coverage: [
      {
        startMs: f.window.startMs,
        endMs: f.window.endMs,
        closed: got.manifest.closed,
        maxTsMs: got.manifest.maxTsMs,
      },
    ],
    windows: 1,
  };
}

/** One fetch of the plan, in the order its results are written: a compacted month, or windows. */
interface FetchTask {
  plan: number;
  run: () => Promise<FetchedBytes[]>;
}

/**
 * The plan's fetches in order: per month group of a day-window series, its compacted month
 * when `months` chose it (one object for the group's windows; if that object turns out
 * missing or not matching its manifest, the group's windows instead), else each window.
 */
function fetchTasks(
  store: ObjectStore,
  o: PullOptions,
  plans: ReturnType<typeof planPull>,
  groups: readonly (readonly MonthGroup[])[],
  months: ReadonlyMap<MonthGroup, MonthChoice>,
): FetchTask[] {
  const tasks: FetchTask[] = [];
  const windowBytes = async (series: SeriesId, w: PlannedWindow): Promise<FetchedBytes> => ({
    compacted: false,
    window: w,
    fetched: await fetchWindowBytes(store, o.prefix, series, w, o.asOfMs, o.integrityRetries ?? 2),
  });
  plans.forEach((plan, i) => {
    for (const group of groups[i] ?? []) {
      const month = months.get(group);
      if (month)
        tasks.push({
          plan: i,
          run: async () => {
            const object = await compactedMonthObject(store, month.manifest);
            if (object)
              return [
                {
                  compacted: true,
                  month: month.manifest,
                  object,
                  bytes: month.bytes + object.byteLength,
                  group,
                },
              ];
            const out: FetchedBytes[] = [];
            for (const w of group.windows) out.push(await windowBytes(plan.series, w));
            return out;
          },
        });
      else
        for (const w of group.windows)
          tasks.push({ plan: i, run: async () => [await windowBytes(plan.series, w)] });
    }
  });
  return tasks;
}

export async function pullDataset(store: ObjectStore, o: PullOptions): Promise<PullReport> {
  const request: PullRequest = {
    exchanges: o.exchanges,
    symbols: o.symbols,
    timeframe: o.timeframe,
    fromMs: o.fromMs,
    toMs: o.toMs,
    ...(o.asOfMs === undefined ? {} : { asOfMs: o.asOfMs }),
  };
  const concurrency = o.concurrency ?? PULL_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new PullError('CONCURRENCY', `concurrency must be a positive integer, got ${concurrency}`);
  const indexes = new Map<string, SeriesIndex | null>();
  const wanted = seriesToPull(o.prefix, request);
  const read = new Map<string, SeriesIndex | null>();
  await forEachPool(wanted, concurrency, async ({ indexKey }) => {
    const raw = await store.get(indexKey);
    read.set(indexKey, raw === null ? null : parseSeriesIndex(raw));
  });
  for (const { indexKey } of wanted) indexes.set(indexKey, read.get(indexKey) ?? null);
  const plans = planPull(o.prefix, request, indexes);
  // Which month groups read their compacted object: their manifests, read at once.
  const groups = plans.map((plan) => monthGroups(plan.windows, indexes.get(plan.indexKey) ?? null));
  const months = new Map<MonthGroup, MonthChoice>();
  if (o.useCompacted !== false) {
    const candidates = plans.flatMap((plan, i) => {
      const index = indexes.get(plan.indexKey) ?? null;
      return index ? (groups[i] ?? []).map((group) => ({ plan, index, group })) : [];
    });
    await forEachPool(candidates, concurrency, async ({ plan, index, group }) => {
      const choice = await compactedMonthChoice(
        store,
        o.prefix,
        plan.series,
        index,
        group.monthStartMs,
        o.asOfMs,
      );
      if (choice) months.set(group, choice);
    });
  }
  const fetches = inOrderAhead(
    fetchTasks(store, o, plans, groups, months).map((t) => async () => ({
      plan: t.plan,
      units: await t.run(),
    })),
    concurrency,
  )[Symbol.asyncIterator]();
  const windowsTotal = plans.reduce((n, p) => n + p.windows.length, 0);
  await mkdir(o.outDir, { recursive: true });

  const report: PullReport = {
    request: { ...o, outDir: o.outDir },
    files: [],
    series: [],
    rows: 0,
    bytesDownloaded: 0,
    objectsVerified: 0,
    compactedMonths: 0,
  };
  delete (report.request as { onProgress?: unknown }).onProgress;
  const merged: AlignedBar[] = [];
  const mergedSources: PulledFile['sources'] = [];
  let windowsDone = 0;
  let pending: { plan: number; units: FetchedBytes[] } | null = null;
  /** The next fetched units of plan `i`, in order; null once its units are all taken. */
  const nextOf = async (i: number): Promise<FetchedBytes[] | null> => {
    if (pending === null) {
      const r = await fetches.next();
      if (r.done) return null;
      pending = r.value;
    }
    if (pending.plan !== i) return null;
    const { units } = pending;
    pending = null;
    return units;
  };
  for (const [planIndex, plan] of plans.entries()) {
    const seriesRows: AlignedBar[] = [];
    const coverage: Coverage[] = [];
    const s: SeriesReport = {
      exchange: plan.series.exchange,
      symbol: plan.series.symbol,
      rows: 0,
      indexFound: plan.indexFound,
      missingWindows: plan.missingWindows,
      gaps: [],
      notYetKnown: 0,
      olderRevisions: 0,
    };
    const index = indexes.get(plan.indexKey) ?? null;
    const range = {
      fromMs: o.fromMs,
      toMs: o.toMs,
      ...(o.asOfMs === undefined ? {} : { asOfMs: o.asOfMs }),
    };
    for (let fetched = await nextOf(planIndex); fetched !== null; fetched = await nextOf(planIndex))
      for (const unit of fetched.map((f) => decodeUnit(plan.series, index, f))) {
        // One step for a compacted month and for a window: select, count, write, report.
        if (unit.compacted) report.compactedMonths++;
        report.bytesDownloaded += unit.bytes;
        report.objectsVerified += unit.objectsVerified;
        const sel = selectRows(unit.latest, unit.superseded, range);
        s.notYetKnown += sel.notYetKnown;
        s.olderRevisions += sel.olderRevisions;
        seriesRows.push(...sel.rows);
        coverage.push(...unit.coverage);
        if (o.merge) {
          merged.push(...sel.rows);
          mergedSources.push(...unit.sources);
        } else if (sel.rows.length > 0) {
          const unchanged = sel.rows.length === unit.latest.length && sel.olderRevisions === 0;
          const path = localFile(o.outDir, o.prefix, unit.objectKey);
          await writeAtomically(o.outDir, path, unchanged ? unit.latestBytes : encodeBarsToParquet(sel.rows));
          report.files.push({ path, rows: sel.rows.length, sources: unit.sources });
        }
        windowsDone += unit.windows;
        o.onProgress?.({
          windowsDone,
          windowsTotal,
          bytesDownloaded: report.bytesDownloaded,
          key: unit.objectKey,
        });
      }
    s.rows = seriesRows.length;
    s.gaps = findBarGaps(
      seriesRows.sort((a, b) => a.eventTimeMs - b.eventTimeMs),
      o.timeframe,
      o.fromMs,
      o.toMs,
      coverage,
    );
    report.rows += s.rows;
    report.series.push(s);
  }
  if (o.merge && merged.length > 0) {
    const path = join(o.outDir, 'merged.parquet');
    // Streamed one row group at a time: a merged pull can be millions of rows, and
    // the writer's wasm memory would otherwise grow to the whole file for good.
    await writeAtomically(o.outDir, path, await encodeBarsToParquetStream(merged));
    report.files.push({ path, rows: merged.length, sources: mergedSources });
  }
  await writeAtomically(
    o.outDir,
    join(o.outDir, '_pull.json'),
    new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`),
  );
  return report;
}

interface FetchedWindowBytes {
  manifest: WindowManifest;
  latestBytes: Uint8Array;
  revBytes: Uint8Array | null;
  refs: ReturnType<typeof objectsToFetch>;
  bytes: number;
}

interface FetchedWindow {
  manifest: WindowManifest;
  latest: AlignedBar[];
  latestBytes: Uint8Array;
  superseded: AlignedBar[];
  sources: { key: string; sha256: string }[];
  bytes: number;
}

/**
 * Manifest, then its objects, verified. A mismatch usually means the windower
 * rewrote the window between our two GETs: read the manifest again; a mismatch
 * that persists is corruption and fails the pull. A manifest that describes another
 * window or names other keys fails at once (DatasetMismatch): no rewrite by the
 * windower looks like that.
 */
async function fetchWindowBytes(
  store: ObjectStore,
  prefix: string,
  series: SeriesId,
  w: PlannedWindow,
  asOfMs: number | undefined,
  retries: number,
): Promise<FetchedWindowBytes> {
  for (let attempt = 0; ; attempt++) {
    try {
      const rawManifest = await store.get(w.manifestKey);
      if (rawManifest === null)
        throw new PullError(
          'MANIFEST_MISSING',
          `${w.manifestKey} is listed in the series index but missing: the dataset was partly deleted; ` +
            'rebuild the index (rebuildSeriesIndex) or pull a range without that window',
        );
      const manifest = parseWindowManifest(rawManifest);
      const expected = expectedWindow(series, w.unit, w.startMs);
      checkWindowManifest(prefix, w.manifestKey, expected, manifest);
      const refs = objectsToFetch(manifest, asOfMs);
      const latestBytes = await getVerified(store, refs.latest);
      const revBytes = refs.revisions ? await getVerified(store, refs.revisions) : null;
      return {
        manifest,
        latestBytes,
        revBytes,
        refs,
        bytes: rawManifest.byteLength + latestBytes.byteLength + (revBytes?.byteLength ?? 0),
      };
    } catch (err) {
      if (err instanceof ObjectIntegrityError && attempt < retries) continue;
      if (err instanceof ObjectIntegrityError)
        throw new PullError(
          'INTEGRITY',
          `${err.message} (after ${retries + 1} reads). The object does not match its manifest: ` +
            'if the windower is writing this window, pull again in a minute; if it persists the object ' +
            'is corrupt: restart the windower from an earlier offset to rewrite it',
          { cause: err },
        );
      throw err;
    }
  }
}

/** The window's rows, checked against its manifest: rows of another series or time fail (DatasetMismatch). */
function decodeWindow(series: SeriesId, w: PlannedWindow, f: FetchedWindowBytes): FetchedWindow {
  const { refs } = f;
  const expected = expectedWindow(series, w.unit, w.startMs);
  const latest = decodeParquetToBars(f.latestBytes);
  const superseded = f.revBytes ? decodeParquetToBars(f.revBytes) : [];
  checkRows(refs.latest.key, latest, { series, ...expected, rowCount: refs.latest.rowCount });
  if (refs.revisions)
    checkRows(refs.revisions.key, superseded, { series, ...expected, rowCount: refs.revisions.rowCount });
  const sources = [refs.latest, ...(refs.revisions ? [refs.revisions] : [])].map((r) => ({
    key: r.key,
    sha256: r.sha256,
  }));
  return { manifest: f.manifest, latest, latestBytes: f.latestBytes, superseded, sources, bytes: f.bytes };
}

async function getVerified(store: ObjectStore, ref: ObjectRef): Promise<Uint8Array> {
  const bytes = await store.get(ref.key);
  if (bytes === null)
    throw new ObjectIntegrityError(`${ref.key}: missing, manifest says ${ref.bytes} bytes`, ref.key);
  verifyObject(bytes, ref);
  return bytes;
}

/**
 * Where an object is written: its path below the dataset's tree (Hive partitions kept,
 * so readers see them), resolved inside outDir and checked to stay there.
 */
function localFile(outDir: string, prefix: string, key: string): string {
  const root = resolve(outDir);
  const path = resolve(root, ...localPathOfKey(prefix, key).split('/'));
  const rel = relative(root, path);
  if (rel === '' || isAbsolute(rel) || rel.split(/[\\/]/)[0] === '..')
    throw new DatasetMismatch(key, 'local path', `inside ${root}`, path);
  return path;
}

interface MonthGroup {
  monthStartMs: number;
  windows: PlannedWindow[];
}

/** Planned windows by UTC month (day-window series); other units: one group per window, never compacted. */
function monthGroups(windows: readonly PlannedWindow[], index: SeriesIndex | null): MonthGroup[] {
  const groups: MonthGroup[] = [];
  for (const w of windows) {
    const monthStartMs = index?.unit === 'day' ? windowStartOf(w.startMs, 'month') : Number.NaN;
    const last = groups[groups.length - 1];
    if (last && last.monthStartMs === monthStartMs) last.windows.push(w);
    else groups.push({ monthStartMs, windows: [w] });
  }
  return groups;
}

/** A compacted month chosen to be read instead of its days: its manifest (checked) and that manifest's size. */
interface MonthChoice {
  manifest: CompactedManifest;
  bytes: number;
}

/**
 * The compacted month's manifest, when it stands for exactly the days the index lists
 * (and the read needs no revisions); otherwise null and the caller reads the days (the
 * day objects are the source of truth; a crash or a recompaction racing us leaves a stale
 * or missing month). A manifest that names another series, month or object key is no
 * such accident: DatasetMismatch.
 */
async function compactedMonthChoice(
  store: ObjectStore,
  prefix: string,
  series: SeriesId,
  index: SeriesIndex,
  monthStartMs: number,
  asOfMs: number | undefined,
): Promise<MonthChoice | null> {
  if (index.unit !== 'day' || !Number.isFinite(monthStartMs)) return null;
  const manifestKey = compactedManifestKey(prefix, series, monthStartMs);
  const raw = await store.get(manifestKey);
  if (raw === null) return null;
  let manifest: CompactedManifest;
  try {
    manifest = parseCompactedManifest(raw);
  } catch {
    return null;
  }
  checkCompactedManifest(prefix, manifestKey, series, monthStartMs, manifest);
  if (!compactedMonthUsable(index, manifest, asOfMs)) return null;
  return { manifest, bytes: raw.byteLength };
}

/**
 * The compacted month's object when its bytes match its manifest; null when it is missing
 * or does not match (a crash between object and manifest, or a rewrite racing us): the
 * caller reads the days. Its rows are checked when decoded (decodeUnit).
 */
async function compactedMonthObject(
  store: ObjectStore,
  manifest: CompactedManifest,
): Promise<Uint8Array | null> {
  const bytes = await store.get(manifest.object.key);
  if (bytes === null) return null;
  try {
    verifyObject(bytes, manifest.object);
  } catch (err) {
    if (err instanceof ObjectIntegrityError) return null;
    throw err;
  }
  return bytes;
}

async function pathExists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `path` (already checked to lie under `outDir` by name) through a temporary file.
 * A name inside --out can still lead outside through a symbolic link a folder of it is
 * (a shared or reused --out): the folder's real path must lie under --out's, and the
 * temporary file is created exclusively ('wx' does not follow a link planted at its name).
 * The final rename replaces a link at `path` itself, never its target.
 */
async function writeAtomically(
  outDir: string,
  path: string,
  bytes: Uint8Array | AsyncIterable<Uint8Array>,
): Promise<void> {
  const dir = dirname(path);
  await mkdir(outDir, { recursive: true });
  const realOut = await realpath(outDir);
  const confined = async (existing: string) => {
    const real = await realpath(existing);
    const rel = relative(realOut, real);
    if (isAbsolute(rel) || rel.split(/[\\/]/)[0] === '..')
      throw new PullError(
        'LOCAL_PATH',
        `${existing} resolves to ${real}, outside --out (${realOut}): a symbolic link inside --out leads out of ` +
          'it; remove the link or pull into a fresh folder',
      );
  };
  // Before creating anything: the deepest folder that exists already must be inside,
  // or mkdir would create folders through the link.
  let existing = dir;
  while (!(await pathExists(existing))) existing = dirname(existing);
  await confined(existing);
  await mkdir(dir, { recursive: true });
  await confined(dir);
  const tmp = `${path}.tmp-${process.pid}`;
  await rm(tmp, { force: true }); // a leftover of a killed pull (rm removes a link, not its target)
  await writeFile(tmp, bytes, { flag: 'wx' });
  await rename(tmp, path);
}

/** Summary lines for people: rows, files, gaps, and what to do about them. */
export function describeReport(r: PullReport): string[] {
  const lines = [
    `pulled ${r.rows} rows into ${r.files.length} file(s) under ${r.request.outDir} ` +
      `(${r.objectsVerified} objects, ${r.bytesDownloaded} bytes, every sha256 verified` +
      `${r.compactedMonths > 0 ? `; ${r.compactedMonths} month(s) from their compacted object` : ''})`,
  ];
  for (const s of r.series) {
    const id = `${s.exchange} ${s.symbol} ${r.request.timeframe}`;
    if (!s.indexFound) {
      lines.push(
        `${id}: no data under prefix '${r.request.prefix}' — check --exchange/--symbol/--timeframe and S3_PREFIX, ` +
          'or that the windower has consumed this series',
      );
      continue;
    }
    const missingBars = s.gaps.reduce((n, g) => n + g.missingBars, 0);
    lines.push(
      `${id}: ${s.rows} rows; ${s.missingWindows.length} missing window(s), ${s.gaps.length} gap(s) (${missingBars} bars)` +
        (r.request.asOfMs === undefined
          ? ''
          : `; as of ${new Date(r.request.asOfMs).toISOString()}: ${s.notYetKnown} not yet known, ${s.olderRevisions} in an older revision`),
    );
    for (const m of s.missingWindows.slice(0, 5))
      lines.push(`  missing window ${iso(m.startMs)} .. ${iso(m.endMs)}`);
    for (const g of s.gaps.slice(0, 5))
      lines.push(`  gap ${iso(g.startMs)} .. ${iso(g.endMs)} (${g.missingBars} bars)`);
    if (s.gaps.length + s.missingWindows.length > 10) lines.push('  … (all gaps in _pull.json)');
  }
  return lines;
}

const iso = (ms: number) => new Date(ms).toISOString();
