import { PerpflowError } from '@perpflow/contracts';
import { type ArchiveFeed, ARCHIVE_FEEDS } from './record.js';
import { dayIndexKey, exchangeSegment, utcDay } from './layout.js';
import { type DayIndex, parseDayIndex, sha256Hex } from './manifest.js';
import { decodeArchiveForReplay, decodeArchiveParquet, type ReplayRow } from './parquet.js';
import type { ArchiveRow } from './record.js';

/**
 * Reading the raw archive back: day indexes first (no bucket listing), then each object,
 * checked against the sha256 its index entry carries before a row of it is used. Pure
 * but for `get`, which the caller binds to S3 (null: no such key).
 */
export type ArchiveGet = (key: string) => Promise<Uint8Array | null>;

export type ArchiveObjectEntry = DayIndex['objects'][number];

const DAY_MS = 86_400_000;

/** An object whose bytes are not what its index says: never skipped, the read stops here. */
export class ArchiveObjectCorrupt extends PerpflowError {
  readonly code = 'ARCHIVE_OBJECT_CORRUPT';
  readonly retriable = false;
  constructor(
    readonly key: string,
    readonly expectedSha256: string,
    readonly foundSha256: string,
    detail?: string,
  ) {
    super(
      `archive object ${key} is corrupt: expected sha256 ${expectedSha256}, found ${foundSha256}` +
        `${detail ? ` (${detail})` : ''}; the range it covers cannot be read until it is restored` +
        ` (the day index and manifest beside it name the offsets to re-archive)`,
    );
  }
}

/** An object its day index lists but the bucket does not hold. */
export class ArchiveObjectMissing extends PerpflowError {
  readonly code = 'ARCHIVE_OBJECT_MISSING';
  readonly retriable = false;
  constructor(readonly key: string) {
    super(`archive object ${key} is listed in its day index but absent from the bucket`);
  }
}

/** UTC days `YYYY-MM-DD` that intersect [fromMs, toMs), in order. */
export function utcDaysOf(fromMs: number, toMs: number): string[] {
  if (!Number.isSafeInteger(fromMs) || !Number.isSafeInteger(toMs) || toMs <= fromMs)
    throw new RangeError(`need integer ms with from < to, got [${fromMs}, ${toMs})`);
  const days: string[] = [];
  for (let d = Math.floor(fromMs / DAY_MS) * DAY_MS; d < toMs; d += DAY_MS) days.push(utcDay(d));
  return days;
}

export interface ArchiveDaySelection {
  feed: ArchiveFeed;
  exchange: string;
  fromMs: number;
  toMs: number;
}

export interface ArchiveDayListing {
  /** Objects of the days, by day, then (topic, partition, first offset) as the index sorts them. */
  objects: (ArchiveObjectEntry & { date: string })[];
  /** Days with no index: nothing archived for that (feed, exchange, day). */
  daysWithoutIndex: string[];
}

/** The objects of one feed and exchange whose day intersects [fromMs, toMs). */
export async function listArchiveObjects(
  get: ArchiveGet,
  prefix: string,
  sel: ArchiveDaySelection,
): Promise<ArchiveDayListing> {
  if (!(ARCHIVE_FEEDS as readonly string[]).includes(sel.feed))
    throw new RangeError(`unknown archive feed '${sel.feed}'`);
  const exchange = exchangeSegment(sel.exchange);
  const out: ArchiveDayListing = { objects: [], daysWithoutIndex: [] };
  for (const date of utcDaysOf(sel.fromMs, sel.toMs)) {
    const key = dayIndexKey(prefix, { feed: sel.feed, exchange, date });
    const raw = await get(key);
    if (raw === null) {
      out.daysWithoutIndex.push(date);
      continue;
    }
    const index = parseDayIndex(raw);
    if (index.feed !== sel.feed || index.exchange !== exchange || index.date !== date)
      throw new ArchiveObjectCorrupt(
        key,
        `${sel.feed}/${exchange}/${date}`,
        `${index.feed}/${index.exchange}/${index.date}`,
        'day index names another day',
      );
    for (const o of index.objects) out.objects.push({ ...o, date });
  }
  return out;
}

/** The object's bytes, after they matched the index's sha256 (never skipped: a mismatch throws). */
async function checkedBytes(get: ArchiveGet, entry: ArchiveObjectEntry): Promise<Uint8Array> {
  const bytes = await get(entry.key);
  if (bytes === null) throw new ArchiveObjectMissing(entry.key);
  const found = sha256Hex(bytes);
  if (found !== entry.sha256) throw new ArchiveObjectCorrupt(entry.key, entry.sha256, found);
  return bytes;
}

/** Decodes checked bytes; bytes matching the index but not decoding, or with another row count, were written corrupt. */
function decodeChecked<T>(entry: ArchiveObjectEntry, decode: () => { value: T; rowCount: number }): T {
  let decoded: { value: T; rowCount: number };
  try {
    decoded = decode();
  } catch (err) {
    throw new ArchiveObjectCorrupt(
      entry.key,
      entry.sha256,
      entry.sha256,
      `does not decode: ${(err as Error).message}`,
    );
  }
  if (decoded.rowCount !== entry.rowCount)
    throw new ArchiveObjectCorrupt(
      entry.key,
      entry.sha256,
      entry.sha256,
      `${decoded.rowCount} rows, index says ${entry.rowCount}`,
    );
  return decoded.value;
}

/** The rows of one object, after its bytes matched the index's sha256. */
export async function readArchiveObject(get: ArchiveGet, entry: ArchiveObjectEntry): Promise<ArchiveRow[]> {
  const bytes = await checkedBytes(get, entry);
  return decodeChecked(entry, () => {
    const rows = decodeArchiveParquet(bytes);
    return { value: rows, rowCount: rows.length };
  });
}

/**
 * The rows of one object a rebuild keeps: readArchiveObject's checks, with the columns and
 * row filter of decodeArchiveForReplay.
 */
export async function readArchiveObjectForReplay(
  get: ArchiveGet,
  entry: ArchiveObjectEntry,
  keep: Parameters<typeof decodeArchiveForReplay>[1],
): Promise<ReplayRow[]> {
  const bytes = await checkedBytes(get, entry);
  return decodeChecked(entry, () => {
    const d = decodeArchiveForReplay(bytes, keep);
    return { value: d.rows, rowCount: d.rowCount };
  });
}
