import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { median, medianAbsoluteDeviation } from './robust-stats.js';

/** The definition: sort, take the middle (the implementation selects instead of sorting). */
function sortedMedian(values: number[]): number {
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

describe('robust stats', () => {
  it('median and MAD equal the sorted definition for any list, duplicates and ties included', () => {
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
      fc.integer({ min: -3, max: 3 }), // many ties
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 200 }), (values) => {
        const m = median(values);
        assert.ok(Object.is(m, sortedMedian(values)) || m === sortedMedian(values));
        const mad = medianAbsoluteDeviation(values, m);
        assert.equal(mad, sortedMedian(values.map((v) => Math.abs(v - m))));
      }),
      { numRuns: 2_000 },
    );
  });

  it('does not change its input and keeps NaN last like a sort', () => {
    const input = Float64Array.from([5, 1, 4, 2, 3]);
    assert.equal(median(input), 3);
    assert.deepEqual([...input], [5, 1, 4, 2, 3]);
    assert.equal(median([1, Number.NaN, 2]), 2);
    assert.equal(medianAbsoluteDeviation([1, 2, 3, 4]), 1);
    assert.throws(() => median([]), RangeError);
  });
});
