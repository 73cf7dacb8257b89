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
      // Fingerprints as contentFingerprint writes them (kept as two 32-bit halves) and other text.
      content: fc.constantFrom('a', 'b', '0123456789abcdef', 'ffffffff00000001', 'FFFFFFFF00000001'),
      receivedAtMs: fc.integer({ min: 0, max: 5 }),
      remember: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
      restore: fc.oneof(
        // Rare enough that the columns fill and are compacted between restores.
        { weight: 60, arbitrary: fc.constant('no' as const) },
        fc.constant('yes' as const),
        // A snapshot written before entries kept their receivedAtMs.
        fc.constant('without receipts' as const),
      ),
    });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 30 }),
        (steps, windowMs, maxEntries) => {
          const config = parseQualityConfig({ dedupe: { windowMs, maxEntries } });
          let series = new DedupeSeries();
          let reference = new DedupeSeriesReference();
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
            if (s.restore === 'yes') series = new DedupeSeries(JSON.parse(JSON.stringify(series.snapshot())));
            if (s.restore === 'without receipts') {
              const old = series.snapshot();
              const stripped = {
                ...old,
                seen: old.seen.map(([id, t, fp]) => [id, t, fp] as [string, number, string]),
              };
              series = new DedupeSeries(JSON.parse(JSON.stringify(stripped)));
              reference = new DedupeSeriesReference(JSON.parse(JSON.stringify(stripped)));
            }
            assert.deepEqual(series.snapshot(), reference.snapshot());
            assert.equal(series.newestTimeMs, reference.newestTimeMs);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('gives its reference state when earlier identities are revised across compactions', () => {
    // Each step remembers a new time and a copy or revision of one of the few before it:
    // entries move to the end of memory order, the columns fill and are compacted.
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            forward: fc.integer({ min: 0, max: 2 }),
            back: fc.integer({ min: 0, max: 6 }),
            content: fc.constantFrom('0123456789abcdef', 'ffffffff00000001', 'x'),
            receivedAtMs: fc.integer({ min: 0, max: 3 }),
          }),
          { maxLength: 200 },
        ),
        fc.integer({ min: 4, max: 60 }),
        fc.integer({ min: 3, max: 40 }),
        (steps, windowMs, maxEntries) => {
          const config = parseQualityConfig({ dedupe: { windowMs, maxEntries } });
          const series = new DedupeSeries();
          const reference = new DedupeSeriesReference();
          let t = 0;
          for (const s of steps) {
            t += s.forward;
            for (const at of [t, Math.max(0, t - s.back)]) {
              const id = { series: 'x', identity: String(at), orderTimeMs: at };
              assert.deepEqual(
                series.check(id, s.content, s.receivedAtMs, 'l', config),
                reference.check(id, s.content, s.receivedAtMs, 'l', config),
              );
              series.remember(id, s.content, s.receivedAtMs, config);
              reference.remember(id, s.content, s.receivedAtMs, config);
            }
            assert.deepEqual(series.snapshot(), reference.snapshot());
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
