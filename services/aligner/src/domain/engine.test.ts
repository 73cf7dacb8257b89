import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Candle, sampleCandle, sampleLiquidation, sampleOpenInterest } from '@perpflow/contracts';
import { parseAlignConfig } from '@perpflow/align';
import { parseQualityConfig } from '@perpflow/quality';
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
