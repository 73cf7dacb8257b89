import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AlignedBar,
  EXCHANGES,
  LIQUIDATION_COMPLETENESS,
  LIQUIDATION_PRICE_KINDS,
  OPEN_INTEREST_MISSING_REASONS,
  sampleAlignedBar,
  TIMEFRAMES,
} from '@perpflow/contracts';
import fc from 'fast-check';
import {
  barContentHash,
  barContentLanes,
  hashLanesOf,
  hashPrefixOf,
  hashText,
  legacyBarContentLanes,
  legacyHashPrefixOf,
} from './content-hash.js';
import { contentHashReference, contentHashV2Reference } from './test-support/content-hash-reference.js';

const number = fc.oneof(
  fc.double(),
  fc.double({ min: 1e-9, max: 1e9, noNaN: true }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(
    0,
    -0,
    1e21,
    1e-7,
    5e-324,
    Number.MAX_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 53,
    -(2 ** 53) + 1,
    2 ** 53 - 1,
    99_999_999,
    100_000_000,
    100_000_001,
    -100_000_000,
    1e15,
    1e16,
    1_709_251_200_000,
  ),
);
const nullable = fc.option(number, { nil: null });

/** Any bar-shaped object, keys in the contract's order (as computeBar builds them). */
const barArb: fc.Arbitrary<AlignedBar> = fc
  .record({
    exchange: fc.constantFrom(...EXCHANGES),
    symbol: fc.oneof(
      fc.constantFrom('BTC/USDT:USDT', 'ETH/USDT:USDT-250328'),
      fc.string(),
      fc.string({ unit: 'grapheme' }),
    ),
    timeframe: fc.constantFrom(...TIMEFRAMES),
    eventTimeMs: number,
    open: number,
    high: number,
    low: number,
    close: number,
    volume: number,
    openInterest: nullable,
    openInterestTimeMs: nullable,
    openInterestMissing: fc.constantFrom(null, ...OPEN_INTEREST_MISSING_REASONS),
    fundingRate: nullable,
    fundingTimeMs: nullable,
    predictedFundingRate: nullable,
    predictedFundingTimeMs: nullable,
    fundingIntervalMs: nullable,
    fundingRate8h: nullable,
    markPrice: nullable,
    markPriceTimeMs: nullable,
    indexPrice: nullable,
    indexPriceTimeMs: nullable,
    basis: nullable,
    liqLongNotional: nullable,
    liqShortNotional: nullable,
    liqCount: fc.option(fc.nat()),
    liqPriceKind: fc.constantFrom(null, ...LIQUIDATION_PRICE_KINDS),
    liqCompleteness: fc.constantFrom(...LIQUIDATION_COMPLETENESS),
    knownAtMs: number,
    revision: fc.nat(),
    candleFilled: fc.boolean(),
    openInterestStale: fc.boolean(),
    fundingStale: fc.boolean(),
  })
  .map((v) => sampleAlignedBar(v as Partial<AlignedBar>));

describe('barContentHash', () => {
  it('is its definition (version 2: the words of every value but the revision, in key order) for any values', () => {
    fc.assert(
      fc.property(barArb, (bar) => {
        assert.deepEqual(Object.keys(bar), Object.keys(sampleAlignedBar()));
        const prefix = hashPrefixOf(bar.exchange, bar.symbol, bar.timeframe);
        assert.equal(barContentHash(bar, prefix), contentHashV2Reference(bar));
      }),
      { numRuns: 5_000 },
    );
  });

  it('is equal for two bars exactly when their values are the same JSON (-0 as 0, NaN as null)', () => {
    const value = fc.constantFrom(0, -0, 1, 1 + 2 ** -52, Number.NaN, Number.POSITIVE_INFINITY, null);
    const base = sampleAlignedBar({ liqCompleteness: 'all' });
    const prefix = hashPrefixOf(base.exchange, base.symbol, base.timeframe);
    const fields = ['open', 'fundingRate', 'basis', 'liqCount'] as const;
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 4, maxLength: 4 }),
        fc.array(value, { minLength: 4, maxLength: 4 }),
        (xs, ys) => {
          const x = { ...base, ...Object.fromEntries(fields.map((f, i) => [f, xs[i]])) } as AlignedBar;
          const y = { ...base, ...Object.fromEntries(fields.map((f, i) => [f, ys[i]])) } as AlignedBar;
          const same = JSON.stringify(x) === JSON.stringify(y);
          assert.equal(barContentHash(x, prefix) === barContentHash(y, prefix), same);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('keeps version 1, the FNV lanes of JSON.stringify(Object.values(bar without revision)), for any values', () => {
    fc.assert(
      fc.property(barArb, (bar) => {
        const lanes = { a: 0, b: 0 };
        legacyBarContentLanes(bar, legacyHashPrefixOf(bar.exchange, bar.symbol, bar.timeframe), lanes);
        assert.equal(hashText(lanes), contentHashReference(bar));
      }),
      { numRuns: 5_000 },
    );
  });

  it('ignores the revision and sees any change of content', () => {
    const bar = sampleAlignedBar();
    const prefix = hashPrefixOf(bar.exchange, bar.symbol, bar.timeframe);
    assert.equal(barContentHash({ ...bar, revision: 7 }, prefix), barContentHash(bar, prefix));
    assert.notEqual(barContentHash({ ...bar, close: bar.close + 0.5 }, prefix), barContentHash(bar, prefix));
    assert.notEqual(
      barContentHash({ ...bar, fundingStale: !bar.fundingStale }, prefix),
      barContentHash(bar, prefix),
    );
  });

  it('keeps the hash as two lanes whose snapshot text is the hash, and reads that text back', () => {
    fc.assert(
      fc.property(barArb, (bar) => {
        const prefix = hashPrefixOf(bar.exchange, bar.symbol, bar.timeframe);
        const lanes = { a: 0, b: 0 };
        barContentLanes(bar, prefix, lanes);
        const text = hashText(lanes);
        assert.equal(text, barContentHash(bar, prefix));
        assert.deepEqual(hashLanesOf(text), lanes);
      }),
      { numRuns: 1_000 },
    );
    // Text no hash has: lanes equal to nothing (as the text equalled no computed hash).
    for (const text of ['', 'ABCDEF0123456789', '0123456789abcdef0', '0123456789abcdeg', 'NaN'])
      assert.ok(Number.isNaN(hashLanesOf(text).a) && Number.isNaN(hashLanesOf(text).b), text);
  });
});
