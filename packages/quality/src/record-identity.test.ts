import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleCandle, sampleFunding, sampleLiquidation, sampleOpenInterest } from '@perpflow/contracts';
import fc from 'fast-check';
import { canonicalContent, contentFingerprint, legacyContentFingerprint } from './record-identity.js';
import type { RawRecord } from './record-rules.js';

/** A record of each kind, optional fields null, extreme numbers. */
const SAMPLES = [
  sampleCandle({ quoteVolume: null, trades: 12 }),
  sampleOpenInterest({ openInterestValue: null }),
  sampleFunding({ kind: 'settled' }),
  sampleFunding({ kind: 'predicted', markPrice: null }),
  sampleLiquidation({ side: 'buy', price: 1e-7, amount: 1e21 }),
] as Record<string, unknown>[];

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

/**
 * Version 2 as its documentation defines it, written apart from the implementation: the
 * 32-bit words of the content by sorted key, then the two lanes over them.
 */
function fingerprintV2Reference(record: Record<string, unknown>): string {
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  const stringWords = (tag: number, v: string): number[] => {
    const w = [tag, v.length];
    for (let i = 0; i < v.length; i += 2)
      w.push(i + 1 < v.length ? v.charCodeAt(i) | (v.charCodeAt(i + 1) << 16) : v.charCodeAt(i));
    return w;
  };
  const valueWords = (v: unknown): number[] => {
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return [5];
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, v === 0 ? 0 : v, true);
      return [1, view.getUint32(0, true), view.getUint32(4, true)];
    }
    if (typeof v === 'string') return stringWords(2, v);
    if (typeof v === 'boolean') return [v ? 3 : 4];
    if (v === null || typeof v !== 'object') return [5];
    const text = JSON.stringify(v);
    return text === undefined || text === 'null' ? [5] : stringWords(6, text);
  };
  const fmix = (h0: number) => {
    let h = h0 ^ (h0 >>> 16);
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  // Lane a and lane b over pairs of words (a's word, b's word).
  const run = (a0: number, b0: number, pairs: [number, number][]): [number, number] => {
    let a = a0;
    let b = b0;
    for (const [wa, wb] of pairs) {
      a =
        (Math.imul(rotl(a ^ Math.imul(rotl(Math.imul(wa, 0xcc9e2d51), 15), 0x1b873593), 13), 5) +
          0xe6546b64) |
        0;
      b =
        (Math.imul(rotl(b ^ Math.imul(rotl(Math.imul(wb, 0x85ebca77), 13), 0xc2b2ae3d), 17), 5) +
          0x561ccd1b) |
        0;
    }
    return [a, b];
  };
  const both = (words: number[]): [number, number][] => words.map((w) => [w, w]);
  const keyHash = (key: string): [number, number] => {
    const [a, b] = run(0x9e3779b9 ^ 0x5bd1e995, 0x7f4a7c15 ^ 0x5bd1e995, both(stringWords(2, key)));
    return [fmix(a) | 0, fmix(b ^ 0x27d4eb2f) | 0];
  };
  const keys = Object.keys(record)
    .filter((k) => k !== 'receivedAtMs' && k !== 'source')
    .sort();
  const pairs: [number, number][] = [];
  for (const k of keys) pairs.push(keyHash(k), ...both(valueWords(record[k])));
  pairs.push([keys.length, keys.length]);
  const [la, lb] = run(0x9e3779b9 | 0, 0x7f4a7c15, pairs);
  let a = (la + lb) | 0;
  let b = (lb + a) | 0;
  a = fmix(a);
  b = fmix(b);
  a = (a + b) | 0;
  b = (b + a) | 0;
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** Values whose JSON texts are often equal, or equal in all but their type or a last digit. */
const jsonishValue = fc.oneof(
  fc.constantFrom(0, -0, 1, 1.5, 1 + 2 ** -52, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, 1e21, -1e-7),
  fc.constantFrom('', '1', '0', 'a', 'ab', 'ba', 'a\u0000', '\ud800', 'null', 'true'),
  fc.constantFrom(true, false, null, undefined),
  fc.constantFrom([1], [1, 2], ['1'], { x: 1 }, { x: '1' }, []),
);

describe('contentFingerprint', () => {
  it('is its definition (version 2, which snapshots hold) for any record and every sample', () => {
    const value = fc.oneof(fc.double(), fc.integer(), fc.string({ unit: 'binary' }), jsonishValue);
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 40 }), (record) => {
        assert.equal(contentFingerprint(record as unknown as RawRecord), fingerprintV2Reference(record));
      }),
      { numRuns: 3_000 },
    );
    for (const r of SAMPLES)
      assert.equal(contentFingerprint(r as unknown as RawRecord), fingerprintV2Reference(r));
  });

  it('is equal for two records exactly when their content is the same JSON (keys in any order)', () => {
    const record = fc.dictionary(fc.constantFrom('a', 'b', 'close', 'receivedAtMs', 'source'), jsonishValue, {
      maxKeys: 3,
    });
    let equal = 0;
    fc.assert(
      fc.property(record, record, fc.boolean(), (x, y, reverse) => {
        const y2 = reverse ? Object.fromEntries(Object.entries(y).reverse()) : y;
        const same = canonicalJsonReference(x) === canonicalJsonReference(y2);
        if (same) equal++;
        assert.equal(
          contentFingerprint(x as unknown as RawRecord) === contentFingerprint(y2 as unknown as RawRecord),
          same,
          `${canonicalJsonReference(x)} vs ${canonicalJsonReference(y2)}`,
        );
      }),
      { numRuns: 5_000 },
    );
    // The pool makes equal contents common enough to test both ways.
    assert.ok(equal > 100, `only ${equal} equal pairs`);
  });

  it('changes with the least change of any value of a sample', () => {
    for (const r of [
      sampleCandle({ quoteVolume: 12.5, trades: 12 }),
      sampleOpenInterest(),
      sampleFunding({ kind: 'predicted' }),
      sampleLiquidation({ side: 'buy' }),
    ] as Record<string, unknown>[]) {
      const fp = contentFingerprint(r as unknown as RawRecord);
      for (const [k, v] of Object.entries(r)) {
        if (k === 'receivedAtMs' || k === 'source') continue;
        const changed =
          typeof v === 'number'
            ? Number.isInteger(v)
              ? v + 1
              : v * (1 + 2 ** -52)
            : typeof v === 'string'
              ? `${v.slice(0, -1)}${String.fromCharCode(v.charCodeAt(v.length - 1) ^ 1)}`
              : v === null
                ? 0
                : !v;
        assert.notEqual(contentFingerprint({ ...r, [k]: changed } as unknown as RawRecord), fp, k);
      }
    }
  });
});

describe('legacyContentFingerprint', () => {
  it('is the fingerprint of version 1 (snapshots `v: 1` hold it) for any flat record and every sample', () => {
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
        assert.equal(legacyContentFingerprint(record as unknown as RawRecord), fingerprintReference(record));
      }),
      { numRuns: 3_000 },
    );
    for (const r of SAMPLES)
      assert.equal(legacyContentFingerprint(r as unknown as RawRecord), fingerprintReference(r));
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

  it('is version 1 for a record with more keys than the scratch space (100)', () => {
    const record = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`k${i}`, i % 3 === 0 ? i : i % 3 === 1 ? `s${i}` : i + 0.5]),
    );
    assert.equal(legacyContentFingerprint(record as unknown as RawRecord), fingerprintReference(record));
  });

  it('ignores receivedAtMs and source, and sees any other change', () => {
    const c = sampleCandle();
    const again = { ...c, receivedAtMs: c.receivedAtMs + 5_000, source: 'backfill' as const };
    for (const fingerprint of [contentFingerprint, legacyContentFingerprint]) {
      assert.equal(fingerprint(again as RawRecord), fingerprint(c));
      assert.notEqual(fingerprint({ ...c, close: c.close + 0.5 }), fingerprint(c));
    }
  });
});
