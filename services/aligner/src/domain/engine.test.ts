import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAlignConfig } from '@perpflow/align';
import {
  type AlignedBar,
  type Candle,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from '@perpflow/contracts';
import { parseQualityConfig } from '@perpflow/quality';
import fc from 'fast-check';
import { QualityAlignEngine } from './engine.js';
import type { EngineInput } from './engine-types.js';

const T0 = 1_709_251_200_000;
const config = { quality: parseQualityConfig({}), align: parseAlignConfig({ allowedLatenessMs: 0 }) };
const NOW = T0 + 3_600_000;

function candle(i: number, close = 100 + i): Candle {
  const t = T0 + i * 60_000;
  return sampleCandle({
    eventTimeMs: t,
    openTimeMs: t,
    receivedAtMs: t + 61_000,
    open: 100 + i,
    high: Math.max(100 + i, close) + 1,
    low: Math.min(100 + i, close) - 1,
    close,
    source: 'backfill',
  });
}
const inp = (
  feed: EngineInput<number>['feed'],
  record: EngineInput<number>['record'],
  ref: number,
): EngineInput<number> => ({ feed, record, ref });

describe('QualityAlignEngine', () => {
  it('aligns accepted candles, open interest and liquidations into bars, in order', () => {
    const e = new QualityAlignEngine(config, null);
    const out = e.apply(
      [
        inp(
          'open_interest',
          sampleOpenInterest({
            eventTimeMs: T0 + 30_000,
            receivedAtMs: T0 + 30_100,
            openInterest: 500,
            source: 'backfill',
          }),
          1,
        ),
        inp(
          'liquidation',
          sampleLiquidation({
            eventTimeMs: T0 + 10_000,
            receivedAtMs: T0 + 10_050,
            side: 'sell',
            price: 100,
            amount: 2,
            source: 'backfill',
          }),
          2,
        ),
        inp('ohlcv', candle(0), 3),
        inp('ohlcv', candle(1), 4),
        inp('ohlcv', candle(2), 5),
      ],
      NOW,
    );
    const bars = out.bars.filter((b) => b.revision === 0);
    assert.deepEqual(
      bars.map((b) => b.eventTimeMs),
      [T0, T0 + 60_000, T0 + 120_000],
    );
    assert.equal(bars[0]?.openInterest, 500);
    assert.equal(bars[0]?.liqLongNotional, 200);
    assert.equal(bars[0]?.liqCount, 1);
    assert.equal(bars[1]?.liqCount, 0);
    assert.equal(out.rejected.length, 0);
    assert.ok((out.watermarks.get('binanceusdm|BTC/USDT:USDT') ?? 0) >= T0 + 180_000);
  });

  it('dead-letters a candle off its timeframe boundary with the rule id, and drops an exact duplicate', () => {
    const e = new QualityAlignEngine(config, null);
    const off = { ...candle(0), eventTimeMs: T0 + 1_000, openTimeMs: T0 + 1_000 };
    const dup = { ...candle(1), receivedAtMs: candle(1).receivedAtMs + 5_000 };
    const out = e.apply([inp('ohlcv', candle(1), 1), inp('ohlcv', off, 2), inp('ohlcv', dup, 3)], NOW);
    assert.deepEqual(
      out.rejected.map((r) => [r.ref, r.ruleId, r.late]),
      [[2, 'candle.off_boundary', false]],
    );
    assert.ok(out.hits.some((h) => h.ruleId === 'stream.duplicate' && h.action === 'drop'));
  });

  it('continues after snapshot and restore exactly as without', () => {
    const all = Array.from({ length: 10 }, (_, i) => inp('ohlcv', candle(i), i));
    const straight = new QualityAlignEngine(config, null).apply(all, NOW).bars;
    const first = new QualityAlignEngine(config, null);
    const a = first.apply(all.slice(0, 4), NOW).bars;
    const restored = new QualityAlignEngine(config, JSON.parse(JSON.stringify(first.snapshot())));
    const b = restored.apply(all.slice(4), NOW).bars;
    assert.deepEqual([...a, ...b], straight);
    assert.ok(straight.length >= 9);
  });

  it('writes its snapshot in pieces whose text is JSON.stringify of snapshot(), for any streams', () => {
    const symbols = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ s: fc.integer({ min: 0, max: 2 }), i: fc.integer({ min: 0, max: 30 }) }), {
          maxLength: 40,
        }),
        (picks) => {
          const e = new QualityAlignEngine(config, null);
          e.apply(
            picks.map((p, ref) => inp('ohlcv', { ...candle(p.i), symbol: symbols[p.s]! }, ref)),
            NOW,
          );
          const pieces = [...e.snapshotJson()];
          assert.equal(pieces.length, 2 + new Set(picks.map((p) => p.s)).size, 'a piece per stream');
          const text = pieces.join('');
          assert.equal(text, JSON.stringify(e.snapshot()));
          // And it restores: the restored engine writes the same text again.
          assert.equal([...new QualityAlignEngine(config, JSON.parse(text)).snapshotJson()].join(''), text);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('appends into a given output, record by record, what one call over all records gives', () => {
    const off = { ...candle(3), eventTimeMs: T0 + 181_000, openTimeMs: T0 + 181_000 };
    const dup = { ...candle(1), receivedAtMs: candle(1).receivedAtMs + 5_000 };
    const all = [
      ...Array.from({ length: 6 }, (_, i) => inp('ohlcv', candle(i), i)),
      inp('ohlcv', off, 6),
      inp('ohlcv', dup, 7),
      inp('ohlcv', candle(6), 8),
    ];
    const once = new QualityAlignEngine(config, null).apply(all, NOW);
    const e = new QualityAlignEngine(config, null);
    const into = { bars: [], rejected: [], hits: [], watermarks: new Map() };
    for (const x of all) assert.equal(e.apply([x], NOW, into), into);
    assert.deepEqual(into, once);
    assert.ok(once.bars.length >= 6 && once.rejected.length === 1 && once.hits.length >= 2);
  });
});

describe('chunksByBytes', () => {
  it('splits produce requests under the byte bound, keeping order and every message', async () => {
    const { chunksByBytes } = await import('../pipeline.js');
    const msgs = Array.from({ length: 1000 }, (_, i) => ({
      key: `k${i}`,
      value: 'x'.repeat(1000 + (i % 7)),
    }));
    const chunks = chunksByBytes(msgs, 64 * 1024);
    assert.deepEqual(chunks.flat(), msgs);
    assert.ok(chunks.length > 10);
    for (const c of chunks)
      assert.ok(c.reduce((s, m) => s + String(m.value).length + String(m.key).length + 64, 0) <= 64 * 1024);
  });
});

describe('QualityAlignEngine stream limit', () => {
  it('dead-letters records of streams beyond maxStreams and keeps aligning the admitted ones', () => {
    const e = new QualityAlignEngine({ ...config, maxStreams: 2 }, null);
    const of = (symbol: string, i: number) => ({ ...candle(i), symbol });
    const out = e.apply(
      [
        inp('ohlcv', of('BTC/USDT:USDT', 0), 1),
        inp('ohlcv', of('ETH/USDT:USDT', 0), 2),
        inp('ohlcv', of('../../etc/passwd', 0), 3),
        inp('ohlcv', of('BTC/USDT:USDT', 1), 4),
        inp('ohlcv', of('XRP/USDT:USDT', 1), 5),
      ],
      NOW,
    );
    assert.deepEqual(
      out.rejected.map((r) => [r.ref, r.ruleId]),
      [
        [3, 'align.stream_limit'],
        [5, 'align.stream_limit'],
      ],
    );
    assert.match(out.rejected[0]!.message, /ALIGNER_MAX_STREAMS_PER_PARTITION is 2/);
    assert.deepEqual(
      out.bars.map((b) => [b.symbol, b.eventTimeMs]),
      [
        ['BTC/USDT:USDT', T0],
        ['ETH/USDT:USDT', T0],
        ['BTC/USDT:USDT', T0 + 60_000],
      ],
    );
    assert.deepEqual([...out.watermarks.keys()].sort(), [
      'binanceusdm|BTC/USDT:USDT',
      'binanceusdm|ETH/USDT:USDT',
    ]);
  });
});

describe('QualityAlignEngine order independence', () => {
  const MIN = 60_000;
  const BARS = 20;
  const NOW_LATE = T0 + 10 * 3_600_000;
  const delay = fc.integer({ min: 0, max: 4 * MIN });
  /** Event times on a 15 s grid, so that open interest and predictions share stamps. */
  const eventTime = fc.integer({ min: 0, max: BARS * 4 - 1 }).map((k) => T0 + k * 15_000);

  /** The earliest receive time a record may have; copies are re-stamped from it. */
  function receiveBase(x: EngineInput<number>['record'], feed: EngineInput<number>['feed']): number {
    if (feed === 'ohlcv') {
      const c = x as Candle;
      return c.closed ? c.openTimeMs + MIN : c.openTimeMs;
    }
    return x.eventTimeMs;
  }

  const recordArb: fc.Arbitrary<Omit<EngineInput<number>, 'ref'>> = fc.oneof(
    fc
      .record({
        i: fc.integer({ min: 0, max: BARS - 1 }),
        closed: fc.boolean(),
        close: fc.integer({ min: 100, max: 103 }),
      })
      .map(({ i, closed, close }) => {
        const t = T0 + i * MIN;
        return {
          feed: 'ohlcv' as const,
          record: sampleCandle({
            openTimeMs: t,
            eventTimeMs: t,
            receivedAtMs: closed ? t + MIN : t,
            open: 101,
            high: 104,
            low: 99,
            close,
            volume: closed ? 2 : 1,
            closed,
          }),
        };
      }),
    // Few values on a coarse grid: two observations with one stamp and different values are common.
    fc.record({ e: eventTime, oi: fc.integer({ min: 1, max: 3 }) }).map(({ e, oi }) => ({
      feed: 'open_interest' as const,
      record: sampleOpenInterest({
        eventTimeMs: e,
        receivedAtMs: e,
        openInterest: oi,
        openInterestValue: oi * 100,
      }),
    })),
    fc
      .record({
        k: fc.integer({ min: 0, max: 1 }),
        lag: fc.integer({ min: 0, max: 4 }),
        rate: fc.integer({ min: -2, max: 2 }),
      })
      .map(({ k, lag, rate }) => {
        const f = T0 + k * 10 * MIN;
        return {
          feed: 'funding' as const,
          record: sampleFunding({
            kind: 'settled',
            fundingTimeMs: f,
            eventTimeMs: f + lag * 15_000,
            receivedAtMs: f + lag * 15_000,
            fundingRate: rate / 10_000,
          }),
        };
      }),
    fc
      .record({ e: eventTime, ahead: fc.integer({ min: 1, max: 2 }), rate: fc.integer({ min: -2, max: 2 }) })
      .map(({ e, ahead, rate }) => ({
        feed: 'funding' as const,
        record: sampleFunding({
          kind: 'predicted',
          eventTimeMs: e,
          receivedAtMs: e,
          fundingTimeMs: (Math.floor(e / (10 * MIN)) + ahead) * 10 * MIN,
          fundingRate: rate / 10_000,
          source: 'live',
        }),
      })),
    fc
      .record({
        e: eventTime,
        side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
        quarters: fc.integer({ min: 1, max: 4 }),
      })
      .map(({ e, side, quarters }) => ({
        feed: 'liquidation' as const,
        record: sampleLiquidation({
          eventTimeMs: e,
          receivedAtMs: e,
          side,
          price: 100,
          amount: quarters / 4,
        }),
      })),
  );

  /** Records, each delivered one to three times with its own receive delay (byte-identical otherwise). */
  const deliveriesArb = fc
    .array(fc.tuple(recordArb, fc.array(delay, { minLength: 1, maxLength: 3 })), {
      minLength: 1,
      maxLength: 60,
    })
    .map((xs) =>
      xs.flatMap(([x, delays]) =>
        delays.map((d) => {
          // A provisional candle is received before its bar closes.
          const at =
            receiveBase(x.record, x.feed) +
            (x.feed === 'ohlcv' && !(x.record as Candle).closed ? Math.min(d, MIN - 1) : d);
          return { feed: x.feed, record: { ...x.record, receivedAtMs: at } } as Omit<
            EngineInput<number>,
            'ref'
          >;
        }),
      ),
    );

  function runInBatches(
    deliveries: readonly Omit<EngineInput<number>, 'ref'>[],
    cuts: readonly number[],
    cfg: typeof config,
  ): Map<number, Omit<AlignedBar, 'revision'>> {
    let engine = new QualityAlignEngine(cfg, null);
    const last = new Map<number, Omit<AlignedBar, 'revision'>>();
    const bounds = [...new Set(cuts.map((c) => c % (deliveries.length + 1)))].sort((a, b) => a - b);
    let from = 0;
    for (const end of [...bounds, deliveries.length]) {
      const out = engine.apply(
        deliveries.slice(from, end).map((d, i) => ({ ...d, ref: from + i })),
        NOW_LATE,
      );
      assert.deepEqual(out.rejected, []);
      for (const { revision: _r, ...bar } of out.bars) last.set(bar.eventTimeMs, bar);
      from = end;
      engine = new QualityAlignEngine(cfg, JSON.parse(JSON.stringify(engine.snapshot())));
    }
    // When a bar without its closed candle goes out depends on the order (README: what does not
    // hold); a backfill candle past the window, last in both runs, makes every bar due.
    const end = T0 + (BARS + 3) * MIN;
    const closing = sampleCandle({
      openTimeMs: end,
      eventTimeMs: end,
      receivedAtMs: end + MIN,
      source: 'backfill',
    });
    for (const { revision: _r, ...bar } of engine.apply([inp('ohlcv', closing, -1)], NOW_LATE).bars)
      last.set(bar.eventTimeMs, bar);
    return last;
  }

  it('reaches the same final bars, knownAtMs included, for any order and batching of the same deliveries', () => {
    fc.assert(
      fc.property(
        deliveriesArb.chain((xs) =>
          fc.tuple(fc.constant(xs), fc.shuffledSubarray(xs, { minLength: xs.length, maxLength: xs.length })),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        // The default dedupe window, and one so short that a copy arrives after it forgot the record.
        fc.constantFrom(21_600_000, 30_000),
        ([deliveries, shuffled], cutsA, cutsB, windowMs) => {
          const cfg = {
            quality: parseQualityConfig({ dedupe: { windowMs } }),
            align: parseAlignConfig({ allowedLatenessMs: 0 }),
          };
          const a = runInBatches(deliveries, cutsA, cfg);
          const b = runInBatches(shuffled, cutsB, cfg);
          assert.deepEqual(b, a);
        },
      ),
      { numRuns: 300 },
    );
  });
});
