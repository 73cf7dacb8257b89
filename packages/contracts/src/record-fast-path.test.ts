import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ContractViolation } from './errors.js';
import {
  EXCHANGES,
  LIQUIDATION_COMPLETENESS,
  LIQUIDATION_PRICE_KINDS,
  OPEN_INTEREST_MISSING_REASONS,
} from './exchanges.js';
import { decodeRecord, parseRecord, toContractIssues } from './parse.js';
import { fastPathKinds, parseRecordFast } from './record-fast-path.js';
import {
  sampleAlignedBar,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from './samples.js';
import { RECORD_SCHEMAS, type RecordKind } from './schemas.js';
import { MAX_EPOCH_MS, MIN_EPOCH_MS, TIMEFRAMES } from './time.js';

type RawKind = 'candle' | 'open_interest' | 'funding' | 'liquidation';
const RAW_KINDS: RawKind[] = ['candle', 'open_interest', 'funding', 'liquidation'];
/** The kinds with a fast path: the four raw ones and the aligned bar. */
type FastKind = RawKind | 'aligned_bar';
const FAST_KINDS: FastKind[] = [...RAW_KINDS, 'aligned_bar'];

/** What parseRecord answered before the fast path: zod alone. */
function zodOnly(kind: RecordKind, input: unknown) {
  const res = RECORD_SCHEMAS[kind].safeParse(input);
  if (res.success) return { ok: true as const, value: res.data as unknown };
  const error = new ContractViolation(kind, toContractIssues(res.error, input));
  return { ok: false as const, message: error.message, rule: error.rule, field: error.field };
}

function viaParseRecord(kind: RecordKind, input: unknown) {
  const res = parseRecord(kind, input);
  if (res.ok) return { ok: true as const, value: res.value as unknown };
  return { ok: false as const, message: res.error.message, rule: res.error.rule, field: res.error.field };
}

// Valid values, boundaries included.
const epochMs = fc.oneof(
  fc.integer({ min: MIN_EPOCH_MS, max: MAX_EPOCH_MS }),
  fc.constantFrom(MIN_EPOCH_MS, MAX_EPOCH_MS, 1_709_251_200_000),
);
const positive = fc.oneof(
  fc.double({ min: 5e-324, max: 1e12, noNaN: true }),
  fc.constantFrom(5e-324, 1, 61_000.5, Number.MAX_VALUE),
);
const nonNegative = fc.oneof(positive, fc.constantFrom(0, -0));
const symbol = fc.oneof(
  fc.constantFrom('BTC/USDT:USDT', 'ETH/USD:ETH', 'BTC/USDT:USDT-250328', `${'A'.repeat(24)}/USDT:USDT`),
  fc.stringMatching(/^[A-Z0-9]{1,24}\/[A-Z0-9]{1,12}:[A-Z0-9]{1,12}(-[0-9]{6})?$/),
);
const base = {
  schemaVersion: fc.constant(1),
  exchange: fc.constantFrom(...EXCHANGES),
  symbol,
  eventTimeMs: epochMs,
  receivedAtMs: epochMs,
  source: fc.constantFrom('live', 'backfill'),
};
/** OHLC from a few values, so that the candle's refinement holds and fails often. */
const price = fc.constantFrom(1, 2, 3, 4, 2.5);

const finite = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0));
const count = fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER));

const validOf: Record<FastKind, fc.Arbitrary<Record<string, unknown>>> = {
  aligned_bar: fc
    .record({
      schemaVersion: fc.constant(1),
      exchange: fc.constantFrom(...EXCHANGES),
      symbol,
      timeframe: fc.constantFrom(...TIMEFRAMES),
      eventTimeMs: epochMs,
      open: price,
      high: price,
      low: price,
      close: price,
      volume: nonNegative,
      openInterest: fc.option(nonNegative, { nil: null }),
      openInterestTimeMs: fc.option(epochMs, { nil: null }),
      openInterestMissing: fc.constantFrom(...OPEN_INTEREST_MISSING_REASONS),
      fundingRate: fc.option(finite, { nil: null }),
      fundingTimeMs: fc.option(epochMs, { nil: null }),
      predictedFundingRate: fc.option(finite, { nil: null }),
      predictedFundingTimeMs: fc.option(epochMs, { nil: null }),
      fundingIntervalMs: fc.option(fc.oneof(fc.integer({ min: 1 }), fc.constant(28_800_000)), { nil: null }),
      fundingRate8h: fc.option(finite, { nil: null }),
      markPrice: fc.option(positive, { nil: null }),
      markPriceTimeMs: fc.option(epochMs, { nil: null }),
      indexPrice: fc.option(positive, { nil: null }),
      indexPriceTimeMs: fc.option(epochMs, { nil: null }),
      basis: fc.option(finite, { nil: null }),
      liqLongNotional: nonNegative,
      liqShortNotional: nonNegative,
      liqCount: count,
      liqPriceKind: fc.constantFrom(...LIQUIDATION_PRICE_KINDS),
      liqCompleteness: fc.constantFrom(...LIQUIDATION_COMPLETENESS),
      knownAtMs: epochMs,
      revision: count,
      candleFilled: fc.boolean(),
      openInterestStale: fc.boolean(),
      fundingStale: fc.boolean(),
      // Mostly bars that keep the refinements, some that break one.
      consistent: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
    })
    .map(({ consistent, ...b }) => {
      if (!consistent) return { ...sampleAlignedBar(), ...b };
      const none = b.liqCompleteness === 'none';
      return {
        ...sampleAlignedBar(),
        ...b,
        high: Math.max(b.high, b.low),
        low: Math.min(b.high, b.low),
        openInterestMissing: b.openInterest === null ? b.openInterestMissing : null,
        liqLongNotional: none ? null : b.liqLongNotional,
        liqShortNotional: none ? null : b.liqShortNotional,
        liqCount: none ? null : b.liqCount,
        liqPriceKind: none ? null : b.liqPriceKind,
      };
    }),
  candle: fc
    .record({
      ...base,
      timeframe: fc.constantFrom(...TIMEFRAMES),
      open: price,
      high: price,
      low: price,
      close: price,
      volume: nonNegative,
      quoteVolume: fc.option(nonNegative, { nil: null }),
      trades: fc.option(fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)), { nil: null }),
      closed: fc.boolean(),
      openTimeMs: epochMs,
      // Mostly candles that keep the refinement, some that break it.
      consistent: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
    })
    .map(({ consistent, ...c }) => ({
      ...sampleCandle(),
      ...c,
      eventTimeMs: consistent ? c.openTimeMs : c.eventTimeMs,
      high: consistent ? Math.max(c.high, c.open, c.close) : c.high,
      low: consistent ? Math.min(c.low, c.open, c.close) : c.low,
    })),
  open_interest: fc
    .record({ ...base, openInterest: nonNegative, openInterestValue: fc.option(nonNegative, { nil: null }) })
    .map((o) => ({ ...sampleOpenInterest(), ...o })),
  funding: fc
    .record({
      ...base,
      kind: fc.constantFrom('settled', 'predicted'),
      fundingRate: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0)),
      fundingTimeMs: epochMs,
      markPrice: fc.option(positive, { nil: null }),
      indexPrice: fc.option(positive, { nil: null }),
    })
    .map((f) => ({ ...sampleFunding(), ...f })),
  liquidation: fc
    .record({ ...base, side: fc.constantFrom('buy', 'sell'), price: positive, amount: positive })
    .map((l) => ({ ...sampleLiquidation(), ...l })),
};

/** Values that break some field or other: wrong types, non-finite, out of range, near misses. */
const broken = fc.oneof(
  fc.constantFrom(
    null,
    undefined,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    0,
    -0,
    -1,
    -5e-324,
    0.5,
    1.5,
    2,
    2 ** 53,
    2 ** 53 - 1,
    -(2 ** 53),
    MIN_EPOCH_MS - 1,
    MIN_EPOCH_MS + 0.5,
    MAX_EPOCH_MS + 1,
    1_709_251_200,
    1_709_251_200_000_000,
    '1',
    '',
    true,
    false,
    [],
    {},
    'BTC/USDT:USDT',
    'btc/usdt:usdt',
    'BTC/USDT:USDT-2503',
    `${'A'.repeat(25)}/USDT:USDT`,
    '../../etc/passwd',
    'binanceusdm',
    'kraken',
    '1m',
    '2m',
    'live',
    'backfill',
    'buy',
    'sell',
    'settled',
    'predicted',
  ),
  fc.string({ maxLength: 8 }),
  fc.double(),
  fc.integer(),
);

/** A valid record with some fields replaced, deleted or added, or not an object at all. */
function inputOf(kind: FastKind): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: validOf[kind] },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          validOf[kind],
          fc.array(fc.tuple(fc.nat(), broken, fc.boolean()), { minLength: 1, maxLength: 3 }),
          fc.option(fc.dictionary(fc.string({ maxLength: 6 }), broken, { maxKeys: 3 }), { nil: null }),
        )
        .map(([record, changes, extra]) => {
          const out: Record<string, unknown> = { ...record };
          const keys = Object.keys(record);
          for (const [i, value, drop] of changes) {
            const key = keys[i % keys.length]!;
            if (drop && value === undefined) delete out[key];
            else out[key] = value;
          }
          return extra === null ? out : { ...out, ...extra };
        }),
    },
    {
      weight: 1,
      arbitrary: fc.oneof(
        broken,
        fc.array(broken, { maxLength: 3 }),
        validOf[kind].map((r) => Object.values(r)),
        validOf[kind].map((r) => JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(r).slice(1)}`)),
      ),
    },
  );
}

describe('parseRecordFast', () => {
  it('is on for the four raw record kinds and the aligned bar', () => {
    assert.deepEqual(fastPathKinds().sort(), [...FAST_KINDS].sort());
  });

  it('takes every exchange of the list, and nothing else as an exchange', () => {
    const samples = [sampleCandle, sampleOpenInterest, sampleFunding, sampleLiquidation] as const;
    RAW_KINDS.forEach((kind, i) => {
      for (const exchange of EXCHANGES)
        assert.equal(
          (parseRecordFast(kind, { ...samples[i]!(), exchange }) as { exchange?: string } | null)?.exchange,
          exchange,
          `${kind} of ${exchange}`,
        );
      assert.equal(parseRecordFast(kind, { ...samples[i]!(), exchange: 'deribit' }), null);
    });
  });

  for (const kind of FAST_KINDS) {
    it(`${kind}: accepts exactly what zod accepts, with the same value and key order`, () => {
      let accepted = 0;
      let rejected = 0;
      fc.assert(
        fc.property(inputOf(kind), (input) => {
          const fast = parseRecordFast(kind, input);
          const zod = RECORD_SCHEMAS[kind].safeParse(input);
          assert.equal(fast !== null, zod.success, JSON.stringify(input));
          if (zod.success) {
            accepted++;
            assert.deepStrictEqual(fast, zod.data);
            assert.deepEqual(Object.keys(fast!), Object.keys(zod.data as object));
          } else rejected++;
        }),
        { numRuns: 4_000 },
      );
      // Both sides of the decision were exercised.
      assert.ok(accepted > 400 && rejected > 400, `accepted ${accepted}, rejected ${rejected}`);
    });

    it(`${kind}: parseRecord and decodeRecord answer as zod alone did (value, or rule, field and message)`, () => {
      fc.assert(
        fc.property(inputOf(kind), (input) => {
          assert.deepStrictEqual(viaParseRecord(kind, input), zodOnly(kind, input));
          const text = JSON.stringify(input);
          if (text === undefined) return;
          const decoded = decodeRecord(kind, text);
          const expected = zodOnly(kind, JSON.parse(text));
          assert.deepStrictEqual(
            decoded.ok
              ? { ok: true, value: decoded.value }
              : {
                  ok: false,
                  message: decoded.error.message,
                  rule: decoded.error.rule,
                  field: decoded.error.field,
                },
            expected,
          );
        }),
        { numRuns: 2_000 },
      );
    });
  }
});
