import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlignedBar, AlignedBarSchema, sampleAlignedBar } from '@perpflow/contracts';
import fc from 'fast-check';
import { BAR_ROW_WIDTH, BarRows, LatestSlots, TextCodes } from './bar-rows.js';

/** Any bar the contract accepts, nulls and both liquidation shapes included. */
const arbitraryBar: fc.Arbitrary<AlignedBar> = fc
  .record({
    symbol: fc.constantFrom('BTC/USDT:USDT', 'ETH/USDT:USDT', '1000PEPE/USDC:USDC'),
    eventTimeMs: fc.integer({ min: 1_262_304_000_000, max: 4_102_444_800_000 }),
    price: fc.double({ min: 1e-9, max: 1e9, noNaN: true }),
    volume: fc.oneof(fc.constant(0), fc.constant(-0), fc.double({ min: 0, max: 1e12, noNaN: true })),
    oi: fc.option(fc.double({ min: 0, max: 1e12, noNaN: true })),
    rate: fc.option(fc.double({ min: -1, max: 1, noNaN: true })),
    noLiquidations: fc.boolean(),
    revision: fc.nat(1000),
    flags: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
  })
  .map((r) =>
    sampleAlignedBar({
      symbol: r.symbol,
      eventTimeMs: r.eventTimeMs,
      open: r.price,
      high: r.price * 2,
      low: r.price / 2,
      close: r.price,
      volume: r.volume,
      openInterest: r.oi,
      openInterestTimeMs: r.oi === null ? null : r.eventTimeMs,
      openInterestMissing: r.oi === null ? 'not_observed' : null,
      fundingRate: r.rate,
      basis: r.rate,
      liqCompleteness: r.noLiquidations ? 'none' : 'snapshot_1s',
      liqLongNotional: r.noLiquidations ? null : 0,
      liqShortNotional: r.noLiquidations ? null : 12.5,
      liqCount: r.noLiquidations ? null : 3,
      liqPriceKind: r.noLiquidations ? null : 'average_fill',
      revision: r.revision,
      candleFilled: r.flags[0],
      openInterestStale: r.flags[1],
      fundingStale: r.flags[2],
    }),
  );

describe('BarRows: aligned bars packed into rows of doubles', () => {
  it('packs every field of the contract, in its order', () => {
    const rows = new BarRows(new TextCodes());
    const bar = AlignedBarSchema.parse(sampleAlignedBar());
    assert.equal(BAR_ROW_WIDTH, Object.keys(AlignedBarSchema.shape).length);
    assert.deepEqual(Object.keys(rows.get(rows.put(bar))), Object.keys(AlignedBarSchema.shape));
  });

  it('gives back each bar as it was put (nulls, -0, booleans, texts), slot by slot across chunks', () => {
    fc.assert(
      fc.property(fc.array(arbitraryBar, { minLength: 1, maxLength: 200 }), (bars) => {
        const rows = new BarRows(new TextCodes());
        const slots = bars.map((b) => rows.put(AlignedBarSchema.parse(b)));
        assert.deepEqual(
          slots,
          bars.map((_, i) => i),
        );
        bars.forEach((b, i) => {
          const back = rows.get(slots[i] as number);
          assert.deepEqual(back, AlignedBarSchema.parse(b));
          assert.ok(Object.is(back.volume, b.volume), `volume ${b.volume} came back as ${back.volume}`);
          assert.equal(rows.revision(slots[i] as number), b.revision);
        });
        assert.equal(rows.bytes, Math.ceil(bars.length / 64) * 64 * BAR_ROW_WIDTH * 8);
      }),
      { numRuns: 50 },
    );
  });

  it('reuses a released slot, and an absent field comes back null', () => {
    const rows = new BarRows(new TextCodes());
    const [a, b, c] = [0, 1, 2].map((i) => sampleAlignedBar({ eventTimeMs: i * 60_000, revision: i }));
    const sa = rows.put(a as AlignedBar);
    const sb = rows.put(b as AlignedBar);
    rows.release(sa);
    const sc = rows.put(c as AlignedBar);
    assert.equal(sc, sa);
    assert.deepEqual(rows.get(sc), c);
    assert.deepEqual(rows.get(sb), b);
    const { markPrice: _, ...older } = sampleAlignedBar({ markPrice: 5 });
    assert.equal(rows.get(rows.put(older as AlignedBar)).markPrice, null);
  });

  it('shares texts between the windows of a book, and refuses an unknown code', () => {
    const texts = new TextCodes();
    const one = new BarRows(texts);
    const two = new BarRows(texts);
    one.put(sampleAlignedBar({ symbol: 'BTC/USDT:USDT' }));
    two.put(sampleAlignedBar({ symbol: 'ETH/USDT:USDT' }));
    assert.equal(texts.code('ETH/USDT:USDT'), texts.code('ETH/USDT:USDT'));
    assert.equal(texts.text(texts.code('BTC/USDT:USDT')), 'BTC/USDT:USDT');
    assert.throws(() => texts.text(10_000), /no text with code 10000/);
  });
});

describe('LatestSlots: the slot per bar time of one window', () => {
  const DAY = 86_400_000;
  it('keeps times on the grid by position and every other time by time, counting each once', () => {
    const slots = new LatestSlots(DAY, 60_000, 1440);
    const times = [DAY + 60_000, DAY, DAY + 59_999, DAY - 60_000, DAY + 1440 * 60_000, DAY + 1439 * 60_000];
    for (const [i, t] of times.entries()) slots.set(t, i);
    assert.equal(slots.size, 6);
    for (const [i, t] of times.entries()) assert.equal(slots.get(t), i, `time ${t - DAY}`);
    assert.equal(slots.get(DAY + 120_000), undefined);
    slots.set(DAY, 10);
    slots.set(DAY + 59_999, 11);
    assert.equal(slots.size, 6, 'a time set again is still one');
    assert.equal(slots.get(DAY), 10);
    // The grid's in time order, then the others in the order they came.
    assert.deepEqual(slots.slots(), [10, 0, 5, 11, 3, 4]);
  });

  it('caps the grid: a window longer than 4,096 bars keeps the rest by time', () => {
    const slots = new LatestSlots(0, 60_000, 525_600);
    for (let i = 0; i < 5000; i++) slots.set(i * 60_000, i);
    assert.equal(slots.size, 5000);
    assert.equal(slots.get(4095 * 60_000), 4095);
    assert.equal(slots.get(4999 * 60_000), 4999);
    assert.deepEqual(
      slots.slots(),
      Array.from({ length: 5000 }, (_, i) => i),
    );
  });
});
