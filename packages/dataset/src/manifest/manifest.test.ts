import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlignedBar } from '@perpflow/contracts';
import fc from 'fast-check';
import { sha256Hex } from '../hash.js';
import { manifestKey, type WindowId } from '../layout/keys.js';
import { decodeParquetToBars } from '../parquet/decode.js';
import { ALIGNED_BAR_SCHEMA_HASH } from '../parquet/encode.js';
import { makeBars, T0 } from '../test-support/bars.js';
import { datasetJsonSchemas } from './json-schema.js';
import { WindowManifestSchema } from './schemas.js';
import {
  IndexMismatch,
  parseSeriesIndex,
  rebuildSeriesIndex,
  serializeSeriesIndex,
  upsertSeriesIndex,
} from './series-index.js';
import {
  parseWindowManifest,
  prepareWindowWrite,
  WindowContentError,
  mergeOffsetSpans,
} from './window-write.js';

const DAY = 86_400_000;
const win = (startMs = T0): WindowId => ({
  exchange: 'binanceusdm',
  symbol: 'BTC/USDT:USDT',
  timeframe: '1m',
  unit: 'day',
  startMs,
});
const offsets = [{ topic: 'perpflow.aligned.bar.v1', partition: 3, firstOffset: '100', lastOffset: '1539' }];

function write(startMs: number, writtenAtMs: number, latest?: AlignedBar[], superseded: AlignedBar[] = []) {
  return prepareWindowWrite({
    prefix: 'data',
    window: win(startMs),
    latest: latest ?? makeBars({ count: 1440, startMs, seed: startMs % 97 }),
    superseded,
    kafkaOffsets: offsets,
    watermarkMs: startMs + DAY,
    closed: true,
    writtenAtMs,
  });
}

describe('window write and manifest', () => {
  it('describes the object it writes: rows, min/max ts, sha256, bytes, schema hash, quality', () => {
    const latest = makeBars({ count: 1440, seed: 4 });
    latest[10] = { ...latest[10]!, revision: 1 };
    const { puts, manifest, manifestKey: mk } = write(T0, T0 + DAY + 5_000, latest);
    assert.deepEqual(
      puts.map((p) => p.key),
      [manifest.object.key, mk],
      'object first, manifest last; no revisions object without superseded rows',
    );
    const body = puts[0]!.body;
    assert.equal(manifest.object.sha256, sha256Hex(body));
    assert.equal(manifest.object.bytes, body.byteLength);
    assert.equal(manifest.object.rowCount, 1440);
    assert.equal(manifest.minTsMs, T0);
    assert.equal(manifest.maxTsMs, T0 + 1439 * 60_000);
    assert.equal(manifest.schemaHash, ALIGNED_BAR_SCHEMA_HASH);
    assert.equal(manifest.revisions, null);
    assert.equal(manifest.closed, true);
    assert.equal(manifest.quality.revised, 1);
    assert.equal(manifest.quality.filled, latest.filter((b) => b.candleFilled).length);
    assert.equal(manifest.quality.openInterestMissing, latest.filter((b) => b.openInterest === null).length);
    assert.deepEqual(manifest.kafkaOffsets, offsets);
    assert.equal(mk, manifestKey('data', win()));
    assert.deepEqual(parseWindowManifest(puts[1]!.body), manifest);
    assert.deepEqual(decodeParquetToBars(body), latest);
  });

  it('writes superseded revisions to their own object, listed in the manifest', () => {
    const latest = makeBars({ count: 5, seed: 2 }).map((b) => ({
      ...b,
      revision: 1,
      knownAtMs: b.knownAtMs + 9_000,
    }));
    const old = latest.slice(0, 2).map((b) => ({ ...b, revision: 0, knownAtMs: b.knownAtMs - 9_000 }));
    const { puts, manifest } = write(T0, T0 + DAY, latest, old);
    assert.equal(puts.length, 3);
    assert.ok(manifest.revisions);
    assert.match(manifest.revisions.key, /^data\/aligned_revisions\/v1\//);
    assert.equal(manifest.revisions.rowCount, 2);
    assert.equal(manifest.maxKnownAtMs, Math.max(...latest.map((b) => b.knownAtMs)));
    assert.deepEqual(decodeParquetToBars(puts[1]!.body), old);
  });

  it('gives the same bytes and manifest for the same input (replay writes identical objects)', () => {
    const a = write(T0, T0 + DAY);
    const b = write(T0, T0 + DAY);
    assert.deepEqual(
      a.puts.map((p) => p.sha256),
      b.puts.map((p) => p.sha256),
    );
  });

  it('refuses rows of another series, outside the window, or twice the same bar time', () => {
    const bars = makeBars({ count: 3 });
    assert.throws(() => write(T0, T0, [...bars, { ...bars[0]!, eventTimeMs: T0 + DAY }]), WindowContentError);
    assert.throws(() => write(T0, T0, [{ ...bars[0]!, symbol: 'ETH/USDT:USDT' }]), WindowContentError);
    assert.throws(() => write(T0, T0, [bars[0]!, { ...bars[0]!, revision: 1 }]), WindowContentError);
    // Duplicates are found wherever they sit in the input (rows are sorted first).
    assert.throws(
      () => write(T0, T0, [bars[2]!, bars[0]!, bars[1]!, { ...bars[2]!, revision: 3 }]),
      /two rows for \d+ in window/,
    );
    // Older revisions: several per bar time, but never one revision twice.
    const older = { ...bars[1]!, revision: 0 };
    const latest = [bars[0]!, { ...bars[1]!, revision: 2 }, bars[2]!];
    assert.equal(write(T0, T0, latest, [{ ...older, revision: 1 }, older]).manifest.revisions?.rowCount, 2);
    assert.throws(
      () => write(T0, T0, latest, [older, { ...bars[0]! }, older]),
      /two rows for \d+\|0 in window/,
    );
  });

  it('validates manifests: bad sha, rows outside the window, offsets out of order', () => {
    const { manifest } = write(T0, T0 + DAY);
    assert.equal(WindowManifestSchema.safeParse(manifest).success, true);
    const bad = [
      { ...manifest, object: { ...manifest.object, sha256: 'ABC' } },
      { ...manifest, maxTsMs: T0 + DAY },
      { ...manifest, minTsMs: null },
      { ...manifest, kafkaOffsets: [{ ...offsets[0]!, firstOffset: '2000' }] },
      { ...manifest, kafkaOffsets: [{ ...offsets[0]!, lastOffset: '-1' }] },
      { ...manifest, quality: { ...manifest.quality, filled: 5000 } },
      { ...manifest, writtenAtMs: 1_700_000_000 },
    ];
    for (const m of bad)
      assert.equal(WindowManifestSchema.safeParse(m).success, false, JSON.stringify(m).slice(0, 80));
  });

  it('exports JSON Schemas for the manifest and the index', () => {
    const s = datasetJsonSchemas();
    assert.equal(s.window_manifest.title, 'window_manifest');
    assert.ok(JSON.stringify(s.series_index).includes('"windows"'));
  });
});

describe('series index', () => {
  it('lists windows in order, one entry per window, last write winning', () => {
    const d1 = write(T0, T0 + DAY);
    const d2 = write(T0 + DAY, T0 + 2 * DAY);
    const d1again = write(T0, T0 + 3 * DAY, makeBars({ count: 10 }));
    let ix = upsertSeriesIndex(null, d2.manifest, d2.manifestKey);
    ix = upsertSeriesIndex(ix, d1.manifest, d1.manifestKey);
    ix = upsertSeriesIndex(ix, d1again.manifest, d1again.manifestKey);
    assert.deepEqual(
      ix.windows.map((e) => [e.startMs, e.rowCount]),
      [
        [T0, 10],
        [T0 + DAY, 1440],
      ],
    );
    assert.equal(ix.updatedAtMs, T0 + 3 * DAY);
    assert.deepEqual(parseSeriesIndex(serializeSeriesIndex(ix)), ix);
  });

  it('is idempotent and independent of the order manifests are applied in (property)', () => {
    const writes = [0, 1, 2].flatMap((d) =>
      [1, 2].map((v) =>
        write(T0 + d * DAY, T0 + (d + v) * DAY, makeBars({ count: v, startMs: T0 + d * DAY })),
      ),
    );
    const expected = rebuildSeriesIndex(writes.map((w) => ({ manifest: w.manifest, key: w.manifestKey })));
    fc.assert(
      fc.property(fc.array(fc.nat({ max: writes.length - 1 }), { minLength: writes.length * 2 }), (order) => {
        const seq = [...writes.map((_, i) => i), ...order].map((i) => writes[i]!);
        const ix = rebuildSeriesIndex(seq.map((w) => ({ manifest: w.manifest, key: w.manifestKey })));
        assert.deepEqual(ix, expected);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a manifest of another series', () => {
    const ix = upsertSeriesIndex(null, write(T0, T0).manifest, 'k');
    const other = prepareWindowWrite({
      prefix: 'data',
      window: { ...win(), symbol: 'ETH/USDT:USDT' },
      latest: makeBars({ count: 1, symbol: 'ETH/USDT:USDT' }),
      superseded: [],
      kafkaOffsets: [],
      watermarkMs: null,
      closed: false,
      writtenAtMs: T0,
    });
    assert.throws(() => upsertSeriesIndex(ix, other.manifest, other.manifestKey), IndexMismatch);
  });
});

describe('offset spans', () => {
  it('unions spans per topic-partition across writes of a window, in topic-partition order', () => {
    const span = (partition: number, firstOffset: string, lastOffset: string) => ({
      topic: 't',
      partition,
      firstOffset,
      lastOffset,
    });
    assert.deepEqual(
      mergeOffsetSpans([span(1, '10', '20'), span(0, '5', '5')], [span(1, '3', '12'), span(2, '7', '9')]),
      [span(0, '5', '5'), span(1, '3', '20'), span(2, '7', '9')],
    );
    assert.deepEqual(mergeOffsetSpans([], []), []);
  });
});
