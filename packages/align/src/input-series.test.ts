import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EmissionRecords } from './input-series.js';

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
