import {
  type IndexEntry,
  INDEX_VERSION,
  type SeriesIndex,
  SeriesIndexSchema,
  type WindowManifest,
} from './schemas.js';
import { PerpflowError } from '@perpflow/contracts';

/** The manifest and the index disagree on series or window unit. Not retriable. */
export class IndexMismatch extends PerpflowError {
  readonly code = 'INDEX_MISMATCH';
  readonly retriable = false;
}

export function emptySeriesIndex(m: Pick<WindowManifest, 'window'>): SeriesIndex {
  const { exchange, symbol, timeframe, unit } = m.window;
  return {
    indexVersion: INDEX_VERSION,
    series: { exchange, symbol, timeframe },
    unit,
    windows: [],
    updatedAtMs: null,
  };
}

function entryOf(m: WindowManifest, manifestKey: string): IndexEntry {
  return {
    startMs: m.window.startMs,
    endMs: m.window.endMs,
    manifestKey,
    objectKey: m.object.key,
    rowCount: m.object.rowCount,
    minTsMs: m.minTsMs,
    maxTsMs: m.maxTsMs,
    sha256: m.object.sha256,
    hasRevisions: m.revisions !== null,
    closed: m.closed,
    writtenAtMs: m.writtenAtMs,
  };
}

/** Total order on versions of one window's entry: later write wins; ties broken by content. */
function newer(a: IndexEntry, b: IndexEntry): boolean {
  if (a.writtenAtMs !== b.writtenAtMs) return a.writtenAtMs > b.writtenAtMs;
  return JSON.stringify(a) > JSON.stringify(b);
}

/**
 * Applies one written manifest to the series index (read-modify-write by the writer
 * after the manifest is durable). Idempotent (applying a manifest twice changes
 * nothing), and order-independent for a set of manifests: an entry is replaced only
 * by one with a greater (writtenAtMs, content), so a replayed or delayed older
 * manifest never rolls an entry back. Returns a new index; `null` starts one.
 */
export function upsertSeriesIndex(
  index: SeriesIndex | null,
  manifest: WindowManifest,
  manifestKey: string,
): SeriesIndex {
  const base = index ?? emptySeriesIndex(manifest);
  const { exchange, symbol, timeframe, unit } = manifest.window;
  if (
    base.series.exchange !== exchange ||
    base.series.symbol !== symbol ||
    base.series.timeframe !== timeframe ||
    base.unit !== unit
  )
    throw new IndexMismatch(
      `manifest of ${timeframe} ${exchange} ${symbol} (${unit}) does not belong to index of ` +
        `${base.series.timeframe} ${base.series.exchange} ${base.series.symbol} (${base.unit})`,
    );
  const entry = entryOf(manifest, manifestKey);
  const windows = [...base.windows];
  const i = windows.findIndex((e) => e.startMs === entry.startMs);
  if (i < 0) windows.push(entry);
  else if (newer(entry, windows[i]!)) windows[i] = entry;
  windows.sort((a, b) => a.startMs - b.startMs);
  const updatedAtMs = windows.reduce<number | null>(
    (t, e) => Math.max(t ?? e.writtenAtMs, e.writtenAtMs),
    null,
  );
  return { ...base, windows, updatedAtMs };
}

/** Rebuilds an index from manifests found by listing the series folder (recovery, audits). */
export function rebuildSeriesIndex(
  manifests: readonly { manifest: WindowManifest; key: string }[],
): SeriesIndex | null {
  let ix: SeriesIndex | null = null;
  for (const { manifest, key } of manifests) ix = upsertSeriesIndex(ix, manifest, key);
  return ix;
}

export function parseSeriesIndex(bytes: Uint8Array | string): SeriesIndex {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  return SeriesIndexSchema.parse(JSON.parse(text));
}

export function serializeSeriesIndex(index: SeriesIndex): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(SeriesIndexSchema.parse(index), null, 2)}\n`);
}
