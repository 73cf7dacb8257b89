/**
 * Writes the dataset the Python loader's tests read (clients/python/tests), with the
 * windower's own write path (WindowStore: objects, manifest, series index) and the
 * dataset's month compaction (prepareMonthCompaction: object, then manifest):
 *
 *   February 2024, days 27–29: 60 bars each, closed, no revisions; the month compacted.
 *   2024-03-01: 60 bars, bar 10 revised (revision 0 in the revisions object), bar 40 never written.
 *   2024-03-02: 60 bars, open (not closed).
 *   The same symbol in 1h bars (month windows, never compacted): February's last 48
 *   hours, March's first 24 with hour 5 revised, hour 7 never written.
 *
 * Usage (from the repo root, S3_* from the stack's env):
 *   node --conditions=@perpflow/source --import tsx test/src/write-loader-fixture.ts <prefix> <symbol> [extend]
 * `extend` writes nothing but 2024-03-02 again, closed, with one more bar (the index
 * changes for that day only). Prints one JSON line: the keys written and the row counts.
 */
import type { AlignedBar } from '@perpflow/contracts';
import {
  type DayObject,
  parseSeriesIndex,
  parseWindowManifest,
  prepareMonthCompaction,
  type SeriesId,
  seriesIndexKey,
} from '@perpflow/dataset';
import { createS3Client } from '@perpflow/s3';
import { S3ObjectStore } from '../../services/windower/src/adapters/s3.js';
import { WindowStore } from '../../services/windower/src/adapters/window-store.js';
import { loadCompactConfig } from '../../services/windower/src/config.js';

const TF = 60_000;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const BARS = 60;
const REVISED = 10;
const MISSING = 40;
const FEB_DAYS = [Date.UTC(2024, 1, 27), Date.UTC(2024, 1, 28), Date.UTC(2024, 1, 29)];
const MAR1 = Date.UTC(2024, 2, 1);
const MAR2 = MAR1 + DAY;

const [prefix, symbol, mode = 'write'] = process.argv.slice(2);
if (!prefix || !symbol || (mode !== 'write' && mode !== 'extend')) {
  console.error('usage: write-loader-fixture.ts <prefix> <symbol> [extend]');
  process.exit(2);
}
const series: SeriesId = { exchange: 'binanceusdm', symbol, timeframe: '1m' };

function bar(t: number, revision = 0, timeframe: '1m' | '1h' = '1m'): AlignedBar {
  const i = Math.round(t / TF);
  const p = 100 + 5 * Math.sin(i / 37) + revision;
  return {
    schemaVersion: 1,
    exchange: 'binanceusdm',
    symbol: series.symbol,
    timeframe,
    eventTimeMs: t,
    open: p,
    high: p + 1.5,
    low: p - 1.5,
    close: p + 0.25,
    volume: 1 + (i % 7) / 3,
    openInterest: i % 5 === 0 ? null : 5_000 + (i % 1000),
    openInterestTimeMs: i % 5 === 0 ? null : t - 60_000,
    openInterestMissing: i % 5 === 0 ? 'not_observed' : null,
    fundingRate: i % 3 === 0 ? null : 0.0001,
    fundingTimeMs: i % 3 === 0 ? null : t - (t % (8 * 3_600_000)),
    predictedFundingRate: 0.0002,
    predictedFundingTimeMs: t,
    fundingIntervalMs: null,
    fundingRate8h: null,
    markPrice: null,
    markPriceTimeMs: null,
    indexPrice: null,
    indexPriceTimeMs: null,
    basis: null,
    liqLongNotional: i % 11 === 0 ? 2_000 : 0,
    liqShortNotional: i % 4 === 0 ? 125.5 : 0,
    liqCount: (i % 11 === 0 ? 1 : 0) + (i % 4 === 0 ? 1 : 0),
    liqPriceKind: 'average_fill',
    liqCompleteness: 'snapshot_1s',
    knownAtMs: t + (timeframe === '1h' ? HOUR : TF) + 700 + revision * 10_000,
    revision,
    candleFilled: i % 13 === 0,
    openInterestStale: i % 17 === 0,
    fundingStale: i % 19 === 0,
  };
}

const config = loadCompactConfig({ ...process.env, S3_PREFIX: prefix });
// A fixture write is idempotent (same key, same bytes): the SDK retries a reset connection.
const store = new S3ObjectStore(createS3Client(config, { maxAttempts: 4 }), config.S3_BUCKET);
const windows = new WindowStore(store, prefix, 'python loader fixture');
let clock = Date.UTC(2024, 3, 1);
const latest: AlignedBar[] = [];
const superseded: AlignedBar[] = [];

async function writeDay(dayStartMs: number, rows: AlignedBar[], old: AlignedBar[], closed: boolean) {
  clock += 1_000;
  await windows.write({
    window: { ...series, unit: 'day', startMs: dayStartMs },
    latest: rows,
    superseded: old,
    kafkaOffsets: [],
    watermarkMs: null,
    closed,
    writtenAtMs: clock,
  });
  latest.push(...rows);
  superseded.push(...old);
}

const day = (start: number, skip: number | null = null, count = BARS) =>
  Array.from({ length: count }, (_, i) => i)
    .filter((i) => i !== skip)
    .map((i) => bar(start + i * TF, 0));

if (mode === 'extend') {
  clock = Date.UTC(2024, 4, 1);
  await writeDay(MAR2, day(MAR2, null, BARS + 1), [], true);
  console.log(JSON.stringify({ prefix, series, latest: latest.length }));
  process.exit(0);
}

for (const d of FEB_DAYS) await writeDay(d, day(d), [], true);
const mar1 = day(MAR1, MISSING).map((b) =>
  b.eventTimeMs === MAR1 + REVISED * TF ? bar(b.eventTimeMs, 1) : b,
);
await writeDay(MAR1, mar1, [bar(MAR1 + REVISED * TF, 0)], true);
await writeDay(MAR2, day(MAR2), [], false);

// 1h bars: month windows (the default policy), written the same way.
const hourly: SeriesId = { ...series, timeframe: '1h' };
const hours = (start: number, n: number) =>
  Array.from({ length: n }, (_, i) => bar(start + i * HOUR, 0, '1h'));
clock += 1_000;
await windows.write({
  window: { ...hourly, unit: 'month', startMs: Date.UTC(2024, 1, 1) },
  latest: hours(MAR1 - 48 * HOUR, 48),
  superseded: [],
  kafkaOffsets: [],
  watermarkMs: null,
  closed: true,
  writtenAtMs: clock,
});
clock += 1_000;
await windows.write({
  window: { ...hourly, unit: 'month', startMs: MAR1 },
  latest: hours(MAR1, 24)
    .filter((b) => b.eventTimeMs !== MAR1 + 7 * HOUR)
    .map((b) => (b.eventTimeMs === MAR1 + 5 * HOUR ? bar(b.eventTimeMs, 1, '1h') : b)),
  superseded: [bar(MAR1 + 5 * HOUR, 0, '1h')],
  kafkaOffsets: [],
  watermarkMs: null,
  closed: false,
  writtenAtMs: clock,
});

// February, compacted as `perpflow compact` would: from the index and the day objects.
const indexKey = seriesIndexKey(prefix, series);
const rawIndex = await store.get(indexKey);
if (!rawIndex) throw new Error(`${indexKey}: not written`);
const index = parseSeriesIndex(rawIndex);
const days = new Map<number, DayObject>();
for (const e of index.windows.filter((w) => w.startMs < MAR1)) {
  const manifest = parseWindowManifest((await store.get(e.manifestKey))!);
  days.set(e.startMs, { manifest, bytes: (await store.get(e.objectKey))! });
}
const month = await prepareMonthCompaction({
  prefix,
  index,
  monthStartMs: Date.UTC(2024, 1, 1),
  days,
  writtenAtMs: clock + 1_000,
  writerVersion: 'python loader fixture',
});
await store.put(month.objectKey, month.body, 'application/vnd.apache.parquet');
await store.put(month.manifestKey, month.manifestBody, 'application/json');

console.log(
  JSON.stringify({
    prefix,
    series,
    indexKey,
    compactedObjectKey: month.objectKey,
    compactedManifestKey: month.manifestKey,
    windows: index.windows.map((w) => ({
      startMs: w.startMs,
      manifestKey: w.manifestKey,
      objectKey: w.objectKey,
    })),
    latest: latest.length,
    superseded: superseded.length,
  }),
);
