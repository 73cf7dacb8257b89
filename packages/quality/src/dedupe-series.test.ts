import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseQualityConfig } from './config.js';
import { DedupeSeries } from './dedupe-series.js';
import { DedupeSeriesReference } from './test-support/dedupe-series-reference.js';

describe('DedupeSeries', () => {
  it('gives the hits and state of its reference (full sweep) for any sequence, in order or not', () => {
    const step = fc.record({
      // Mostly forward in time, sometimes back (out of order) or a known identity again.
      move: fc.oneof(
        { weight: 5, arbitrary: fc.integer({ min: 0, max: 3 }) },
        fc.integer({ min: -20, max: -1 }),
      ),
      content: fc.constantFrom('a', 'b'),
      receivedAtMs: fc.integer({ min: 0, max: 5 }),
      remember: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
      restore: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, fc.constant(true)),
    });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 150 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 30 }),
        (steps, windowMs, maxEntries) => {
          const config = parseQualityConfig({ dedupe: { windowMs, maxEntries } });
          let series = new DedupeSeries();
          const reference = new DedupeSeriesReference();
          let t = 100;
          for (const s of steps) {
            t = Math.max(0, t + s.move);
            const id = { series: 'x', identity: String(t), orderTimeMs: t };
            const label = `x ${t}`;
            assert.deepEqual(
              series.check(id, s.content, s.receivedAtMs, () => label, config),
              reference.check(id, s.content, s.receivedAtMs, label, config),
            );
            if (s.remember) {
              series.remember(id, s.content, s.receivedAtMs, config);
              reference.remember(id, s.content, s.receivedAtMs, config);
            }
            if (s.restore) series = new DedupeSeries(JSON.parse(JSON.stringify(series.snapshot())));
            assert.deepEqual(series.snapshot(), reference.snapshot());
            assert.equal(series.newestTimeMs, reference.newestTimeMs);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
