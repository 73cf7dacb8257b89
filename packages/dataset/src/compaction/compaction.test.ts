import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlignedBar } from '@perpflow/contracts';
import {
  compactedManifestKey,
  compactedObjectKey,
  parseCompactedManifestKey,
  parseSeriesIndexKey,
  seriesIndexKey,
  type SeriesId,
} from '../layout/keys.js';
import { InvalidKeySegment } from '../layout/symbol.js';
import { type CompactedManifest, CompactedManifestSchema, type SeriesIndex } from '../manifest/schemas.js';
import { upsertSeriesIndex } from '../manifest/series-index.js';
import { prepareWindowWrite, type WindowWrite } from '../manifest/window-write.js';
import { readBarsParquet } from '../parquet/decode.js';
import { ObjectIntegrityError } from '../pull/select.js';
import { makeBars } from '../test-support/bars.js';
import {
  CompactionSourceChanged,
  type DayObject,
  parseCompactedManifest,
  prepareMonthCompaction,
} from './month.js';
import { compactedMonthUsable, planCompaction, sourcesHashOf } from './plan.js';

const DAY = 86_400_000;
const FEB = Date.UTC(2024, 1, 1);
const MAR = Date.UTC(2024, 2, 1);
const APR = Date.UTC(2024, 3, 1);
const SERIES: SeriesId = { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m' };

interface Day {
  startMs: number;
  closed?: boolean;
  seed?: number;
  count?: number;
  revised?: boolean;
  /** The day manifest's rawThrough (absent: none). */
  raw?: { topic: string; partition: number; offset: string }[];
}

/** Writes days with the dataset's own write path; returns the index and each day's write. */
function writeDays(days: Day[], writtenAtMs = APR + 10 * DAY) {
  let index: SeriesIndex | null = null;
  const writes = new Map<number, WindowWrite>();
  for (const d of days) {
    const latest = makeBars({
      count: d.count ?? 20,
      startMs: d.startMs + 3_600_000,
      seed: d.seed ?? d.startMs % 101,
    });
    const superseded = d.revised ? [{ ...latest[0]!, revision: 0 }] : [];
    if (d.revised) latest[0] = { ...latest[0]!, revision: 1, knownAtMs: latest[0]!.knownAtMs + 1_000 };
    const w = prepareWindowWrite({
      prefix: 'data',
      window: { ...SERIES, unit: 'day', startMs: d.startMs },
      latest,
      superseded,
      kafkaOffsets: [],
      watermarkMs: null,
      closed: d.closed ?? true,
      writtenAtMs,
      ...(d.raw ? { rawThrough: d.raw } : {}),
    });
    writes.set(d.startMs, w);
    index = upsertSeriesIndex(index, w.manifest, w.manifestKey);
  }
  return { index: index as SeriesIndex, writes };
}

function dayObjects(writes: Map<number, WindowWrite>): Map<number, DayObject> {
  return new Map(
    [...writes].map(([start, w]) => [start, { manifest: w.manifest, bytes: w.puts[0]!.body }] as const),
  );
}

const march = (n: number, extra: Partial<Day> = {}): Day[] =>
  Array.from({ length: n }, (_, i) => ({ startMs: MAR + i * DAY, ...extra }));

async function compactMarch(index: SeriesIndex, writes: Map<number, WindowWrite>) {
  return prepareMonthCompaction({
    prefix: 'data',
    index,
    monthStartMs: MAR,
    days: dayObjects(writes),
    writtenAtMs: APR + 20 * DAY,
  });
}

describe('compacted keys', () => {
  it('puts a month beside the latest tree, partitioned by month, under the prefix', () => {
    assert.equal(
      compactedObjectKey('data', SERIES, MAR),
      'data/aligned_compacted/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/month=2024-03/part-1709251200000.parquet',
    );
    assert.equal(
      compactedManifestKey('data', SERIES, MAR),
      'data/aligned_compacted/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/month=2024-03/part-1709251200000.manifest.json',
    );
  });

  it('refuses a start that is not a UTC month boundary, and unknown series values', () => {
    assert.throws(() => compactedObjectKey('data', SERIES, MAR + DAY), InvalidKeySegment);
    assert.throws(
      () => compactedManifestKey('data', { ...SERIES, exchange: 'nope' as 'okx' }, MAR),
      InvalidKeySegment,
    );
    assert.throws(() => compactedObjectKey('../x', SERIES, MAR), InvalidKeySegment);
  });

  it('parses its keys back, and nothing else', () => {
    assert.deepEqual(parseCompactedManifestKey('data', compactedManifestKey('data', SERIES, FEB)), {
      ...SERIES,
      monthStartMs: FEB,
      month: '2024-02',
    });
    assert.equal(parseCompactedManifestKey('data', compactedObjectKey('data', SERIES, FEB)), null);
    assert.equal(
      parseCompactedManifestKey(
        'data',
        compactedManifestKey('data', SERIES, FEB).replace('2024-02', '2024-03'),
      ),
      null,
    );
    assert.deepEqual(parseSeriesIndexKey('data', seriesIndexKey('data', SERIES)), SERIES);
    assert.equal(parseSeriesIndexKey('other', seriesIndexKey('data', SERIES)), null);
  });
});

describe('planCompaction', () => {
  it('leaves a month alone until a window starts after it', () => {
    const { index } = writeDays(march(31));
    const plan = planCompaction(index, new Map());
    assert.deepEqual(
      plan.months.map((m) => [m.month, m.status, m.sources.length]),
      [['2024-03', 'open', 31]],
    );
    assert.deepEqual(plan.toCompact, []);
  });

  it('compacts a month that is over and whose windows are all closed', () => {
    const { index } = writeDays([...march(31), { startMs: APR, closed: false }]);
    const plan = planCompaction(index, new Map());
    assert.deepEqual(
      plan.months.map((m) => [m.month, m.status]),
      [
        ['2024-03', 'new'],
        ['2024-04', 'open'],
      ],
    );
    const [m] = plan.toCompact;
    assert.equal(m?.monthStartMs, MAR);
    assert.equal(m?.monthEndMs, APR);
    assert.deepEqual(
      m?.sources,
      index.windows.slice(0, 31).map((e) => ({ startMs: e.startMs, sha256: e.sha256, rowCount: e.rowCount })),
    );
    assert.equal(m?.sourcesHash, sourcesHashOf(m?.sources ?? []));
  });

  it('waits while a window of the month is not closed (a late bar may come)', () => {
    const days = march(31);
    days[30] = { startMs: MAR + 30 * DAY, closed: false };
    const { index } = writeDays([...days, { startMs: APR }]);
    assert.deepEqual(
      planCompaction(index, new Map()).months.map((m) => m.status),
      ['not-closed', 'open'],
    );
  });

  it('plans nothing for a series whose windows are months', () => {
    const { index } = writeDays([...march(2), { startMs: APR }]);
    const monthly: SeriesIndex = { ...index, unit: 'month' };
    assert.deepEqual(planCompaction(monthly, new Map()).toCompact, []);
  });

  it('is done once compacted, and stale when a day is rewritten, compactable again once it closes', async () => {
    const { index, writes } = writeDays([...march(3), { startMs: APR }]);
    const built = await compactMarch(index, writes);
    const compacted = new Map([[MAR, built.manifest]]);
    assert.deepEqual(
      planCompaction(index, compacted).months.map((m) => m.status),
      ['up-to-date', 'open'],
    );
    assert.deepEqual(planCompaction(index, compacted).toCompact, []);

    // A late bar reopens day 2: rewritten (other sha256), not closed yet.
    const reopened = writeDays([{ startMs: MAR + DAY, seed: 7, closed: false }], APR + 11 * DAY);
    let later = upsertSeriesIndex(index, reopened.writes.get(MAR + DAY)!.manifest, 'k');
    let plan = planCompaction(later, compacted);
    assert.deepEqual(
      plan.stale.map((m) => [m.month, m.compactable]),
      [['2024-03', false]],
    );
    assert.deepEqual(plan.toCompact, []);

    const closed = writeDays([{ startMs: MAR + DAY, seed: 7 }], APR + 12 * DAY);
    later = upsertSeriesIndex(later, closed.writes.get(MAR + DAY)!.manifest, 'k');
    plan = planCompaction(later, compacted);
    assert.deepEqual(
      plan.toCompact.map((m) => [m.month, m.status]),
      [['2024-03', 'stale']],
    );
    assert.notEqual(plan.toCompact[0]?.sourcesHash, sourcesHashOf(built.manifest.sources));
  });

  it('calls a compacted month stale when the index lists a day more (or less) than its sources', async () => {
    const { index, writes } = writeDays([...march(2), { startMs: APR }]);
    const built = await compactMarch(index, writes);
    const more = writeDays([{ startMs: MAR + 5 * DAY }]);
    const withMore = upsertSeriesIndex(index, more.writes.get(MAR + 5 * DAY)!.manifest, 'k');
    assert.deepEqual(
      planCompaction(withMore, new Map([[MAR, built.manifest]])).toCompact.map((m) => m.sources.length),
      [3],
    );
  });
});

describe('prepareMonthCompaction', () => {
  it('concatenates the day rows in ts order into one file with the day files layout and metadata', async () => {
    const { index, writes } = writeDays([...march(4), { startMs: APR }].reverse());
    const built = await compactMarch(index, writes);
    const days = [0, 1, 2, 3].map((d) => readBarsParquet(writes.get(MAR + d * DAY)!.puts[0]!.body));
    const expected: AlignedBar[] = days.flatMap((d) => d.bars);
    const got = readBarsParquet(built.body);
    assert.deepEqual(got.bars, expected);
    assert.equal(got.bars.length, 80);
    assert.equal(got.schemaHash, days[0]!.schemaHash);
    assert.deepEqual(got.metadata, days[0]!.metadata);

    const m = built.manifest;
    assert.equal(built.objectKey, compactedObjectKey('data', SERIES, MAR));
    assert.equal(built.manifestKey, compactedManifestKey('data', SERIES, MAR));
    assert.equal(m.object.rowCount, 80);
    assert.equal(m.object.bytes, built.body.byteLength);
    assert.equal(m.minTsMs, expected[0]?.eventTimeMs);
    assert.equal(m.maxTsMs, expected[79]?.eventTimeMs);
    assert.deepEqual(
      m.sources,
      [0, 1, 2, 3].map((d) => {
        const w = writes.get(MAR + d * DAY)!.manifest.object;
        return { startMs: MAR + d * DAY, sha256: w.sha256, rowCount: w.rowCount };
      }),
    );
    assert.deepEqual(parseCompactedManifest(built.manifestBody), m);
  });

  it('names the highest raw positions of its days, and none when a day names none', async () => {
    const at = (ohlcv: number, oi: number, partition = 2) => [
      { topic: 'perpflow.raw.ohlcv.v1', partition, offset: String(ohlcv) },
      { topic: 'perpflow.raw.open_interest.v1', partition, offset: String(oi) },
    ];
    const named = writeDays([
      { startMs: MAR, raw: at(100, 40) },
      { startMs: MAR + DAY, raw: at(90, 70) },
      { startMs: MAR + 2 * DAY, raw: at(5, 5, 7) },
    ]);
    assert.deepEqual((await compactMarch(named.index, named.writes)).manifest.rawThrough, [
      ...at(100, 70).slice(0, 1),
      { topic: 'perpflow.raw.ohlcv.v1', partition: 7, offset: '5' },
      ...at(100, 70).slice(1),
      { topic: 'perpflow.raw.open_interest.v1', partition: 7, offset: '5' },
    ]);
    const partly = writeDays([{ startMs: MAR, raw: at(100, 40) }, { startMs: MAR + DAY }]);
    const built = await compactMarch(partly.index, partly.writes);
    assert.equal(built.manifest.rawThrough, undefined);
    assert.ok(!new TextDecoder().decode(built.manifestBody).includes('rawThrough'));
  });

  it('gives the same bytes for the same days (a re-run rewrites identical objects)', async () => {
    const { index, writes } = writeDays([...march(2), { startMs: APR }]);
    const a = await compactMarch(index, writes);
    const b = await compactMarch(index, writes);
    assert.deepEqual(a.body, b.body);
    assert.deepEqual(a.manifestBody, b.manifestBody);
  });

  it('refuses a day object that does not match its manifest, or a manifest the index does not list', async () => {
    const { index, writes } = writeDays([...march(2), { startMs: APR }]);
    const days = dayObjects(writes);
    const first = days.get(MAR)!;
    const corrupt = new Map(days).set(MAR, { ...first, bytes: first.bytes.slice().fill(7, 100, 110) });
    await assert.rejects(
      prepareMonthCompaction({ prefix: 'data', index, monthStartMs: MAR, days: corrupt, writtenAtMs: APR }),
      ObjectIntegrityError,
    );
    const rewritten = writeDays([{ startMs: MAR, seed: 99 }]).writes.get(MAR)!;
    const other = new Map(days).set(MAR, { manifest: rewritten.manifest, bytes: rewritten.puts[0]!.body });
    await assert.rejects(
      prepareMonthCompaction({ prefix: 'data', index, monthStartMs: MAR, days: other, writtenAtMs: APR }),
      CompactionSourceChanged,
    );
  });
});

describe('compacted manifest and its use by pull', () => {
  it('rejects sources that are unsorted, outside the month or do not add up to the rows', async () => {
    const { index, writes } = writeDays([...march(2), { startMs: APR }]);
    const m = (await compactMarch(index, writes)).manifest;
    const [a, b] = m.sources as [CompactedManifest['sources'][0], CompactedManifest['sources'][0]];
    const bad: unknown[] = [
      { ...m, sources: [b, a] },
      { ...m, sources: [a, { ...b, startMs: APR }] },
      { ...m, object: { ...m.object, rowCount: m.object.rowCount + 1 } },
      { ...m, sources: [] },
      { ...m, compactedManifestVersion: 2 },
    ];
    for (const x of bad) assert.equal(CompactedManifestSchema.safeParse(x).success, false);
  });

  it('stands in for the days only while its sources equal the index and no as-of needs revisions', async () => {
    const { index, writes } = writeDays([...march(2), { startMs: APR }]);
    const m = (await compactMarch(index, writes)).manifest;
    assert.equal(compactedMonthUsable(index, m), true);
    assert.equal(compactedMonthUsable(index, m, MAR + DAY), true, 'no window has revisions');
    const rewritten = writeDays([{ startMs: MAR + DAY, seed: 3 }], APR + 11 * DAY).writes.get(MAR + DAY)!;
    assert.equal(compactedMonthUsable(upsertSeriesIndex(index, rewritten.manifest, 'k'), m), false);

    const rev = writeDays([{ startMs: MAR }, { startMs: MAR + DAY, revised: true }, { startMs: APR }]);
    const mr = (await compactMarch(rev.index, rev.writes)).manifest;
    assert.equal(compactedMonthUsable(rev.index, mr), true);
    assert.equal(compactedMonthUsable(rev.index, mr, MAR + DAY), false, 'as-of needs the revisions');
  });
});
