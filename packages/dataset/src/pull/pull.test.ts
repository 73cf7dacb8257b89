import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlignedBar } from '@perpflow/contracts';
import { seriesIndexKey } from '../layout/keys.js';
import type { SeriesIndex } from '../manifest/schemas.js';
import { upsertSeriesIndex } from '../manifest/series-index.js';
import { prepareWindowWrite } from '../manifest/window-write.js';
import { decodeParquetToBars } from '../parquet/decode.js';
import { makeBars, T0 } from '../test-support/bars.js';
import { InvalidPullRequest, objectsToFetch, planPull, seriesToPull } from './plan.js';
import { findBarGaps, ObjectIntegrityError, selectRows, verifyObject } from './select.js';

const DAY = 86_400_000;
const MIN = 60_000;
const series = { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m' } as const;

function writeDay(day: number, latest: AlignedBar[], superseded: AlignedBar[] = [], closed = true) {
  return prepareWindowWrite({
    prefix: 'data',
    window: { ...series, unit: 'day', startMs: T0 + day * DAY },
    latest,
    superseded,
    kafkaOffsets: [],
    watermarkMs: null,
    closed,
    writtenAtMs: T0 + (day + 1) * DAY,
  });
}

describe('pull planning', () => {
  it('asks for one index per (exchange, symbol) and refuses empty or reversed ranges', () => {
    const keys = seriesToPull('data', {
      exchanges: ['okx', 'binanceusdm'],
      symbols: ['BTC/USDT:USDT', 'BTC/USDT:USDT'],
      timeframe: '1m',
      fromMs: T0,
      toMs: T0 + DAY,
    });
    assert.deepEqual(
      keys.map((k) => k.series.exchange),
      ['binanceusdm', 'okx'],
    );
    assert.throws(
      () =>
        seriesToPull('data', {
          exchanges: ['okx'],
          symbols: ['X/Y:Z'],
          timeframe: '1m',
          fromMs: T0,
          toMs: T0,
        }),
      InvalidPullRequest,
    );
  });

  it('fetches the windows the index lists in range and reports the missing ones', () => {
    const d0 = writeDay(0, makeBars({ count: 1440 }));
    const d2 = writeDay(2, makeBars({ count: 1440, startMs: T0 + 2 * DAY }));
    let ix: SeriesIndex | null = null;
    for (const w of [d0, d2]) ix = upsertSeriesIndex(ix, w.manifest, w.manifestKey);
    const request = {
      exchanges: ['binanceusdm', 'bybit'] as const,
      symbols: ['BTC/USDT:USDT'],
      timeframe: '1m' as const,
      fromMs: T0 + 12 * 3_600_000,
      toMs: T0 + 3 * DAY,
    };
    const indexes = new Map([[seriesIndexKey('data', series), ix]]);
    const [binance, bybit] = planPull('data', { ...request, exchanges: [...request.exchanges] }, indexes);
    assert.deepEqual(
      binance!.windows.map((w) => w.startMs),
      [T0, T0 + 2 * DAY],
    );
    assert.deepEqual(binance!.missingWindows, [{ startMs: T0 + DAY, endMs: T0 + 2 * DAY }]);
    assert.equal(bybit!.indexFound, false);
    assert.equal(bybit!.missingWindows.length, 3);
  });

  it('verifies downloads against the manifest', () => {
    const w = writeDay(0, makeBars({ count: 10 }));
    const body = w.puts[0]!.body;
    verifyObject(body, w.manifest.object);
    const flipped = body.slice();
    flipped[100] = (flipped[100]! + 1) % 256;
    assert.throws(() => verifyObject(flipped, w.manifest.object), ObjectIntegrityError);
    assert.throws(() => verifyObject(body.subarray(1), w.manifest.object), ObjectIntegrityError);
  });
});

describe('as-of selection', () => {
  // Bar 0: revision 0 known at +1 min, revision 1 known at +1 h. Bar 1: only revision 0, known at +2 h.
  const [b0, b1, b2] = makeBars({ count: 3 }) as [AlignedBar, AlignedBar, AlignedBar];
  const r0 = { ...b0, revision: 0, knownAtMs: T0 + MIN, close: 100 };
  const r1 = { ...b0, revision: 1, knownAtMs: T0 + 60 * MIN, close: 101 };
  const late = { ...b1, knownAtMs: T0 + 120 * MIN };
  const w = writeDay(0, [r1, late, b2], [r0]);
  const latest = decodeParquetToBars(w.puts[0]!.body);
  const superseded = decodeParquetToBars(w.puts[1]!.body);
  const range = { fromMs: T0, toMs: T0 + DAY };

  it('returns the last revisions without asOf', () => {
    const s = selectRows(latest, superseded, range);
    assert.deepEqual(
      s.rows.map((r) => r.close),
      [101, late.close, b2.close],
    );
    assert.equal(objectsToFetch(w.manifest).revisions, null);
  });

  it('returns the revision known at asOf, and leaves out bars not known yet', () => {
    const asOfMs = T0 + 30 * MIN;
    assert.ok(objectsToFetch(w.manifest, asOfMs).revisions, 'needs the revisions object');
    const s = selectRows(latest, superseded, { ...range, asOfMs });
    assert.deepEqual(
      s.rows.map((r) => [r.eventTimeMs, r.revision, r.close]),
      [
        [b0.eventTimeMs, 0, 100],
        [b2.eventTimeMs, 0, b2.close],
      ],
    );
    assert.equal(s.notYetKnown, 1);
    assert.equal(s.olderRevisions, 1);
    assert.ok(
      s.rows.every((r) => r.knownAtMs <= asOfMs),
      'no look-ahead',
    );
  });

  it('without the revisions object, excludes a bar revised after asOf instead of showing its old form', () => {
    const s = selectRows(latest, [], { ...range, asOfMs: T0 + 30 * MIN });
    assert.deepEqual(
      s.rows.map((r) => r.eventTimeMs),
      [b2.eventTimeMs],
    );
    assert.equal(s.notYetKnown, 2);
  });

  it('needs no revisions object for an asOf after every known_at in the window', () => {
    assert.equal(objectsToFetch(w.manifest, T0 + DAY).revisions, null);
  });
});

describe('gaps', () => {
  it('reports missing bar times inside closed windows and up to the last row of open ones', () => {
    const bars = makeBars({ count: 10 }).filter((b) => ![3, 4, 7].includes((b.eventTimeMs - T0) / MIN));
    const gaps = findBarGaps(bars, '1m', T0, T0 + 10 * MIN, [
      { startMs: T0, endMs: T0 + DAY, closed: false, maxTsMs: T0 + 9 * MIN },
    ]);
    assert.deepEqual(gaps, [
      { startMs: T0 + 3 * MIN, endMs: T0 + 5 * MIN, missingBars: 2 },
      { startMs: T0 + 7 * MIN, endMs: T0 + 8 * MIN, missingBars: 1 },
    ]);
    const open = findBarGaps(bars, '1m', T0, T0 + DAY, [
      { startMs: T0, endMs: T0 + DAY, closed: false, maxTsMs: T0 + 9 * MIN },
    ]);
    assert.equal(
      open.reduce((n, g) => n + g.missingBars, 0),
      3,
      'an open window is not missing what is not written yet',
    );
    const closed = findBarGaps(bars, '1m', T0, T0 + DAY, [
      { startMs: T0, endMs: T0 + DAY, closed: true, maxTsMs: T0 + 9 * MIN },
    ]);
    assert.equal(
      closed.reduce((n, g) => n + g.missingBars, 0),
      3 + 1430,
    );
  });
});
