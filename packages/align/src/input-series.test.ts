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
          const series = new InputSeries([], 1, byColumns(1));
          const model: number[][] = [];
          for (const [t, v] of inserts) {
            series.upsert([t, v, 0]);
            const i = model.findIndex((r) => r[0]! >= t);
            if (i === -1) model.push([t, v, 0]);
            else if (model[i]![0] !== t) model.splice(i, 0, [t, v, 0]);
            else if (v > model[i]![1]!) model[i] = [t, v, 0];
          }
          assert.deepEqual(series.rows, model);
          for (const t of probes) {
            const i = model.findIndex((r) => r[0]! >= t);
            assert.equal(series.firstAtOrAfter(t), i === -1 ? model.length : i);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
