import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Candle,
  type Feed,
  SAMPLE_T0_MS,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from '@perpflow/contracts';
import fc from 'fast-check';
import { DEFAULT_QUALITY_CONFIG as CONFIG, parseQualityConfig, type QualityConfig } from './config.js';
import { LEGACY_FINGERPRINT_PREFIX } from './dedupe-series.js';
import { contentFingerprint, legacyContentFingerprint } from './record-identity.js';
import type { RawRecord } from './record-rules.js';
import { type Assessment, SymbolQuality, type SymbolQualitySnapshot } from './symbol-quality.js';

const MIN = 60_000;
const NOW = SAMPLE_T0_MS + 365 * 86_400_000;

/** A closed 1m candle at bar index i (from SAMPLE_T0_MS) with the given close. */
function candleAt(i: number, close: number, overrides: Partial<Candle> = {}): Candle {
  const t = SAMPLE_T0_MS + i * MIN;
  return sampleCandle({
    openTimeMs: t,
    eventTimeMs: t,
    receivedAtMs: t + MIN + 250,
    open: close,
    high: close,
    low: close,
    close,
    volume: 1 + (i % 7),
    ...overrides,
  });
}

function fresh(config: QualityConfig = CONFIG): SymbolQuality {
  return new SymbolQuality('binanceusdm', 'BTC/USDT:USDT', config);
}

function ids(a: Assessment): string[] {
  return a.hits.map((h) => h.ruleId);
}

/** `snapshot` as an earlier version wrote it: `v: 1`, each fingerprint of version 1 (of one of `records`). */
function asVersion1(snapshot: SymbolQualitySnapshot, records: readonly RawRecord[]): SymbolQualitySnapshot {
  const v1 = new Map(records.map((r) => [contentFingerprint(r), legacyContentFingerprint(r)]));
  const copy = JSON.parse(JSON.stringify(snapshot)) as SymbolQualitySnapshot;
  for (const s of Object.values(copy.series))
    for (const e of s.seen) {
      const fp = v1.get(e[2]);
      assert.ok(fp !== undefined, `no record of fingerprint ${e[2]}`);
      e[2] = fp;
    }
  return { ...copy, v: 1 };
}

/** `snapshot` with the version-1 entries it still holds written as version 2 (for comparison). */
function withVersion2(snapshot: SymbolQualitySnapshot, records: readonly RawRecord[]): SymbolQualitySnapshot {
  const v2 = new Map(
    records.map((r) => [`${LEGACY_FINGERPRINT_PREFIX}${legacyContentFingerprint(r)}`, contentFingerprint(r)]),
  );
  const copy = JSON.parse(JSON.stringify(snapshot)) as SymbolQualitySnapshot;
  for (const s of Object.values(copy.series)) for (const e of s.seen) e[2] = v2.get(e[2]) ?? e[2];
  return copy;
}

/** A gently oscillating price path, never flat, never jumping. */
function wiggle(i: number): number {
  return 61_000 + 20 * Math.sin(i / 3) + (i % 5);
}

describe('stream.duplicate and stream.revision', () => {
  it('drops an exact duplicate even when it was received again later', () => {
    const q = fresh();
    assert.equal(q.assess('ohlcv', candleAt(0, 61_000), NOW).verdict, 'accept');
    const again = q.assess('ohlcv', candleAt(0, 61_000, { receivedAtMs: SAMPLE_T0_MS + 99_000 }), NOW);
    assert.equal(again.verdict, 'drop');
    assert.deepEqual(ids(again), ['stream.duplicate']);
  });

  it('keeps a copy received earlier than every copy seen (stream.earlier_receipt) and drops later ones', () => {
    const q = fresh();
    const first = candleAt(0, 61_000, { receivedAtMs: SAMPLE_T0_MS + 62_000 });
    assert.deepEqual(ids(q.assess('ohlcv', first, NOW)), []);
    const earlier = q.assess('ohlcv', { ...first, receivedAtMs: SAMPLE_T0_MS + 60_300 }, NOW);
    assert.equal(earlier.verdict, 'accept');
    assert.deepEqual(ids(earlier), ['stream.earlier_receipt']);
    assert.equal(earlier.hits[0]!.action, 'flag');
    assert.match(
      earlier.hits[0]!.message,
      /candle candle:1m 1709251200000: .*receivedAtMs 1709251260300 < 1709251262000/,
    );
    // The earliest receipt is what is remembered now: the first copy again, or the same one, is a duplicate.
    for (const receivedAtMs of [SAMPLE_T0_MS + 62_000, SAMPLE_T0_MS + 60_300]) {
      const again = q.assess('ohlcv', { ...first, receivedAtMs }, NOW);
      assert.equal(again.verdict, 'drop');
      assert.deepEqual(ids(again), ['stream.duplicate']);
    }
    const [entry, ...rest] = q.snapshot().series['candle:1m']!.seen;
    assert.deepEqual(rest, []);
    assert.deepEqual(
      [entry![0], entry![1], entry![3]],
      ['1709251200000', SAMPLE_T0_MS, SAMPLE_T0_MS + 60_300],
    );
  });

  it('after a revision, judges receipts against the new content only', () => {
    const q = fresh();
    const a = sampleOpenInterest({ receivedAtMs: SAMPLE_T0_MS + 30_100, openInterest: 100 });
    const b = { ...a, receivedAtMs: SAMPLE_T0_MS + 30_500, openInterest: 101 };
    q.assess('open_interest', a, NOW);
    assert.deepEqual(ids(q.assess('open_interest', b, NOW)), ['stream.revision']);
    // Earlier than b's copy: passed on, although a copy of other content was received even earlier.
    assert.deepEqual(ids(q.assess('open_interest', { ...b, receivedAtMs: SAMPLE_T0_MS + 30_200 }, NOW)), [
      'stream.earlier_receipt',
    ]);
    assert.deepEqual(ids(q.assess('open_interest', { ...b, receivedAtMs: SAMPLE_T0_MS + 30_300 }, NOW)), [
      'stream.duplicate',
    ]);
  });

  it('restores a snapshot written without receive times: the next copy passes once, later ones drop', () => {
    const q = fresh();
    const c = candleAt(0, 61_000);
    q.assess('ohlcv', c, NOW);
    const snap = JSON.parse(JSON.stringify(q.snapshot()));
    snap.series['candle:1m'].seen = snap.series['candle:1m'].seen.map((e: unknown[]) => e.slice(0, 3));
    const restored = SymbolQuality.restore(snap, CONFIG);
    const next = restored.assess('ohlcv', c, NOW);
    assert.deepEqual(ids(next), ['stream.earlier_receipt']);
    assert.match(next.hits[0]!.message, /restored without its receive time/);
    assert.deepEqual(ids(restored.assess('ohlcv', c, NOW)), ['stream.duplicate']);
  });

  it('restores a snapshot of fingerprint version 1: its entries are compared by version 1 until they leave', () => {
    const q = fresh();
    const c = candleAt(0, 61_000);
    const d = candleAt(1, 61_010);
    q.assess('ohlcv', c, NOW);
    q.assess('ohlcv', d, NOW);
    const restored = SymbolQuality.restore(asVersion1(q.snapshot(), [c, d]), CONFIG);
    // The same content received later: a duplicate; earlier: kept; changed: a revision.
    assert.deepEqual(ids(restored.assess('ohlcv', { ...c, receivedAtMs: c.receivedAtMs + 1 }, NOW)), [
      'stream.duplicate',
    ]);
    assert.deepEqual(ids(restored.assess('ohlcv', { ...d, receivedAtMs: d.receivedAtMs - 1 }, NOW)), [
      'stream.earlier_receipt',
    ]);
    const changed = restored.assess('ohlcv', { ...c, close: 61_001, high: 61_001 }, NOW);
    assert.deepEqual(ids(changed), ['stream.revision']);
    assert.match(
      changed.hits[0]!.message,
      new RegExp(`content hash ${LEGACY_FINGERPRINT_PREFIX}[0-9a-f]{16} → `),
    );
    // Both entries were remembered again: version 2 now, and a snapshot says so.
    const again = restored.snapshot();
    assert.equal(again.v, 2);
    assert.deepEqual(
      again.series['candle:1m']!.seen.map((e) => e[2]),
      [
        contentFingerprint({ ...d, receivedAtMs: d.receivedAtMs - 1 }),
        contentFingerprint({ ...c, close: 61_001, high: 61_001 } as RawRecord),
      ],
    );
  });

  it('gives the verdicts and state of a run without restore after a version-1 snapshot at any point', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            i: fc.integer({ min: 0, max: 12 }),
            p: fc.integer({ min: 0, max: 2 }),
            late: fc.integer({ min: -2, max: 2 }),
          }),
          { maxLength: 60 },
        ),
        fc.nat(),
        (inputs, cut) => {
          const records = inputs.map((r) =>
            candleAt(r.i, wiggle(r.i) + r.p, { receivedAtMs: SAMPLE_T0_MS + r.i * MIN + MIN + 250 + r.late }),
          );
          const straight = fresh();
          const expected = records.map((r) => straight.assess('ohlcv', r, NOW));
          const at = records.length === 0 ? 0 : cut % records.length;
          let q = fresh();
          const got = records.map((r, k) => {
            if (k === at) q = SymbolQuality.restore(asVersion1(q.snapshot(), records), CONFIG);
            return q.assess('ohlcv', r, NOW);
          });
          assert.deepEqual(
            got.map((a) => ids(a)),
            expected.map((a) => ids(a)),
          );
          assert.deepEqual(withVersion2(q.snapshot(), records), straight.snapshot());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('treats a live and a backfill copy of the same candle as duplicates', () => {
    const q = fresh();
    q.assess('ohlcv', candleAt(0, 61_000, { source: 'live' }), NOW);
    assert.equal(q.assess('ohlcv', candleAt(0, 61_000, { source: 'backfill' }), NOW).verdict, 'drop');
  });

  it('keeps a revision with the same key and different content, flagged', () => {
    const q = fresh();
    q.assess('ohlcv', candleAt(0, 61_000, { closed: false, receivedAtMs: SAMPLE_T0_MS + 30_000 }), NOW);
    const rev = q.assess('ohlcv', candleAt(0, 61_000), NOW);
    assert.equal(rev.verdict, 'accept');
    assert.deepEqual(ids(rev), ['stream.revision']);
    assert.match(rev.hits[0]!.message, /candle candle:1m 1709251200000: content differs/);
  });

  it('keys settled funding by settlement time and predictions by event time', () => {
    const q = fresh();
    const settled = sampleFunding({ kind: 'settled' });
    assert.equal(q.assess('funding', settled, NOW).verdict, 'accept');
    assert.equal(
      q.assess('funding', { ...settled, fundingRate: 0.0002 }, NOW).hits[0]?.ruleId,
      'stream.revision',
    );
    const p1 = sampleFunding({
      kind: 'predicted',
      eventTimeMs: SAMPLE_T0_MS + 1_000,
      fundingTimeMs: SAMPLE_T0_MS + 8 * 3_600_000,
    });
    const p2 = {
      ...p1,
      eventTimeMs: SAMPLE_T0_MS + 2_000,
      receivedAtMs: SAMPLE_T0_MS + 2_500,
      fundingRate: 0.00012,
    };
    assert.deepEqual(ids(q.assess('funding', p1, NOW)), []);
    assert.deepEqual(ids(q.assess('funding', p2, NOW)), []);
  });

  it('drops a liquidation delivered twice and keeps a second, different one at the same time', () => {
    const q = fresh();
    assert.equal(q.assess('liquidation', sampleLiquidation(), NOW).verdict, 'accept');
    assert.equal(q.assess('liquidation', sampleLiquidation(), NOW).verdict, 'drop');
    assert.equal(q.assess('liquidation', sampleLiquidation({ amount: 0.5 }), NOW).verdict, 'accept');
  });
});

describe('stream.out_of_order', () => {
  it('flags an open-interest observation older than the newest one', () => {
    const q = fresh();
    q.assess(
      'open_interest',
      sampleOpenInterest({ eventTimeMs: SAMPLE_T0_MS + 60_000, receivedAtMs: SAMPLE_T0_MS + 60_100 }),
      NOW,
    );
    const late = q.assess('open_interest', sampleOpenInterest(), NOW);
    assert.equal(late.verdict, 'accept');
    assert.deepEqual(ids(late), ['stream.out_of_order']);
    assert.match(late.hits[0]!.message, /arrived 30000 ms behind the newest record/);
  });

  it('does not flag series that interleave legitimately (settled vs predicted funding)', () => {
    const q = fresh();
    q.assess(
      'funding',
      sampleFunding({
        kind: 'predicted',
        eventTimeMs: SAMPLE_T0_MS + 5_000,
        receivedAtMs: SAMPLE_T0_MS + 5_100,
        fundingTimeMs: SAMPLE_T0_MS + 8 * 3_600_000,
      }),
      NOW,
    );
    assert.deepEqual(ids(q.assess('funding', sampleFunding({ kind: 'settled' }), NOW)), []);
  });
});

describe('stream.gap', () => {
  it('reports the number of bars missing in the candle grid', () => {
    const q = fresh();
    q.assess('ohlcv', candleAt(0, 61_000), NOW);
    const after = q.assess('ohlcv', candleAt(4, 61_001), NOW);
    assert.equal(after.verdict, 'accept');
    assert.deepEqual(ids(after), ['stream.gap']);
    assert.match(after.hits[0]!.message, /3 bar\(s\) missing since the previous candle at 1709251200000/);
  });

  it('reports nothing for consecutive candles', () => {
    const q = fresh();
    q.assess('ohlcv', candleAt(0, 61_000), NOW);
    assert.deepEqual(ids(q.assess('ohlcv', candleAt(1, 61_001), NOW)), []);
  });
});

describe('price.jump', () => {
  it('flags a close more than 20% above the previous 1m close', () => {
    const q = fresh();
    q.assess('ohlcv', candleAt(0, 100), NOW);
    const jump = q.assess('ohlcv', candleAt(1, 121), NOW);
    assert.deepEqual(ids(jump), ['price.jump']);
    assert.match(jump.hits[0]!.message, /close 121 is 21\.00% from the previous close 100 .*limit ±20\.00%/);
  });

  it('accepts a 19% move and scales the limit with the bars apart', () => {
    const q = fresh();
    q.assess('ohlcv', candleAt(0, 100), NOW);
    assert.deepEqual(ids(q.assess('ohlcv', candleAt(1, 119), NOW)), []);
    // 4 bars later: limit 20% × sqrt(4) = 40%, so +35% is not a jump (the gap is reported).
    assert.deepEqual(ids(q.assess('ohlcv', candleAt(5, 119 * 1.35), NOW)), ['stream.gap']);
  });
});

describe('price.outlier_mad', () => {
  it('flags a close far outside the rolling median/MAD band', () => {
    const q = fresh();
    for (let i = 0; i < 60; i++) q.assess('ohlcv', candleAt(i, wiggle(i)), NOW);
    const spike = q.assess('ohlcv', candleAt(60, 62_000), NOW);
    assert.deepEqual(ids(spike), ['price.outlier_mad']);
    assert.match(
      spike.hits[0]!.message,
      /MADs from the rolling median .* of 60 closes .*outlier\.madThreshold 10/,
    );
  });

  it('stays silent before minSamples closes and for ordinary moves', () => {
    const q = fresh();
    for (let i = 0; i < 10; i++) q.assess('ohlcv', candleAt(i, wiggle(i)), NOW);
    assert.deepEqual(ids(q.assess('ohlcv', candleAt(10, 62_000), NOW)), []);
    const q2 = fresh();
    for (let i = 0; i < 60; i++) q2.assess('ohlcv', candleAt(i, wiggle(i)), NOW);
    assert.deepEqual(ids(q2.assess('ohlcv', candleAt(60, wiggle(60) + 15), NOW)), []);
  });
});

describe('value.frozen', () => {
  it('flags the 15th traded candle in a row with the identical close', () => {
    const q = fresh();
    for (let i = 0; i < 14; i++) assert.deepEqual(ids(q.assess('ohlcv', candleAt(i, 61_000), NOW)), []);
    const frozen = q.assess('ohlcv', candleAt(14, 61_000), NOW);
    assert.deepEqual(ids(frozen), ['value.frozen']);
    assert.match(frozen.hits[0]!.message, /close 61000 repeated by 15 traded candles in a row/);
  });

  it('does not count candles without trades', () => {
    const q = fresh();
    for (let i = 0; i < 20; i++) q.assess('ohlcv', candleAt(i, 61_000, { volume: i % 2 === 0 ? 0 : 2 }), NOW);
    assert.deepEqual(ids(q.assess('ohlcv', candleAt(20, 61_000, { volume: 0 }), NOW)), []);
  });

  it('flags the 30th identical open-interest value in a row', () => {
    const q = fresh();
    const at = (i: number) =>
      sampleOpenInterest({
        eventTimeMs: SAMPLE_T0_MS + i * 5_000,
        receivedAtMs: SAMPLE_T0_MS + i * 5_000 + 100,
      });
    for (let i = 0; i < 29; i++) assert.deepEqual(ids(q.assess('open_interest', at(i), NOW)), []);
    assert.deepEqual(ids(q.assess('open_interest', at(29), NOW)), ['value.frozen']);
  });
});

describe('SymbolQuality state', () => {
  it('uses the last candle close of the key for the liquidation price band', () => {
    const q = fresh();
    q.assess('ohlcv', candleAt(0, 61_000), NOW);
    const far = q.assess('liquidation', sampleLiquidation({ price: 50_000 }), NOW);
    assert.deepEqual(ids(far), ['liquidation.price_band']);
  });

  it('does not remember a rejected record', () => {
    const q = fresh();
    const bad = candleAt(0, 61_000, { openTimeMs: SAMPLE_T0_MS + 1, eventTimeMs: SAMPLE_T0_MS + 1 });
    assert.equal(q.assess('ohlcv', bad, NOW).verdict, 'reject');
    assert.deepEqual(q.snapshot().series, {});
    const config = parseQualityConfig({ actions: { 'price.jump': 'reject' } });
    const q2 = fresh(config);
    q2.assess('ohlcv', candleAt(0, 100), NOW);
    assert.equal(q2.assess('ohlcv', candleAt(1, 200), NOW).verdict, 'reject');
    // The rejected candle did not become the previous close.
    assert.deepEqual(ids(q2.assess('ohlcv', candleAt(1, 101), NOW)), []);
  });

  it('rejects a record that breaks its contract without touching the state', () => {
    const q = fresh();
    const a = q.assess('ohlcv', { ...candleAt(0, 61_000), close: -1 }, NOW);
    assert.equal(a.verdict, 'reject');
    assert.equal(a.record, null);
    assert.ok(a.hits.every((h) => h.ruleId.startsWith('contract.')));
  });

  it('bounds the identities remembered per stream', () => {
    const config = parseQualityConfig({ dedupe: { maxEntries: 100 } });
    const q = fresh(config);
    for (let i = 0; i < 500; i++) q.assess('ohlcv', candleAt(i, wiggle(i)), NOW);
    const seen = q.snapshot().series['candle:1m']!.seen;
    assert.ok(seen.length <= 100, `remembered ${seen.length}`);
  });

  it('gives the same verdicts after a JSON snapshot and restore at any point', () => {
    const feedRecord = fc.oneof(
      fc.record({
        feed: fc.constant<Feed>('ohlcv'),
        i: fc.integer({ min: 0, max: 40 }),
        p: fc.integer({ min: 90, max: 130 }),
      }),
      fc.record({
        feed: fc.constant<Feed>('open_interest'),
        i: fc.integer({ min: 0, max: 40 }),
        p: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({
        feed: fc.constant<Feed>('liquidation'),
        i: fc.integer({ min: 0, max: 40 }),
        p: fc.integer({ min: 90, max: 130 }),
      }),
    );
    const toRecord = (r: { feed: Feed; i: number; p: number }): unknown =>
      r.feed === 'ohlcv'
        ? candleAt(r.i, r.p)
        : r.feed === 'open_interest'
          ? sampleOpenInterest({
              eventTimeMs: SAMPLE_T0_MS + r.i * MIN,
              receivedAtMs: SAMPLE_T0_MS + r.i * MIN + 5,
              openInterest: r.p,
            })
          : sampleLiquidation({
              eventTimeMs: SAMPLE_T0_MS + r.i * MIN,
              receivedAtMs: SAMPLE_T0_MS + r.i * MIN + 5,
              price: r.p,
            });
    fc.assert(
      fc.property(fc.array(feedRecord, { maxLength: 80 }), fc.nat(), (inputs, cut) => {
        const config = parseQualityConfig({
          outlier: { minSamples: 5 },
          frozen: { candleCloseRun: 3, openInterestRun: 3 },
        });
        const straight = fresh(config);
        const expected = inputs.map((r) => straight.assess(r.feed, toRecord(r), NOW));
        const at = inputs.length === 0 ? 0 : cut % inputs.length;
        let q = fresh(config);
        const got: Assessment[] = [];
        inputs.forEach((r, k) => {
          if (k === at) q = SymbolQuality.restore(JSON.parse(JSON.stringify(q.snapshot())), config);
          got.push(q.assess(r.feed, toRecord(r), NOW));
        });
        assert.deepEqual(got, expected);
        assert.deepEqual(q.snapshot(), straight.snapshot());
      }),
      { numRuns: 150 },
    );
  });

  it('assessRecord (a record already parsed by its contract) gives what assess gives, state included', () => {
    const a = fresh();
    const b = fresh();
    const records: [Feed, unknown][] = [];
    for (let i = 0; i < 90; i++) records.push(['ohlcv', candleAt(i, i === 70 ? 200 : 100 + (i % 5))]);
    records.push(['ohlcv', candleAt(12, 101)]); // a duplicate
    records.push(['ohlcv', candleAt(13, 150)]); // a revision
    records.push(['open_interest', sampleOpenInterest()]);
    records.push(['funding', sampleFunding({ fundingRate: 0.5 })]); // rejected
    records.push(['liquidation', sampleLiquidation()]);
    for (const [feed, r] of records) {
      const viaParse = a.assess(feed, JSON.parse(JSON.stringify(r)), NOW);
      const direct = b.assessRecord(feed, r as Candle, NOW);
      assert.deepEqual(direct, viaParse);
    }
    assert.deepEqual(b.snapshot(), a.snapshot());
  });
});
