import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hex8, hex16, writeDecimalDigits } from './hash-text.js';

const text = (out: Uint8Array, from: number) => String.fromCharCode(...out.subarray(from));

describe('hash text', () => {
  it('writes the digits String(n) has, for every safe integer n ≥ 0', () => {
    const out = new Uint8Array(16);
    for (const n of [0, 9, 10, 99_999_999, 100_000_000, 1_709_251_200_000, Number.MAX_SAFE_INTEGER])
      assert.equal(text(out, writeDecimalDigits(n, out)), String(n));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        assert.equal(text(out, writeDecimalDigits(n, out)), String(n));
      }),
      { numRuns: 2_000 },
    );
  });

  it('writes a lane as toString(16) padded to 8 digits', () => {
    for (const lane of [0, 1, 0x7fffffff, -1, -0x80000000, 0x1234abcd])
      assert.equal(hex8(lane), (lane >>> 0).toString(16).padStart(8, '0'));
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (lane) => {
        assert.equal(hex8(lane), (lane >>> 0).toString(16).padStart(8, '0'));
      }),
    );
  });
  it('writes two lanes as the text of hex8(a) + hex8(b)', () => {
    const pad = (lane: number) => (lane >>> 0).toString(16).padStart(8, '0');
    for (const [a, b] of [
      [0, 0],
      [-1, 1],
      [0x7fffffff, -0x80000000],
      [0x1234abcd, 0x0f0e0d0c],
    ] as const)
      assert.equal(hex16(a, b), pad(a) + pad(b));
    fc.assert(
      fc.property(
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        (a, b) => {
          assert.equal(hex16(a, b), hex8(a) + hex8(b));
        },
      ),
    );
  });
});
