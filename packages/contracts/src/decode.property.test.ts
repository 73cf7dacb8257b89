import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeRecord, renderValue } from './parse.js';
import { sampleCandle } from './samples.js';
import { RECORD_SCHEMAS, type RecordKind } from './schemas.js';

const KINDS = Object.keys(RECORD_SCHEMAS) as RecordKind[];
const nest = (d: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < d; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

describe('decodeRecord never throws', () => {
  it('on arbitrary bytes, JSON and deep nesting, for every kind: a value or a violation with a rule', () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.json({ maxDepth: 5 }),
      fc.integer({ min: 1, max: 30_000 }).map((d) => `{"open":${'['.repeat(d)}${']'.repeat(d)}}`),
      fc.integer({ min: 1, max: 12_000 }).map((d) => `{"open":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`),
      fc.constantFrom('1e400', '-1e400', '9'.repeat(500)).map((n) => `{"open":${n}}`),
    );
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), input, (kind, raw) => {
        const r = decodeRecord(kind, raw);
        if (!r.ok) assert.match(r.error.rule, /^[a-z_.]+$/);
      }),
      { numRuns: 300 },
    );
  });

  it('dead-letters a candle whose open is 5,000 arrays deep as contract type, naming open (issue #15)', () => {
    const raw = JSON.stringify(sampleCandle()).replace(
      '"open":',
      `"open":${'['.repeat(5_000)}${']'.repeat(5_000)},"x":`,
    );
    const r = decodeRecord('candle', raw);
    assert.equal(r.ok, false);
    assert.equal(r.ok ? '' : r.error.rule, 'type');
    assert.match(r.ok ? '' : r.error.message, /open: must be of type number \(got object\)/);
  });

  it('renderValue names a value too deep to render instead of throwing', () => {
    assert.match(renderValue(nest(20_000)), /^\(object not renderable: Maximum call stack size exceeded\)$/);
    assert.equal(renderValue(nest(2)), '{"a":[1]}');
  });
});
