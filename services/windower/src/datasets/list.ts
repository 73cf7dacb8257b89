/** `perpflow datasets`: the dataset versions under a prefix, each with its config, span and rows. */
import {
  liveVersionKey,
  normalizePrefix,
  parseLiveVersion,
  VERSION_ID,
  type VersionDescriptor,
  versionDescriptorKey,
  versionPrefix,
  versionsFolder,
} from '@perpflow/dataset';
import { forEachPool } from '@perpflow/runtime';
import { CompactionStore, READS_AT_ONCE } from '../adapters/compaction-store.js';
import type { FolderLister, ObjectStore } from '../adapters/s3.js';
import { PullError } from '../pull/pull.js';

export interface TreeStats {
  /** `<tree prefix>/aligned/v1/`. */
  tree: string;
  series: number;
  rows: number;
  /** Bar open times of the first and last row over every series; null when the tree is empty. */
  minTsMs: number | null;
  maxTsMs: number | null;
}

export interface DatasetVersionInfo {
  /** A version id, or null for the live tree written before versions existed (no pin). */
  id: string | null;
  live: boolean;
  pinnedAtMs: number | null;
  /** Null when the descriptor is not on S3 (the aligner writes it at start; see its log). */
  descriptor: VersionDescriptor | null;
  stats: TreeStats;
}

/**
 * The live tree (`<prefix>/aligned/v1`, its version from `versions/live.json`) first, then
 * every version with a descriptor or a tree of its own under `<prefix>/versions/`, by id.
 * Spans and row counts come from the series indexes (one GET per series), never from
 * listing objects.
 */
export async function listDatasetVersions(
  store: ObjectStore & FolderLister,
  prefix: string,
): Promise<DatasetVersionInfo[]> {
  const p = normalizePrefix(prefix);
  const pin = await readLivePin(store, p);
  const out: DatasetVersionInfo[] = [];
  const liveStats = await treeStats(store, p);
  if (pin !== null || liveStats.series > 0)
    out.push({
      id: pin?.version ?? null,
      live: true,
      pinnedAtMs: pin?.pinnedAtMs ?? null,
      descriptor: pin === null ? null : await readDescriptor(store, p, pin.version),
      stats: liveStats,
    });
  const ids = (await store.listFolders(versionsFolder(p)))
    .map((f) => f.slice(versionsFolder(p).length).replace(/\/$/, ''))
    .filter((id) => VERSION_ID.test(id))
    .sort();
  for (const id of ids) {
    const stats = await treeStats(store, versionPrefix(p, id));
    // The live version's own folder holds its descriptor; a tree there is a rebuild (perpflow reprocess).
    if (id === pin?.version && stats.series === 0) continue;
    out.push({
      id,
      live: false,
      pinnedAtMs: null,
      descriptor: await readDescriptor(store, p, id),
      stats,
    });
  }
  return out;
}

/** The descriptor of version `id` under the prefix; null when it is not on S3. */
export async function readDescriptor(
  store: Pick<ObjectStore, 'get'>,
  prefix: string,
  id: string,
): Promise<VersionDescriptor | null> {
  const raw = await store.get(versionDescriptorKey(prefix, id));
  if (raw === null) return null;
  try {
    return JSON.parse(new TextDecoder().decode(raw)) as VersionDescriptor;
  } catch (err) {
    throw new Error(`${versionDescriptorKey(prefix, id)} is not JSON: ${(err as Error).message}`);
  }
}

/** The live tree's pin (`versions/live.json`), null when the tree has none. */
export async function readLivePin(
  store: Pick<ObjectStore, 'get'>,
  prefix: string,
): Promise<{ version: string; pinnedAtMs: number } | null> {
  const raw = await store.get(liveVersionKey(normalizePrefix(prefix)));
  return raw === null ? null : parseLiveVersion(raw);
}

async function treeStats(store: ObjectStore & FolderLister, treePrefix: string): Promise<TreeStats> {
  const trees = new CompactionStore(store, treePrefix, 'perpflow datasets');
  const stats: TreeStats = {
    tree: `${treePrefix}/aligned/v1/`,
    series: 0,
    rows: 0,
    minTsMs: null,
    maxTsMs: null,
  };
  // One GET per series, READS_AT_ONCE at a time: sums, minimum and maximum need no order.
  await forEachPool(await trees.listSeries(), READS_AT_ONCE, async (series) => {
    const index = await trees.readIndex(series);
    if (index === null) return;
    stats.series++;
    for (const w of index.windows) {
      stats.rows += w.rowCount;
      if (w.minTsMs !== null) stats.minTsMs = Math.min(stats.minTsMs ?? w.minTsMs, w.minTsMs);
      if (w.maxTsMs !== null) stats.maxTsMs = Math.max(stats.maxTsMs ?? w.maxTsMs, w.maxTsMs);
    }
  });
  return stats;
}

/** Lines for a terminal: one block per version. */
export function describeVersions(bucket: string, versions: readonly DatasetVersionInfo[]): string[] {
  if (versions.length === 0) return ['no dataset here yet: no live tree and no version descriptor'];
  const iso = (ms: number | null) =>
    ms === null ? '-' : new Date(ms).toISOString().slice(0, 16).concat('Z');
  const lines: string[] = [];
  for (const v of versions) {
    const what = v.live
      ? `live${v.pinnedAtMs === null ? '' : ` (pinned ${iso(v.pinnedAtMs)})`}`
      : v.stats.series > 0
        ? versions.some((x) => x.live && x.id === v.id)
          ? `own tree: a rebuild of the live version (pull it with --prefix ${v.stats.tree.replace(/\/aligned\/v1\/$/, '')})`
          : 'own tree'
        : 'descriptor only (an aligner ran with this config; its bars went to no tree here)';
    lines.push(`${v.id ?? 'unversioned'}  ${what}`);
    lines.push(`  tree: s3://${bucket}/${v.stats.tree}`);
    lines.push(
      `  ${v.stats.series} series, ${v.stats.rows} rows, bars ${iso(v.stats.minTsMs)} .. ${iso(v.stats.maxTsMs)}`,
    );
    const d = v.descriptor;
    if (d === null)
      lines.push(
        v.id === null
          ? '  written before dataset versions existed: no config recorded'
          : '  descriptor missing: the aligner writes it at start (see its log)',
      );
    else {
      lines.push(`  engine: ${d.engineVersion}; AlignedBar schema v${d.schemaVersion}`);
      lines.push(`  align: ${JSON.stringify(d.align)}`);
      lines.push(`  quality: ${JSON.stringify(d.quality).length} bytes of settings (--json prints them)`);
    }
  }
  return lines;
}

/**
 * The prefix whose `aligned/v1` tree holds version `id`: the live tree when its pin names
 * it, else the version's own tree; a PullError (code VERSION) when neither holds it.
 */
export async function treeOfVersion(
  store: ObjectStore & FolderLister,
  prefix: string,
  id: string,
): Promise<string> {
  const p = normalizePrefix(prefix);
  const pin = await readLivePin(store, p);
  if (pin?.version === id) return p;
  const own = versionPrefix(p, id);
  if ((await new CompactionStore(store, own, 'perpflow pull').listSeries()).length > 0) return own;
  throw new PullError(
    'VERSION',
    `no tree of dataset version ${id} under ${p}/: the live tree holds ${
      pin?.version ?? 'no pinned version'
    }; perpflow datasets lists the versions there`,
  );
}
