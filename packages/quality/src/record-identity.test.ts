import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleCandle, sampleFunding, sampleLiquidation, sampleOpenInterest } from '@perpflow/contracts';
import fc from 'fast-check';
import { canonicalContent, contentFingerprint } from './record-identity.js';
import type { RawRecord } from './record-rules.js';

/** The definition the fingerprints in existing snapshots were made with. */
function canonicalJsonReference(record: Record<string, unknown>): string {
  const { receivedAtMs: _r, source: _s, ...content } = record;
  return JSON.stringify(
    Object.keys(content)
      .sort()
      .map((k) => [k, content[k]]),
  );
}

describe('contentFingerprint', () => {
  it('hashes exactly the canonical JSON of earlier versions, for every record kind', () => {
    for (const r of [
      sampleCandle({ quoteVolume: null, trades: 12 }),
      sampleOpenInterest({ openInterestValue: null }),
      sampleFunding({ kind: 'settled' }),
      sampleFunding({ kind: 'predicted', markPrice: null }),
      sampleLiquidation({ side: 'buy' }),
    ] as Record<string, unknown>[])
      assert.equal(canonicalContent(r), canonicalJsonReference(r));
  });

  it('equals the reference for any flat record: numbers, strings, booleans, null, undefined, key orders', () => {
    const value = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 12 }), (record) => {
        assert.equal(canonicalContent(record), canonicalJsonReference(record));
      }),
      { numRuns: 2_000 },
    );
  });

  it('ignores receivedAtMs and source, and sees any other change', () => {
    const c = sampleCandle();
    const again = { ...c, receivedAtMs: c.receivedAtMs + 5_000, source: 'backfill' as const };
    assert.equal(contentFingerprint(again as RawRecord), contentFingerprint(c));
    assert.notEqual(contentFingerprint({ ...c, close: c.close + 0.5 }), contentFingerprint(c));
  });
});
