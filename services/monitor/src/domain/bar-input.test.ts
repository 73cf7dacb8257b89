import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleAlignedBar } from '@perpflow/contracts';
import fc from 'fast-check';
import { decodeBarMessage } from './bar-input.js';

const deep = (d: number, open: string, close: string) => open.repeat(d) + close.repeat(d);
const bar = sampleAlignedBar();

const hostile: fc.Arbitrary<Buffer | null> = fc.oneof(
  fc.constant(null),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
  fc.integer({ min: 1, max: 30_000 }).map((d) => Buffer.from(`{"open":${deep(d, '[', ']')}}`)),
  fc
    .integer({ min: 1, max: 12_000 })
    .map((d) => Buffer.from(JSON.stringify(bar).replace('"open":', `"open":${deep(d, '{"a":', '}')},"x":`))),
  fc
    .integer({ min: 60_000, max: 200_000 })
    .map((n) => Buffer.from(JSON.stringify({ ...bar, symbol: 'x'.repeat(n) }))),
  fc
    .constantFrom('1e400', '9'.repeat(400))
    .map((n) => Buffer.from(JSON.stringify(bar).replace('"close":', `"close":${n},"c":`))),
  fc.constant(Buffer.from(JSON.stringify(bar))),
);

describe('the monitor decode path on hostile input', () => {
  it('never throws: every value is a bar or invalid with a contract rule', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        const r = decodeBarMessage(value);
        if ('bar' in r) assert.equal(r.bar.symbol, bar.symbol);
        else assert.match(r.invalid, /^contract\.[a-z_.]+$/);
      }),
      { numRuns: 200 },
    );
  });

  it('calls a 5,000-deep record invalid (contract.type) and a tombstone invalid (contract.required)', () => {
    const value = Buffer.from(JSON.stringify(bar).replace('"open":', `"open":${deep(5_000, '[', ']')},"x":`));
    assert.deepEqual(decodeBarMessage(value), { invalid: 'contract.type' });
    assert.deepEqual(decodeBarMessage(null), { invalid: 'contract.required' });
    assert.deepEqual(decodeBarMessage(Buffer.from(JSON.stringify(bar))), { bar });
  });
});
