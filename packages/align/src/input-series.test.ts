import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { byColumns, EmissionRecords, InputSeries } from './input-series.js';

describe('EmissionRecords', () => {
  it('deleteRange removes exactly the keys in [from, cutoff), whatever the order of sets, deletes and ranges', () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('set' as const), t: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ op: fc.constant('delete' as const), t: fc.integer({ min: 0, max: 50 }) }),
      fc.record({
        op: fc.constant('range' as const),
        from: fc.oneof(fc.constant(Number.NEGATIVE_INFINITY), fc.integer({ min: 0, max: 50 })),
        cutoff: fc.integer({ min: 0, max: 60 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const records = new EmissionRecords<number>();
        const model = new Map<number, number>();
        ops.forEach((o, i) => {
          if (o.op === 'set') {
            records.set(o.t, i);
            model.set(o.t, i);
          } else if (o.op === 'delete') {
            records.delete(o.t);
            model.delete(o.t);
          } else {
            records.deleteRange(o.from, o.cutoff);
            for (const t of [...model.keys()]) if (t >= o.from && t < o.cutoff) model.delete(t);
          }
          assert.deepEqual([...records.entries()], [...model.entries()]);
        });
      }),
      { numRuns: 1_000 },
    );
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
