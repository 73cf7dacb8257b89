import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SAMPLE_T0_MS, sampleCandle } from '@perpflow/contracts';
import fc from 'fast-check';
import { CandleSeries } from './candle-series.js';
import { parseQualityConfig } from './config.js';
import { CandleSeriesReference } from './test-support/candle-series-reference.js';

const MIN = 60_000;

describe('CandleSeries', () => {
  it('gives the hits and state of its reference (fresh selection per candle) for any candle sequence', () => {
    const step = fc.record({
      // Mostly the next bar, sometimes a gap, an older bar (out of order) or the same bar again.
      move: fc.oneof(
        { weight: 6, arbitrary: fc.constant(1) },
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: -6, max: 0 }),
      ),
      close: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(100, 100.5, 101, 99, 250, 1) },
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      ),
      volume: fc.constantFrom(0, 1, 2.5),
      remember: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, fc.constant(false)),
      restore: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, fc.constant(true)),
    });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 120 }),
        fc.integer({ min: 3, max: 12 }),
        fc.integer({ min: 3, max: 12 }),
        fc.constantFrom(0.5, 2, 10),
        fc.integer({ min: 2, max: 6 }),
        (steps, window, minSamples, madThreshold, candleCloseRun) => {
          const config = parseQualityConfig({
            outlier: { window, minSamples, madThreshold, minRelativeMad: 0.0001 },
            frozen: { candleCloseRun },
          });
          let series = new CandleSeries('1m');
          const reference = new CandleSeriesReference('1m');
          const seen = new Set<number>();
          let i = 0;
          for (const s of steps) {
            i = Math.max(0, i + s.move);
            const t = SAMPLE_T0_MS + i * MIN;
            const c = sampleCandle({
              openTimeMs: t,
              eventTimeMs: t,
              open: s.close,
              high: s.close,
              low: s.close,
              close: s.close,
              volume: s.volume,
            });
            const isNew = !seen.has(t);
            assert.deepEqual(series.check(c, isNew, config), reference.check(c, isNew, config));
            if (s.remember) {
              series.remember(c, config);
              reference.remember(c, config);
              seen.add(t);
            }
            if (s.restore) series = new CandleSeries('1m', JSON.parse(JSON.stringify(series.snapshot())));
            assert.deepEqual(series.snapshot(), reference.snapshot());
            assert.deepEqual(series.lastClose(), reference.lastClose());
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
