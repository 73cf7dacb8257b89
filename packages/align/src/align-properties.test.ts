import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AlignedBar,
  AlignedBarSchema,
  SAMPLE_T0_MS,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from '@perpflow/contracts';
import fc from 'fast-check';
import { type AlignInput, AlignStream } from './align-stream.js';
import { type AlignConfig, type AlignConfigInput, parseAlignConfig } from './config.js';
import { LEGACY_HASH_PREFIX } from './emission-table.js';
import { contentHashReference, contentHashV2Reference } from './test-support/content-hash-reference.js';

const MIN = 60_000;
const T0 = SAMPLE_T0_MS;
const BARS = 30;
const KEY = { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT' } as const;
/** Event times on a 15 s grid so that many land exactly on bar boundaries. */
const eventTime = fc.integer({ min: -8, max: BARS * 4 + 8 }).map((k) => T0 + k * 15_000);
const delay = fc.integer({ min: 0, max: 4 * MIN });

/** Inputs built with the contract samples; prices and amounts keep notional sums exact. */
const inputArb: fc.Arbitrary<AlignInput> = fc.oneof(
  fc
    .record({
      i: fc.integer({ min: 0, max: BARS - 1 }),
      closed: fc.boolean(),
      open: fc.integer({ min: 100, max: 110 }),
      close: fc.integer({ min: 100, max: 110 }),
      volume: fc.integer({ min: 0, max: 5 }),
      d: delay,
    })
    .map(({ i, closed, open, close, volume, d }) => {
      const t = T0 + i * MIN;
      return {
        feed: 'ohlcv' as const,
        record: sampleCandle({
          openTimeMs: t,
          eventTimeMs: t,
          receivedAtMs: closed ? t + MIN + d : t + Math.min(d, MIN - 1),
          open,
          close,
          high: Math.max(open, close) + 1,
          low: Math.min(open, close) - 1,
          volume,
          closed,
        }),
      };
    }),
  fc.record({ e: eventTime, oi: fc.integer({ min: 1, max: 5 }), d: delay }).map(({ e, oi, d }) => ({
    feed: 'open_interest' as const,
    record: sampleOpenInterest({ eventTimeMs: e, receivedAtMs: e + d, openInterest: oi }),
  })),
  fc
    .record({
      k: fc.integer({ min: 0, max: 3 }),
      lag: fc.integer({ min: 0, max: 8 }).map((x) => x * 15_000),
      rate: fc.integer({ min: -5, max: 5 }),
      d: delay,
    })
    .map(({ k, lag, rate, d }) => {
      const f = T0 + k * 10 * MIN;
      return {
        feed: 'funding' as const,
        record: sampleFunding({
          kind: 'settled',
          fundingTimeMs: f,
          eventTimeMs: f + lag,
          receivedAtMs: f + lag + d,
          fundingRate: rate / 10_000,
        }),
      };
    }),
  fc
    .record({
      e: eventTime,
      ahead: fc.integer({ min: 1, max: 2 }),
      rate: fc.integer({ min: -5, max: 5 }),
      d: delay,
    })
    .map(({ e, ahead, rate, d }) => ({
      feed: 'funding' as const,
      record: sampleFunding({
        kind: 'predicted',
        eventTimeMs: e,
        receivedAtMs: e + d,
        fundingTimeMs: (Math.floor(e / (10 * MIN)) + ahead) * 10 * MIN,
        fundingRate: rate / 10_000,
      }),
    })),
  fc
    .record({
      e: eventTime,
      side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
      price: fc.integer({ min: 90, max: 120 }),
      quarters: fc.integer({ min: 1, max: 40 }),
      d: delay,
    })
    .map(({ e, side, price, quarters, d }) => ({
      feed: 'liquidation' as const,
      record: sampleLiquidation({ eventTimeMs: e, receivedAtMs: e + d, side, price, amount: quarters / 4 }),
    })),
);

const inputsArb = fc.array(inputArb, { minLength: 1, maxLength: 120 });

function config(overrides: AlignConfigInput = {}): AlignConfig {
  // Short funding interval so that fundingStale flips inside the 30-bar window.
  return parseAlignConfig({ fundingIntervalMs: 10 * MIN, fundingGraceMs: 2 * MIN, ...overrides });
}

/** Runs the inputs, then moves the watermark past the window so every bar is out. */
function run(inputs: readonly AlignInput[], cfg: AlignConfig): AlignedBar[] {
  const s = AlignStream.create(KEY, cfg);
  const bars = s.ingestBatch(inputs).bars;
  bars.push(...s.advanceTo(T0 + (BARS + 10) * MIN));
  return bars;
}

/** The last revision of each bar, without its revision number. */
function finalContent(bars: readonly AlignedBar[]): Map<number, Omit<AlignedBar, 'revision'>> {
  const out = new Map<number, Omit<AlignedBar, 'revision'>>();
  for (const { revision: _r, ...content } of bars) out.set(content.eventTimeMs, content);
  return out;
}

function eventTimeOf(input: AlignInput): number {
  return input.record.eventTimeMs;
}

const BIG = { revisionHorizonMs: 86_400_000 };

describe('alignment properties', () => {
  it('emits bars that satisfy the AlignedBar contract, in increasing revisions per bar', () => {
    fc.assert(
      fc.property(
        inputsArb,
        fc.constantFrom(0, 5_000),
        fc.constantFrom('previous-close', 'skip'),
        (inputs, lateness, fill) => {
          const bars = run(inputs, config({ allowedLatenessMs: lateness, fillPolicy: fill as 'skip' }));
          const revisions = new Map<number, number>();
          for (const b of bars) {
            const parsed = AlignedBarSchema.safeParse(b);
            assert.ok(parsed.success, parsed.success ? '' : parsed.error.message);
            assert.equal(b.revision, (revisions.get(b.eventTimeMs) ?? -1) + 1);
            revisions.set(b.eventTimeMs, b.revision);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('emits each bar in the call that ingests its closed candle, and a fill only once the watermark passes its close plus the lateness', () => {
    const others = fc.array(
      inputArb.filter((x) => x.feed !== 'ohlcv'),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: BARS - 1 }), { minLength: 1, maxLength: BARS }),
        others,
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.constantFrom(0, 5_000, 59_999),
        fc.constantFrom('previous-close', 'skip'),
        (indexes, asOf, positions, lateness, fill) => {
          // Live candles in ascending order (as the kline websocket sends them), gaps allowed,
          // with the other feeds interleaved at arbitrary points.
          const candles: AlignInput[] = [...indexes]
            .sort((a, b) => a - b)
            .map((i) => ({
              feed: 'ohlcv' as const,
              record: sampleCandle({
                openTimeMs: T0 + i * MIN,
                eventTimeMs: T0 + i * MIN,
                receivedAtMs: T0 + (i + 1) * MIN + 200,
                closed: true,
              }),
            }));
          const inputs: AlignInput[] = [...candles];
          asOf.forEach((x, k) => {
            inputs.splice((positions[k] ?? 0) % (inputs.length + 1), 0, x);
          });
          const s = AlignStream.create(
            KEY,
            config({ allowedLatenessMs: lateness, fillPolicy: fill as 'skip' }),
          );
          let emittedCandles = 0;
          for (const input of inputs) {
            const { bars } = s.ingest(input);
            for (const b of bars)
              if (b.candleFilled && b.revision === 0)
                assert.ok(
                  s.watermarkMs! >= b.eventTimeMs + MIN + lateness,
                  `fill ${b.eventTimeMs} emitted at watermark ${s.watermarkMs}`,
                );
            if (input.feed !== 'ohlcv') continue;
            const t = input.record.openTimeMs;
            const own = bars.filter((b) => b.eventTimeMs === t);
            assert.equal(own.length, 1, `bar ${t} out with its closed candle`);
            assert.deepEqual([own[0]!.revision, own[0]!.candleFilled], [0, false]);
            emittedCandles++;
          }
          assert.equal(emittedCandles, candles.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('has no look-ahead: changing inputs with event time after t + tf never changes bar t', () => {
    fc.assert(
      fc.property(
        inputsArb,
        fc.array(inputArb, { maxLength: 60 }),
        fc.integer({ min: 1, max: BARS }),
        (inputs, others, cutBars) => {
          const cut = T0 + cutBars * MIN;
          const early = inputs.filter((x) => eventTimeOf(x) <= cut);
          // Replace every input after the cut by unrelated ones, interleaved at the same positions.
          const laterB = others.filter((x) => eventTimeOf(x) > cut);
          const a = inputs;
          const b: AlignInput[] = [];
          let j = 0;
          for (const x of inputs) {
            if (eventTimeOf(x) <= cut) b.push(x);
            else if (j < laterB.length) b.push(laterB[j++]!);
          }
          b.push(...laterB.slice(j));
          assert.equal(b.filter((x) => eventTimeOf(x) <= cut).length, early.length);
          const fa = finalContent(run(a, config(BIG)));
          const fb = finalContent(run(b, config(BIG)));
          for (const [t, bar] of fa) if (t + MIN <= cut) assert.deepEqual(fb.get(t), bar, `bar ${t}`);
          for (const [t, bar] of fb) if (t + MIN <= cut) assert.deepEqual(fa.get(t), bar, `bar ${t}`);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('conserves liquidations: the bars sum exactly the distinct liquidations inside the bars they cover', () => {
    fc.assert(
      fc.property(inputsArb, (inputs) => {
        const bars = finalContent(run(inputs, config(BIG)));
        const seen = new Set<string>();
        let long = 0;
        let short = 0;
        let count = 0;
        for (const x of inputs) {
          if (x.feed !== 'liquidation') continue;
          const l = x.record;
          const id = `${l.eventTimeMs}|${l.side}|${l.price}|${l.amount}`;
          if (seen.has(id) || !bars.has(Math.floor(l.eventTimeMs / MIN) * MIN)) continue;
          seen.add(id);
          if (l.side === 'sell') long += l.price * l.amount;
          else short += l.price * l.amount;
          count++;
        }
        const sum = (f: (b: Omit<AlignedBar, 'revision'>) => number | null) =>
          [...bars.values()].reduce((s, b) => s + (f(b) ?? Number.NaN), 0);
        assert.equal(
          sum((b) => b.liqLongNotional),
          long,
        );
        assert.equal(
          sum((b) => b.liqShortNotional),
          short,
        );
        assert.equal(
          sum((b) => b.liqCount),
          count,
        );
      }),
      { numRuns: 200 },
    );
  });

  it('is deterministic across batch splits, duplicate deliveries and snapshot/restore points', () => {
    fc.assert(
      fc.property(
        inputsArb,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 15 }),
        fc.constantFrom(5 * MIN, 86_400_000),
        (inputs, cuts, dups, horizon) => {
          const cfg = config({ revisionHorizonMs: horizon, allowedLatenessMs: 5_000 });
          const straight = AlignStream.create(KEY, cfg);
          const expected = straight.ingestBatch(inputs);

          // Exact re-deliveries of an earlier input, inserted later in the sequence.
          const withDups: AlignInput[] = [...inputs];
          const isDup: boolean[] = inputs.map(() => false);
          for (const [from, to] of dups) {
            const src = from % withDups.length;
            const at = src + 1 + (to % (withDups.length - src));
            withDups.splice(at, 0, withDups[src]!);
            isDup.splice(at, 0, true);
          }
          const boundaries = [...new Set(cuts.map((c) => c % (withDups.length + 1)))].sort((x, y) => x - y);
          let s = AlignStream.create(KEY, cfg);
          const bars: AlignedBar[] = [];
          const rejected: string[] = [];
          let from = 0;
          for (const end of [...boundaries, withDups.length]) {
            const batch = withDups.slice(from, end);
            const out = s.ingestBatch(batch);
            bars.push(...out.bars);
            for (const r of out.rejections) if (!isDup[from + r.index]) rejected.push(r.message);
            from = end;
            s = AlignStream.restore(JSON.parse(JSON.stringify(s.snapshot())), cfg);
          }
          assert.deepEqual(bars, expected.bars);
          assert.deepEqual(
            rejected,
            expected.rejections.map((r) => r.message),
          );
          assert.deepEqual(s.snapshot(), straight.snapshot());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('replays from an older snapshot to the same bars (crash after produce, before snapshot)', () => {
    fc.assert(
      fc.property(inputsArb, fc.nat(), fc.nat(), (inputs, x, y) => {
        const cfg = config({ revisionHorizonMs: 10 * MIN });
        const j = x % (inputs.length + 1);
        const k = j + (y % (inputs.length - j + 1));
        const s = AlignStream.create(KEY, cfg);
        s.ingestBatch(inputs.slice(0, j));
        const saved = JSON.stringify(s.snapshot());
        const firstTry = s.ingestBatch(inputs.slice(j, k)).bars;
        const restored = AlignStream.restore(JSON.parse(saved), cfg);
        const replay = restored.ingestBatch(inputs.slice(j)).bars;
        assert.deepEqual(replay.slice(0, firstTry.length), firstTry);
        const straight = AlignStream.create(KEY, cfg);
        straight.ingestBatch(inputs.slice(0, j));
        assert.deepEqual(straight.ingestBatch(inputs.slice(j)).bars, replay);
      }),
      { numRuns: 150 },
    );
  });

  it('reaches the same final bars whatever the order of the inputs inside the revision horizon', () => {
    fc.assert(
      fc.property(
        inputsArb.chain((xs) =>
          fc.tuple(fc.constant(xs), fc.shuffledSubarray(xs, { minLength: xs.length, maxLength: xs.length })),
        ),
        ([inputs, shuffled]) => {
          const a = finalContent(run(inputs, config(BIG)));
          const b = finalContent(run(shuffled, config(BIG)));
          assert.deepEqual(b, a);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reaches the same final bars, knownAtMs included, for any order and batching of copies received at different times', () => {
    // Each input delivered one to three times, each copy with its own receive time (byte-identical
    // otherwise); both runs are split into batches with a snapshot/restore between them.
    const deliveries = fc
      .array(
        fc.tuple(inputArb, fc.array(fc.integer({ min: -MIN, max: MIN }), { minLength: 1, maxLength: 3 })),
        {
          minLength: 1,
          maxLength: 80,
        },
      )
      .map((xs) =>
        xs.flatMap(([x, shifts]) =>
          shifts.map(
            (d) => ({ ...x, record: { ...x.record, receivedAtMs: x.record.receivedAtMs + d } }) as AlignInput,
          ),
        ),
      );
    const inBatches = (inputs: readonly AlignInput[], cuts: readonly number[], cfg: AlignConfig) => {
      let s = AlignStream.create(KEY, cfg);
      const bars: AlignedBar[] = [];
      let from = 0;
      for (const end of [...new Set(cuts.map((c) => c % (inputs.length + 1)))].sort((x, y) => x - y)) {
        bars.push(...s.ingestBatch(inputs.slice(from, end)).bars);
        s = AlignStream.restore(JSON.parse(JSON.stringify(s.snapshot())), cfg);
        from = end;
      }
      bars.push(...s.ingestBatch(inputs.slice(from)).bars, ...s.advanceTo(T0 + (BARS + 10) * MIN));
      return finalContent(bars);
    };
    fc.assert(
      fc.property(
        deliveries.chain((xs) =>
          fc.tuple(fc.constant(xs), fc.shuffledSubarray(xs, { minLength: xs.length, maxLength: xs.length })),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        ([inputs, shuffled], cutsA, cutsB) => {
          const cfg = config(BIG);
          assert.deepEqual(inBatches(shuffled, cutsB, cfg), inBatches(inputs, cutsA, cfg));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('emits what a run without restore emits after a restore from a snapshot of hash version 1 at any point', () => {
    fc.assert(
      fc.property(inputsArb, fc.nat(), fc.constantFrom(5 * MIN, 86_400_000), (inputs, cut, horizon) => {
        const cfg = config({ revisionHorizonMs: horizon, allowedLatenessMs: 5_000 });
        const straight = AlignStream.create(KEY, cfg);
        const expected = straight.ingestBatch(inputs).bars;
        const j = cut % (inputs.length + 1);
        const s = AlignStream.create(KEY, cfg);
        const before = s.ingestBatch(inputs.slice(0, j)).bars;
        // The snapshot as an earlier version wrote it: v 2, each hash of version 1.
        const last = new Map(before.map((b) => [b.eventTimeMs, b]));
        const snap = JSON.parse(JSON.stringify(s.snapshot()));
        snap.v = 2;
        for (const e of snap.emitted) e[2] = contentHashReference(last.get(e[0])!);
        const restored = AlignStream.restore(snap, cfg);
        // Then a restore from its own snapshot (v 3), which marks what is left of version 1.
        const k = j + Math.floor((inputs.length - j) / 2);
        const middle = restored.ingestBatch(inputs.slice(j, k)).bars;
        const between = restored.snapshot();
        assert.equal(between.v, 3);
        for (const [t, , hash] of between.emitted)
          if (hash.startsWith(LEGACY_HASH_PREFIX))
            assert.equal(hash, `${LEGACY_HASH_PREFIX}${contentHashReference(last.get(t)!)}`);
        const again = AlignStream.restore(JSON.parse(JSON.stringify(between)), cfg);
        assert.deepEqual([...before, ...middle, ...again.ingestBatch(inputs.slice(k)).bars], expected);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps in its snapshot the hash of each bar's last revision (version 2)", () => {
    fc.assert(
      fc.property(inputsArb, fc.constantFrom(5 * MIN, 86_400_000), (inputs, horizon) => {
        const s = AlignStream.create(KEY, config({ revisionHorizonMs: horizon }));
        const last = new Map<number, AlignedBar>();
        for (const b of s.ingestBatch(inputs).bars) last.set(b.eventTimeMs, b);
        const emitted = s.snapshot().emitted;
        for (const [t, revision, hash] of emitted) {
          const bar = last.get(t);
          assert.ok(bar, `bar ${t} in the snapshot was emitted`);
          assert.equal(revision, bar.revision);
          assert.equal(hash, contentHashV2Reference(bar), `bar ${t}`);
        }
      }),
      { numRuns: 200 },
    );
  });
});
