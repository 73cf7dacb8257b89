import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareSamples, DRIFT_THRESHOLDS } from './compare.js';
import { compareAcrossVenues } from './cross-venue.js';
import { type BarPoint, featureOf, featureValues, trailingWindows } from './features.js';

const TF = 60_000;
const T0 = Date.UTC(2026, 0, 1);
function bar(i: number, over: Partial<BarPoint> = {}): BarPoint {
  return {
    eventTimeMs: T0 + i * TF,
    open: 100,
    high: 101,
    low: 99,
    close: 100,
    volume: 10,
    openInterest: 1000,
    openInterestStale: false,
    fundingRate: 0.0001,
    predictedFundingRate: null,
    liqLongNotional: 0,
    liqShortNotional: 0,
    candleFilled: false,
    basis: null,
    ...over,
  };
}

describe('features of aligned bars', () => {
  it('computes each feature from the bar and the bar one timeframe before', () => {
    const prev = bar(0, { close: 100, openInterest: 1000 });
    const b = bar(1, {
      close: 110,
      high: 112,
      low: 98,
      volume: 7,
      openInterest: 1100,
      liqLongNotional: 5,
      liqShortNotional: 2.5,
    });
    assert.equal(featureOf('log_return', b, prev), Math.log(1.1));
    assert.equal(featureOf('range', b, prev), Math.log(112 / 98));
    assert.equal(featureOf('volume', b, prev), 7);
    assert.equal(featureOf('open_interest_change', b, prev), Math.log(1.1));
    assert.equal(featureOf('funding_rate', b, prev), 0.0001);
    assert.equal(featureOf('funding_rate', bar(1, { predictedFundingRate: -0.0002 }), prev), -0.0002);
    assert.equal(featureOf('liquidation_notional', b, prev), 7.5);
    assert.equal(featureOf('basis', bar(1, { basis: 0.0004 }), prev), 0.0004);
    assert.equal(featureOf('basis', b, prev), null, 'no mark or index at the close');
  });

  it('leaves out what a bar does not observe: filled candles, gaps, stale or missing open interest', () => {
    const filled = bar(1, { candleFilled: true });
    assert.equal(featureOf('log_return', filled, bar(0)), null);
    assert.equal(featureOf('range', filled, bar(0)), null);
    assert.equal(featureOf('volume', filled, bar(0)), null);
    assert.equal(featureOf('log_return', bar(1), null), null);
    assert.equal(featureOf('open_interest_change', bar(1, { openInterestStale: true }), bar(0)), null);
    assert.equal(featureOf('open_interest_change', bar(1, { openInterest: null }), bar(0)), null);
    assert.equal(featureOf('funding_rate', bar(1, { fundingRate: null }), bar(0)), null);
    // A venue without a liquidation source: unknown, not 0, so no observation.
    const noSource = bar(1, { liqLongNotional: null, liqShortNotional: null });
    assert.equal(featureOf('liquidation_notional', noSource, bar(0)), null);
    assert.equal(featureOf('liquidation_notional', bar(1), bar(0)), 0, 'a venue with a source and none: 0');
    assert.deepEqual(featureValues([bar(0), noSource], 'liquidation_notional', TF, T0, T0 + 2 * TF), [0]);
  });

  it('takes values in [from, to) and a previous bar only exactly one timeframe earlier', () => {
    const bars = [
      bar(0, { close: 100 }),
      bar(1, { close: 101 }),
      bar(3, { close: 103 }),
      bar(4, { close: 104 }),
    ];
    const r = featureValues(bars, 'log_return', TF, T0, T0 + 5 * TF);
    assert.deepEqual(r, [Math.log(101 / 100), Math.log(104 / 103)]); // no return across the gap at 2
    assert.deepEqual(featureValues(bars, 'volume', TF, T0 + TF, T0 + 4 * TF), [10, 10]);
  });

  it('splits recent and trailing reference windows without overlap', () => {
    const w = trailingWindows(T0 + 100 * TF, 10 * TF, 30 * TF);
    assert.deepEqual(w, {
      recent: { fromMs: T0 + 90 * TF, toMs: T0 + 100 * TF },
      reference: { fromMs: T0 + 60 * TF, toMs: T0 + 90 * TF },
    });
  });
});

describe('breach decision', () => {
  const ref = Array.from({ length: 400 }, (_, i) => Math.sin(i * 12.9898) * 0.001);
  it('a tripled volatility breaches all three tests; the same distribution none', () => {
    const shifted = ref.slice(0, 150).map((v) => v * 3);
    const d = compareSamples(ref, shifted);
    assert.deepEqual(d.breaches, { psi: true, ks: true, wasserstein: true });
    assert.equal(d.breach, true);
    assert.equal(d.psiLevel, 'significant');
    const same = compareSamples(
      ref,
      ref.filter((_, i) => i % 2 === 0),
    );
    assert.equal(same.breach, false);
    assert.equal(same.psiLevel, 'none');
  });

  it('needs minBreachingTests tests to agree (default 2)', () => {
    assert.equal(DRIFT_THRESHOLDS.minBreachingTests, 2);
    const cur = ref.slice(0, 150).map((v) => v * 1.15);
    const d = compareSamples(ref, cur, {
      thresholds: { wassersteinNormalized: 0.05, psiSignificant: 99, ksAlpha: 1e-12 },
    });
    assert.deepEqual(d.breaches, { psi: false, ks: false, wasserstein: true });
    assert.equal(d.breach, false);
    assert.equal(
      compareSamples(ref, cur, { thresholds: { wassersteinNormalized: 0.05, minBreachingTests: 1 } }).breach,
      true,
    );
  });

  it('compares one venue against the pooled others, and needs values on both sides', () => {
    const others = [ref.slice(0, 200), ref.slice(200)];
    assert.equal(
      compareAcrossVenues(
        ref.map((v) => v + 0.01),
        others,
      )?.breach,
      true,
    );
    assert.equal(compareAcrossVenues(ref, [[]]), null);
    assert.equal(compareAcrossVenues([], others), null);
  });
});
