import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hex8 } from '@perpflow/contracts';
import { EmissionTable } from './emission-table.js';
import { byColumns, InputSeries } from './input-series.js';

describe('EmissionTable', () => {
  it('holds what a Map of bar time → [revision, hash] holds, in time order, whatever the sets, restores and ranges', () => {
    const lane = fc.integer({ min: -0x80000000, max: 0x7fffffff });
    const op = fc.oneof(
      fc.record({ op: fc.constant('set' as const), t: fc.integer({ min: 0, max: 50 }), a: lane, b: lane }),
      fc.record({
        op: fc.constant('restore' as const),
        t: fc.integer({ min: 0, max: 50 }),
        text: fc.oneof(
          fc.constantFrom('0123456789abcdef', 'ffffffff00000000', 'not-a-hash', 'ABCDEF0123456789'),
        ),
      }),
      fc.record({
        op: fc.constant('range' as const),
        from: fc.oneof(fc.constant(Number.NEGATIVE_INFINITY), fc.integer({ min: 0, max: 50 })),
        cutoff: fc.integer({ min: 0, max: 60 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const table = new EmissionTable();
        const model = new Map<number, [number, string]>();
        ops.forEach((o, i) => {
          if (o.op === 'set') {
            table.set(o.t, i, o.a, o.b);
            model.set(o.t, [i, hex8(o.a) + hex8(o.b)]);
          } else if (o.op === 'restore') {
            table.restore(o.t, i, o.text);
            model.set(o.t, [i, o.text]);
          } else {
            table.deleteRange(o.from, o.cutoff);
            for (const t of [...model.keys()]) if (t >= o.from && t < o.cutoff) model.delete(t);
          }
          const want = [...model.entries()].sort((x, y) => x[0] - y[0]).map(([t, [r, h]]) => [t, r, h]);
          assert.deepEqual(table.entries(), want);
          assert.equal(table.size, model.size);
          for (const [t, [r, h]] of model) {
            const row = table.find(t);
            assert.ok(row >= 0, `bar ${t} not found`);
            assert.equal(table.revisionAt(row), r);
            // A hash equals the lanes it was computed from; a restored text without lanes never does.
            const lanes = /^[0-9a-f]{16}$/.test(h)
              ? [Number.parseInt(h.slice(0, 8), 16) | 0, Number.parseInt(h.slice(8), 16) | 0]
              : null;
            if (lanes) assert.ok(table.sameHash(row, lanes[0]!, lanes[1]!), `bar ${t} hash ${h}`);
            else assert.equal(table.sameHash(row, 0, 0), false, `bar ${t} text ${h}`);
          }
          for (let t = -1; t <= 51; t++) if (!model.has(t)) assert.equal(table.find(t), -1);
        });
      }),
      { numRuns: 1_000 },
    );
  });

  it('keeps a day of bars through appends and prunes from the front', () => {
    const table = new EmissionTable();
    for (let t = 0; t < 10_000; t++) {
      table.set(t, 0, t, -t);
      table.deleteRange(Number.NEGATIVE_INFINITY, t - 1_439);
    }
    assert.equal(table.size, 1_440);
    assert.deepEqual(table.entries()[0], [8_560, 0, hex8(8_560) + hex8(-8_560)]);
    assert.equal(table.find(8_559), -1);
    assert.equal(table.revisionAt(table.find(9_999)), 0);
  });
});

describe('InputSeries', () => {
  it('finds rows and inserts in order as a linear scan would, at the ends and inside', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 })), {
          maxLength: 60,
        }),
        fc.array(
          fc.oneof(
            fc.integer({ min: -5, max: 45 }),
            fc.constantFrom(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY),
          ),
          { maxLength: 20 },
        ),
        (inserts, probes) => {
          const series = new InputSeries(3, 1, byColumns(1));
          const model: number[][] = [];
          for (const [t, v] of inserts) {
            series.upsert([t, v, 0]);
            const i = model.findIndex((r) => r[0]! >= t);
            if (i === -1) model.push([t, v, 0]);
            else if (model[i]![0] !== t) model.splice(i, 0, [t, v, 0]);
            else if (v > model[i]![1]!) model[i] = [t, v, 0];
          }
          assert.deepEqual(series.rows(), model);
          for (const t of probes) {
            const i = model.findIndex((r) => r[0]! >= t);
            assert.equal(series.firstAtOrAfter(t), i === -1 ? model.length : i);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('holds what an array of rows holds through upserts, receipts, prunes and appends at the ends and inside', () => {
    // The model is the array-of-rows series as it was: upsert keeps, per identity, the
    // content `beats` ranks highest and the earliest receipt of that content.
    const op = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          op: fc.constant('upsert' as const),
          t: fc.integer({ min: 0, max: 60 }),
          v: fc.integer({ min: 0, max: 2 }),
          recv: fc.integer({ min: 0, max: 3 }),
        }),
      },
      fc.record({
        op: fc.constant('prune' as const),
        from: fc.oneof(fc.constant(Number.NEGATIVE_INFINITY), fc.integer({ min: 0, max: 60 })),
        cutoff: fc.integer({ min: 0, max: 70 }),
        keep: fc.integer({ min: 0, max: 2 }),
      }),
      // Live data: always newer than what is held, often after a prune from the front.
      {
        weight: 3,
        arbitrary: fc.record({ op: fc.constant('forward' as const), n: fc.integer({ min: 1, max: 12 }) }),
      },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const series = new InputSeries(3, 1, byColumns(1));
        let model: number[][] = [];
        const lowerBound = (t: number) => {
          const i = model.findIndex((r) => r[0]! >= t);
          return i === -1 ? model.length : i;
        };
        const upsert = (row: number[]) => {
          const changed = series.upsert([...row]);
          const i = lowerBound(row[0]!);
          const cur = model[i];
          let want: boolean;
          if (cur === undefined || cur[0] !== row[0]) {
            model.splice(i, 0, row);
            want = true;
          } else if (cur[1] === row[1]) {
            want = row[2]! < cur[2]!;
            if (want) cur[2] = row[2]!;
          } else {
            want = row[1]! > cur[1]!;
            if (want) model[i] = row;
          }
          assert.equal(changed, want, `upsert [${row.join(', ')}]`);
        };
        for (const o of ops) {
          if (o.op === 'upsert') upsert([o.t, o.v, o.recv]);
          else if (o.op === 'forward') {
            const last = model.at(-1)?.[0] ?? 0;
            for (let k = 1; k <= o.n; k++) upsert([last + k, k % 3, 0]);
          } else {
            series.pruneBetween(o.from, o.cutoff, o.keep);
            const a = Number.isFinite(o.from) ? lowerBound(o.from) : 0;
            const b = lowerBound(o.cutoff) - o.keep;
            if (b > a) model = [...model.slice(0, a), ...model.slice(b)];
          }
          assert.deepEqual(series.rows(), model);
          assert.equal(series.size, model.length);
          for (let t = -1; t <= model.length + 62; t += 7) {
            const i = series.at(t);
            assert.equal(
              i,
              model.findIndex((r) => r[0] === t),
            );
            assert.equal(series.lastAtOrBefore(t), lowerBound(t + 1) - 1);
            if (i >= 0) assert.deepEqual([series.key(i), series.get(i, 1), series.get(i, 2)], model[i]);
          }
          assert.equal(series.keyAt(model.length), undefined);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('takes rows of its own width only, and appends only in order', () => {
    const series = new InputSeries(3, 1, byColumns(1));
    assert.throws(() => series.upsert([1, 2]), /a row of 2 numbers, this series holds 3/);
    series.append([5, 1, 0]);
    assert.throws(() => series.append([5, 2, 0]), /does not sort after the last row/);
    assert.deepEqual(series.rows(), [[5, 1, 0]]);
  });

  it('keeps a day of candles through appends and prunes from the front in bounded columns', () => {
    const series = new InputSeries(8, 1, byColumns(1));
    for (let t = 0; t < 20_000; t++) {
      series.upsert([t, 1, 2, 3, 4, 5, 6, t]);
      series.pruneBefore(t - 1_439, 0);
    }
    assert.equal(series.size, 1_440);
    assert.equal(series.key(0), 18_560);
    // 1.25× the rows and a few: not a column that grows with every row ever appended.
    const slots = (series as unknown as { data: Float64Array }).data.length / 8;
    assert.ok(slots <= 1_440 * 1.25 + 16, `${slots} slots`);
  });
});
