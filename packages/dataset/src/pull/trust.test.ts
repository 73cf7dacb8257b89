import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compactedManifestKey,
  compactedObjectKey,
  manifestKey,
  objectKey,
  seriesIndexKey,
} from '../layout/keys.js';
import type { CompactedManifest, SeriesIndex } from '../manifest/schemas.js';
import { upsertSeriesIndex } from '../manifest/series-index.js';
import { prepareWindowWrite } from '../manifest/window-write.js';
import { decodeParquetToBars } from '../parquet/decode.js';
import { makeBars, T0 } from '../test-support/bars.js';
import { checkPullRequest, InvalidPullRequest, planPull } from './plan.js';
import {
  checkCompactedManifest,
  checkRows,
  checkWindowManifest,
  DatasetMismatch,
  expectedWindow,
  localPathOfKey,
} from './trust.js';

const DAY = 86_400_000;
const series = { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m' } as const;
const other = { ...series, symbol: 'ETH/USDT:USDT' } as const;
const request = {
  exchanges: ['binanceusdm'] as const,
  symbols: ['BTC/USDT:USDT'],
  timeframe: '1m' as const,
  fromMs: T0,
  toMs: T0 + 2 * DAY,
};

function writeDay(prefix: string, s: typeof series | typeof other, day: number, superseded = false) {
  const latest = makeBars({ count: 30, startMs: T0 + day * DAY, symbol: s.symbol });
  return prepareWindowWrite({
    prefix,
    window: { ...s, unit: 'day', startMs: T0 + day * DAY },
    latest,
    superseded: superseded ? [{ ...latest[0]!, revision: 0 }] : [],
    kafkaOffsets: [],
    watermarkMs: null,
    closed: true,
    writtenAtMs: T0 + (day + 1) * DAY,
  });
}

function honestIndex(): SeriesIndex {
  let ix: SeriesIndex | null = null;
  for (const d of [0, 1]) {
    const w = writeDay('data', series, d);
    ix = upsertSeriesIndex(ix, w.manifest, w.manifestKey);
  }
  return ix!;
}

const plan = (ix: SeriesIndex) =>
  planPull(
    'data',
    { ...request, exchanges: [...request.exchanges] },
    new Map([[seriesIndexKey('data', series), ix]]),
  );

/** Asserts fn throws a DatasetMismatch naming key, field, expected and found. */
function refuses(fn: () => unknown, want: { key: string; field: string; expected?: string; found?: string }) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatasetMismatch, `a DatasetMismatch, got ${String(err)}`);
    assert.equal(err.key, want.key);
    assert.equal(err.field, want.field);
    if (want.expected !== undefined) assert.equal(err.expected, want.expected);
    if (want.found !== undefined) assert.equal(err.found, want.found);
    assert.ok(
      err.message.includes(err.key) && err.message.includes(err.field) && err.message.includes(err.found),
    );
    assert.equal(err.retriable, false);
    return true;
  });
}

describe('pull trusts no key it reads', () => {
  const indexKey = seriesIndexKey('data', series);
  const day1 = expectedWindow(series, 'day', T0 + DAY);

  it('plans the layout keys of an honest index', () => {
    const [p] = plan(honestIndex());
    assert.deepEqual(
      p!.windows.map((w) => [w.unit, w.manifestKey, w.objectKey]),
      [0, 1].map((d) => {
        const w = expectedWindow(series, 'day', T0 + d * DAY);
        return ['day', manifestKey('data', w), objectKey('data', w)];
      }),
    );
  });

  it('refuses an index entry whose object key climbs out with ..', () => {
    const ix = honestIndex();
    const evil = 'data/aligned/v1/../../../../tmp/x.parquet';
    ix.windows[1] = { ...ix.windows[1]!, objectKey: evil };
    refuses(() => plan(ix), {
      key: indexKey,
      field: `windows[startMs=${T0 + DAY}].objectKey`,
      expected: JSON.stringify(objectKey('data', day1)),
      found: JSON.stringify(evil),
    });
  });

  it('refuses an index entry whose manifest lies under another prefix', () => {
    const ix = honestIndex();
    const foreign = manifestKey('elsewhere', day1);
    ix.windows[1] = { ...ix.windows[1]!, manifestKey: foreign };
    refuses(() => plan(ix), {
      key: indexKey,
      field: `windows[startMs=${T0 + DAY}].manifestKey`,
      expected: JSON.stringify(manifestKey('data', day1)),
      found: JSON.stringify(foreign),
    });
  });

  it("refuses an index entry of another symbol's window and a wrong window end", () => {
    const ix = honestIndex();
    const foreign = manifestKey('data', expectedWindow(other, 'day', T0 + DAY));
    refuses(() => plan({ ...ix, windows: [ix.windows[0]!, { ...ix.windows[1]!, manifestKey: foreign }] }), {
      key: indexKey,
      field: `windows[startMs=${T0 + DAY}].manifestKey`,
    });
    refuses(() => plan({ ...ix, windows: [{ ...ix.windows[0]!, endMs: T0 + 2 * DAY }] }), {
      key: indexKey,
      field: `windows[startMs=${T0}].endMs`,
      expected: String(T0 + DAY),
      found: String(T0 + 2 * DAY),
    });
  });

  it('refuses an index that describes another series', () => {
    const ix = honestIndex();
    refuses(() => plan({ ...ix, series: other }), {
      key: indexKey,
      field: 'series.symbol',
      expected: JSON.stringify(series.symbol),
      found: JSON.stringify(other.symbol),
    });
  });

  it('refuses a manifest of another window, prefix or object key', () => {
    const honest = writeDay('data', series, 1, true);
    const mk = manifestKey('data', day1);
    checkWindowManifest('data', mk, day1, honest.manifest);
    refuses(() => checkWindowManifest('data', mk, day1, writeDay('data', other, 1).manifest), {
      key: mk,
      field: 'window.symbol',
      expected: JSON.stringify(series.symbol),
      found: JSON.stringify(other.symbol),
    });
    refuses(() => checkWindowManifest('data', mk, day1, writeDay('data', series, 0).manifest), {
      key: mk,
      field: 'window.startMs',
    });
    refuses(() => checkWindowManifest('data', mk, day1, writeDay('elsewhere', series, 1).manifest), {
      key: mk,
      field: 'object.key',
      found: JSON.stringify(objectKey('elsewhere', day1)),
    });
    const m = honest.manifest;
    const revisions = { ...m.revisions!, key: 'data/aligned_revisions/v1/../x.parquet' };
    refuses(() => checkWindowManifest('data', mk, day1, { ...m, revisions }), {
      key: mk,
      field: 'revisions.key',
    });
  });

  it('refuses a compacted manifest of another series, month or object key', () => {
    const MAR = Date.UTC(2024, 2, 1);
    const APR = Date.UTC(2024, 3, 1);
    const mk = compactedManifestKey('data', series, MAR);
    const m: CompactedManifest = {
      compactedManifestVersion: 1,
      schemaVersion: 1,
      month: { ...series, startMs: MAR, endMs: APR, sourceUnit: 'day' },
      object: {
        key: compactedObjectKey('data', series, MAR),
        sha256: '0'.repeat(64),
        bytes: 10,
        rowCount: 1,
      },
      minTsMs: MAR,
      maxTsMs: MAR,
      schemaHash: '0'.repeat(64),
      sources: [{ startMs: MAR, sha256: '0'.repeat(64), rowCount: 1 }],
      writerVersion: 'test',
      writtenAtMs: APR,
    };
    checkCompactedManifest('data', mk, series, MAR, m);
    refuses(
      () => checkCompactedManifest('data', mk, series, MAR, { ...m, month: { ...m.month, ...other } }),
      {
        key: mk,
        field: 'month.symbol',
      },
    );
    refuses(
      () =>
        checkCompactedManifest('data', mk, series, MAR, { ...m, month: { ...m.month, endMs: APR + DAY } }),
      { key: mk, field: 'month.endMs', expected: String(APR), found: String(APR + DAY) },
    );
    const foreign = compactedObjectKey('elsewhere', series, MAR);
    refuses(
      () => checkCompactedManifest('data', mk, series, MAR, { ...m, object: { ...m.object, key: foreign } }),
      { key: mk, field: 'object.key', found: JSON.stringify(foreign) },
    );
  });

  it('refuses rows of another series, outside the window, or fewer than the manifest says', () => {
    const w = writeDay('data', series, 1);
    const rows = decodeParquetToBars(w.puts[0]!.body);
    const key = w.manifest.object.key;
    const expect = { series, startMs: day1.startMs, endMs: day1.endMs, rowCount: rows.length };
    checkRows(key, rows, expect);
    const foreign = decodeParquetToBars(writeDay('data', other, 1).puts[0]!.body);
    refuses(() => checkRows(key, foreign, expect), {
      key,
      field: 'row 0 symbol',
      expected: JSON.stringify(series.symbol),
      found: JSON.stringify(other.symbol),
    });
    refuses(() => checkRows(key, rows, { ...expect, series: { ...series, exchange: 'okx' } }), {
      key,
      field: 'row 0 exchange',
    });
    refuses(() => checkRows(key, rows, { ...expect, series: { ...series, timeframe: '5m' } }), {
      key,
      field: 'row 0 timeframe',
    });
    const late = [...rows.slice(0, -1), { ...rows.at(-1)!, eventTimeMs: day1.endMs }];
    refuses(() => checkRows(key, late, expect), {
      key,
      field: `row ${rows.length - 1} eventTimeMs`,
      expected: `in [${day1.startMs}, ${day1.endMs})`,
      found: String(day1.endMs),
    });
    refuses(() => checkRows(key, rows, { ...expect, rowCount: rows.length + 1 }), {
      key,
      field: 'row count',
      expected: String(rows.length + 1),
      found: String(rows.length),
    });
  });

  it('maps keys to relative paths below the tree and refuses any that could leave it', () => {
    const key = objectKey('data', day1);
    assert.equal(localPathOfKey('data', key), key.slice('data/aligned/v1/'.length));
    const month = compactedObjectKey('data', series, Date.UTC(2024, 2, 1));
    assert.equal(localPathOfKey('data', month), month.slice('data/aligned_compacted/v1/'.length));
    for (const [bad, found] of [
      ['data/aligned/v1/../../../../tmp/x.parquet', 'an empty, . or .. segment'],
      ['data/aligned/v1//etc/passwd', 'an empty, . or .. segment'],
      ['data/aligned/v1/./x.parquet', 'an empty, . or .. segment'],
      ['data/aligned/v1/x\0.parquet', 'a control character (U+0000)'],
      ['data/aligned/v1/..\\..\\x.parquet', 'a backslash'],
    ] as const)
      refuses(() => localPathOfKey('data', bad), { key: bad, field: 'key', found });
    for (const bad of [
      'elsewhere/aligned/v1/x.parquet',
      'data/aligned_revisions/v1/x.parquet',
      '/tmp/x.parquet',
    ])
      refuses(() => localPathOfKey('data', bad), {
        key: bad,
        field: 'key',
        expected: 'under data/aligned/v1/ or data/aligned_compacted/v1/',
      });
  });
});

describe('pull range bound', () => {
  it('refuses a range outside [2010, 2100) and says the bound', () => {
    for (const [fromMs, toMs] of [
      [0, 8_640_000_000_000_000],
      [0, T0],
      [T0, Date.UTC(2100, 0, 1) + 1],
    ] as const)
      assert.throws(
        () => checkPullRequest({ ...request, exchanges: [...request.exchanges], fromMs, toMs }),
        (err: unknown) =>
          err instanceof InvalidPullRequest &&
          err.message ===
            `range [${fromMs}, ${toMs}) must lie within [2010-01-01T00:00:00.000Z, 2100-01-01T00:00:00.000Z) ` +
              '(epoch ms 1262304000000 to 4102444800000)',
      );
    checkPullRequest({
      ...request,
      exchanges: [...request.exchanges],
      fromMs: Date.UTC(2010, 0, 1),
      toMs: Date.UTC(2100, 0, 1),
    });
  });
});
