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

/** The fingerprint as earlier versions computed it: FNV lanes over the canonical JSON text. */
function fingerprintReference(record: Record<string, unknown>): string {
  const text = canonicalJsonReference(record);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

describe('contentFingerprint', () => {
  it('is the fingerprint of earlier versions (snapshots hold it) for any flat record and every sample', () => {
    const value = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.constantFrom(
        0,
        -0,
        2 ** 53,
        2 ** 53 - 1,
        -(2 ** 53) + 1,
        99_999_999,
        1e8,
        1e8 + 1,
        -1e8,
        1e15,
        1e16,
        1e21,
        9_999_999_999_999,
        1_709_251_200_000,
      ),
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u007f', '\ud800', 'A', '/', ':') }),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 80 }), (record) => {
        assert.equal(contentFingerprint(record as unknown as RawRecord), fingerprintReference(record));
      }),
      { numRuns: 3_000 },
    );
    for (const r of [
      sampleCandle({ quoteVolume: null, trades: 12 }),
      sampleOpenInterest({ openInterestValue: null }),
      sampleFunding({ kind: 'settled' }),
      sampleFunding({ kind: 'predicted', markPrice: null }),
      sampleLiquidation({ side: 'buy', price: 1e-7, amount: 1e21 }),
    ] as Record<string, unknown>[])
      assert.equal(contentFingerprint(r as unknown as RawRecord), fingerprintReference(r));
  });

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

  it('is the earlier fingerprint for a record with more keys than the scratch space (100)', () => {
    const record = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`k${i}`, i % 3 === 0 ? i : i % 3 === 1 ? `s${i}` : i + 0.5]),
    );
    assert.equal(contentFingerprint(record as unknown as RawRecord), fingerprintReference(record));
  });

  it('ignores receivedAtMs and source, and sees any other change', () => {
    const c = sampleCandle();
    const again = { ...c, receivedAtMs: c.receivedAtMs + 5_000, source: 'backfill' as const };
    assert.equal(contentFingerprint(again as RawRecord), contentFingerprint(c));
    assert.notEqual(contentFingerprint({ ...c, close: c.close + 0.5 }), contentFingerprint(c));
  });
});
