import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AlignedBar,
  AlignedBarSchema,
  type Candle,
  ConfigError,
  SAMPLE_T0_MS,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from '@perpflow/contracts';
import { AlignStream } from './align-stream.js';
import { type AlignConfigInput, parseAlignConfig } from './config.js';

const MIN = 60_000;
const T0 = SAMPLE_T0_MS;
const KEY = { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT' } as const;

function stream(overrides: AlignConfigInput = {}): AlignStream {
  return AlignStream.create(KEY, parseAlignConfig({ allowedLatenessMs: 0, ...overrides }));
}

/** A closed 1m candle of bar i, received 250 ms after its close. */
function candle(i: number, close = 61_000 + i, overrides: Partial<Candle> = {}): Candle {
  const t = T0 + i * MIN;
  return sampleCandle({
    openTimeMs: t,
    eventTimeMs: t,
    receivedAtMs: t + MIN + 250,
    open: close - 1,
    high: close + 2,
    low: close - 2,
    close,
    volume: 3,
    ...overrides,
  });
}

function feedCandles(s: AlignStream, ...indexes: number[]): AlignedBar[] {
  return indexes.flatMap((i) => s.ingest({ feed: 'ohlcv', record: candle(i) }).bars);
}

function only<T>(xs: T[]): T {
  assert.equal(xs.length, 1, `expected one element, got ${xs.length}`);
  return xs[0]!;
}

describe('emission by watermark', () => {
  it('emits a bar as soon as its own closed candle arrives, without waiting for the allowed lateness', () => {
    const s = stream({ allowedLatenessMs: 5_000 });
    const bar = only(feedCandles(s, 0));
    assert.equal(
      s.watermarkMs,
      T0 + MIN,
      'the watermark t+60s is short of t+65s: the closed candle alone made it due',
    );
    assert.equal(bar.eventTimeMs, T0);
    assert.equal(bar.close, 61_000);
    assert.equal(bar.revision, 0);
    assert.ok(AlignedBarSchema.safeParse(bar).success);
    assert.equal(only(feedCandles(s, 1)).eventTimeMs, T0 + MIN);
  });

  it('emits a bar as soon as its closed candle arrives when the allowed lateness is 0', () => {
    const s = stream();
    assert.equal(only(feedCandles(s, 0)).eventTimeMs, T0);
  });

  it('fills a missing candle only once the watermark passes its close plus the lateness, and keeps bars in order', () => {
    const s = stream({ allowedLatenessMs: 90_000 });
    assert.equal(only(feedCandles(s, 0)).eventTimeMs, T0);
    assert.deepEqual(
      feedCandles(s, 2),
      [],
      'bar 1 has no candle and the watermark T0+3m is short of T0+2m+90s; bar 2 waits behind it',
    );
    assert.deepEqual(
      feedCandles(s, 3).map((b) => [(b.eventTimeMs - T0) / MIN, b.candleFilled, b.revision]),
      [
        [1, true, 0],
        [2, false, 0],
        [3, false, 0],
      ],
    );
  });

  it('emits a bar with a provisional candle only once the watermark passes its close plus the lateness', () => {
    const s = stream({ allowedLatenessMs: 5_000 });
    const provisional = candle(0, 61_000, { closed: false, receivedAtMs: T0 + 50_000 });
    assert.deepEqual(s.ingest({ feed: 'ohlcv', record: provisional }).bars, []);
    assert.deepEqual(s.advanceTo(T0 + MIN + 4_999), []);
    const bar = only(s.advanceTo(T0 + MIN + 5_000));
    assert.deepEqual([bar.eventTimeMs, bar.candleFilled, bar.revision], [T0, false, 0]);
  });

  it('does not treat a provisional candle as the end of its bar', () => {
    const s = stream();
    const provisional = candle(0, 61_000, { closed: false, receivedAtMs: T0 + 30_000 });
    assert.deepEqual(s.ingest({ feed: 'ohlcv', record: provisional }).bars, []);
    assert.equal(s.watermarkMs, T0);
  });

  it('never emits a bar from open interest, funding or liquidations alone', () => {
    const s = stream();
    assert.deepEqual(s.ingest({ feed: 'open_interest', record: sampleOpenInterest() }).bars, []);
    assert.deepEqual(s.ingest({ feed: 'liquidation', record: sampleLiquidation() }).bars, []);
    assert.deepEqual(s.advanceTo(T0 + 10 * MIN), []);
  });
});

describe('missing candles', () => {
  it('emits a filled bar when the candle is missing', () => {
    const s = stream();
    feedCandles(s, 0);
    const bars = feedCandles(s, 3);
    assert.deepEqual(
      bars.map((b) => [b.eventTimeMs, b.candleFilled]),
      [
        [T0 + MIN, true],
        [T0 + 2 * MIN, true],
        [T0 + 3 * MIN, false],
      ],
    );
    const fill = bars[0]!;
    assert.deepEqual(
      [fill.open, fill.high, fill.low, fill.close, fill.volume],
      [61_000, 61_000, 61_000, 61_000, 0],
    );
    assert.equal(fill.knownAtMs, candle(0).receivedAtMs, 'a fill is known when the candle it repeats was');
  });

  it('skips a missing candle under the skip policy', () => {
    const s = stream({ fillPolicy: 'skip' });
    feedCandles(s, 0);
    assert.deepEqual(
      feedCandles(s, 3).map((b) => b.eventTimeMs),
      [T0 + 3 * MIN],
    );
  });

  it('replaces a filled bar by the real candle as revision 1 when it arrives late', () => {
    const s = stream();
    feedCandles(s, 0, 2);
    const bar = only(feedCandles(s, 1));
    assert.equal(bar.eventTimeMs, T0 + MIN);
    assert.equal(bar.revision, 1);
    assert.equal(bar.candleFilled, false);
  });

  it('emits a skipped bar as revision 0 when its candle arrives late', () => {
    const s = stream({ fillPolicy: 'skip' });
    feedCandles(s, 0, 2);
    const bar = only(feedCandles(s, 1));
    assert.deepEqual([bar.eventTimeMs, bar.revision], [T0 + MIN, 0]);
  });
});

describe('open interest as of the bar close', () => {
  it('uses the latest observation at or before t + tf, including one exactly at the close', () => {
    const s = stream();
    s.ingest({
      feed: 'open_interest',
      record: sampleOpenInterest({ eventTimeMs: T0 + 10_000, openInterest: 1 }),
    });
    s.ingest({
      feed: 'open_interest',
      record: sampleOpenInterest({ eventTimeMs: T0 + MIN, receivedAtMs: T0 + MIN + 10, openInterest: 2 }),
    });
    s.ingest({
      feed: 'open_interest',
      record: sampleOpenInterest({ eventTimeMs: T0 + MIN + 1, receivedAtMs: T0 + MIN + 20, openInterest: 3 }),
    });
    const bar = only(feedCandles(s, 0));
    assert.equal(bar.openInterest, 2);
    assert.equal(bar.openInterestTimeMs, T0 + MIN);
    assert.equal(bar.openInterestStale, false);
    assert.equal(bar.openInterestMissing, null);
  });

  it('leaves open interest null and stale when the latest observation is older than the staleness bound', () => {
    const s = stream();
    s.ingest({
      feed: 'open_interest',
      record: sampleOpenInterest({ eventTimeMs: T0 - 10 * MIN + MIN - 1, receivedAtMs: T0 - 9 * MIN }),
    });
    const bar = only(feedCandles(s, 0));
    assert.equal(bar.openInterest, null);
    assert.equal(bar.openInterestTimeMs, null);
    assert.equal(bar.openInterestStale, true);
    assert.equal(bar.openInterestMissing, 'not_observed');
  });

  it('marks open interest stale when there is none, not observed on a venue with open-interest history', () => {
    const bar = only(feedCandles(stream(), 0));
    assert.deepEqual(
      [bar.openInterest, bar.openInterestStale, bar.openInterestMissing],
      [null, true, 'not_observed'],
    );
  });
});

describe('a venue without liquidations or open-interest history (hyperliquid)', () => {
  const HL = { exchange: 'hyperliquid', symbol: 'BTC/USDC:USDC' } as const;
  const hlStream = () => AlignStream.create(HL, parseAlignConfig({ allowedLatenessMs: 0 }));
  const hlCandle = (i: number) => candle(i, 61_000 + i, HL);

  it('has null liquidation figures and price kind, completeness none, and no_history open interest', () => {
    const bar = only(hlStream().ingest({ feed: 'ohlcv', record: hlCandle(0) }).bars);
    assert.deepEqual(
      [bar.liqLongNotional, bar.liqShortNotional, bar.liqCount, bar.liqPriceKind, bar.liqCompleteness],
      [null, null, null, null, 'none'],
    );
    assert.deepEqual(
      [bar.openInterest, bar.openInterestMissing, bar.openInterestStale],
      [null, 'no_history', true],
    );
    assert.equal(AlignedBarSchema.safeParse(bar).success, true);
  });

  it('reports a live open-interest point at or before the close, with no reason, and no_history once it is stale', () => {
    const s = hlStream();
    s.ingest({
      feed: 'open_interest',
      record: sampleOpenInterest({
        ...HL,
        eventTimeMs: T0 + 30_000,
        receivedAtMs: T0 + 30_100,
        openInterest: 7,
      }),
    });
    const live = only(s.ingest({ feed: 'ohlcv', record: hlCandle(0) }).bars);
    assert.deepEqual(
      [live.openInterest, live.openInterestTimeMs, live.openInterestMissing],
      [7, T0 + 30_000, null],
    );
    assert.equal(AlignedBarSchema.safeParse(live).success, true);
    const later = only(s.ingest({ feed: 'ohlcv', record: hlCandle(20) }).bars.slice(-1));
    assert.deepEqual([later.openInterest, later.openInterestMissing], [null, 'no_history']);
  });
});

describe('funding', () => {
  const H = 3_600_000;

  it('uses the latest settled rate at or before the close, with its settlement time', () => {
    const s = stream();
    s.ingest({
      feed: 'funding',
      record: sampleFunding({ fundingTimeMs: T0 - 8 * H, eventTimeMs: T0 - 8 * H, fundingRate: 0.0001 }),
    });
    s.ingest({
      feed: 'funding',
      record: sampleFunding({ fundingTimeMs: T0, eventTimeMs: T0, fundingRate: 0.0003 }),
    });
    s.ingest({
      feed: 'funding',
      record: sampleFunding({
        fundingTimeMs: T0 + 8 * H,
        eventTimeMs: T0 + 8 * H,
        receivedAtMs: T0 + 8 * H,
        fundingRate: 0.0009,
      }),
    });
    const bar = only(feedCandles(s, 0));
    assert.deepEqual([bar.fundingRate, bar.fundingTimeMs, bar.fundingStale], [0.0003, T0, false]);
  });

  it('does not use a settled rate stamped after the bar close', () => {
    const s = stream();
    s.ingest({
      feed: 'funding',
      record: sampleFunding({ fundingTimeMs: T0, eventTimeMs: T0 + 2 * MIN, receivedAtMs: T0 + 2 * MIN }),
    });
    const bar = only(feedCandles(s, 0));
    assert.deepEqual([bar.fundingRate, bar.fundingStale], [null, true]);
  });

  it('flags funding stale after the interval plus grace, keeping the rate', () => {
    const s = stream();
    const f = T0 - 8 * H - 30 * MIN;
    s.ingest({
      feed: 'funding',
      record: sampleFunding({ fundingTimeMs: f, eventTimeMs: f, receivedAtMs: f + 500 }),
    });
    const atBound = only(feedCandles(s, -1));
    assert.equal(atBound.fundingStale, false, 'close − settlement = 8h30m exactly');
    const after = only(feedCandles(s, 0));
    assert.deepEqual([after.fundingRate, after.fundingStale], [0.0001, true]);
  });

  /** Settled funding at `at` (settlement = stamp), received 500 ms later. */
  const settle = (s: AlignStream, at: number, fundingRate = 0.0001) =>
    s.ingest({
      feed: 'funding',
      record: sampleFunding({ fundingTimeMs: at, eventTimeMs: at, receivedAtMs: at + 500, fundingRate }),
    });

  it('takes the interval from the symbol’s own settlements and normalizes the rate to 8 h', () => {
    const s = stream();
    settle(s, T0 - 8 * H, 0.0001);
    settle(s, T0 - 4 * H, 0.0002);
    settle(s, T0, 0.0003);
    const bar = only(feedCandles(s, 0));
    assert.deepEqual(
      [bar.fundingRate, bar.fundingTimeMs, bar.fundingIntervalMs, bar.fundingRate8h],
      [0.0003, T0, 4 * H, 0.0006],
    );
  });

  it('flags a 4 h symbol’s funding stale after 4 h plus grace, not 8 h', () => {
    const s = stream();
    const last = T0 - 4 * H - 31 * MIN;
    settle(s, last - 4 * H);
    settle(s, last);
    const bar = only(feedCandles(s, 0));
    assert.deepEqual([bar.fundingIntervalMs, bar.fundingStale], [4 * H, true], 'close − settlement = 4h32m');
    const s8 = stream();
    settle(s8, last - 8 * H);
    settle(s8, last);
    const bar8 = only(feedCandles(s8, 0));
    assert.deepEqual([bar8.fundingIntervalMs, bar8.fundingStale], [8 * H, false]);
  });

  it('knows no interval from one settlement, or across a gap longer than the longest interval', () => {
    const one = stream();
    settle(one, T0);
    const a = only(feedCandles(one, 0));
    assert.deepEqual([a.fundingIntervalMs, a.fundingRate8h, a.fundingStale], [null, null, false]);
    const gap = stream();
    settle(gap, T0 - 16 * H);
    settle(gap, T0);
    const b = only(feedCandles(gap, 0));
    assert.deepEqual(
      [b.fundingIntervalMs, b.fundingRate8h],
      [null, null],
      'a missed settlement is no 16 h interval',
    );
  });

  it('re-emits the bars whose interval a late earlier settlement decides, and no others', () => {
    const s = stream({ revisionHorizonMs: 48 * H });
    settle(s, T0 - 8 * H);
    settle(s, T0);
    const first = feedCandles(s, 0, 1, 2);
    assert.deepEqual(
      first.map((b) => b.fundingIntervalMs),
      [8 * H, 8 * H, 8 * H],
    );
    // Binance halved the interval: the 4 h settlement arrives late, after the bars.
    const revised = settle(s, T0 - 4 * H, 0.0005).bars;
    assert.deepEqual(
      revised.map((b) => [b.eventTimeMs, b.fundingIntervalMs, b.fundingRate8h, b.revision]),
      [0, 1, 2].map((i) => [T0 + i * MIN, 4 * H, 0.0002, 1]),
    );
  });

  /** A premium-index observation at `at` (predicted rate for the next 8 h slot, mark, index). */
  const premium = (s: AlignStream, at: number, markPrice: number | null, indexPrice: number | null) =>
    s.ingest({
      feed: 'funding',
      record: sampleFunding({
        kind: 'predicted',
        eventTimeMs: at,
        receivedAtMs: at + 200,
        fundingTimeMs: T0 + 8 * H,
        fundingRate: 0.0001,
        markPrice,
        indexPrice,
      }),
    });

  it('reports mark, index and basis as of the close from the latest premium-index observation', () => {
    const s = stream();
    premium(s, T0 + 10_000, 60_900, 60_850);
    premium(s, T0 + 50_000, 61_030, 61_000);
    premium(s, T0 + MIN + 1, 99_999, 99_000); // after the close: never seen by bar 0
    const bar = only(feedCandles(s, 0));
    assert.deepEqual(
      [bar.markPrice, bar.markPriceTimeMs, bar.indexPrice, bar.indexPriceTimeMs],
      [61_030, T0 + 50_000, 61_000, T0 + 50_000],
    );
    assert.equal(bar.basis, 30 / 61_000);
    assert.equal(bar.knownAtMs, Math.max(candle(0).receivedAtMs, T0 + 50_200));
  });

  it('leaves mark, index and basis null when stale or not sent, each on its own', () => {
    const stale = stream({ maxMarkIndexStalenessMs: 30_000 });
    premium(stale, T0 + 20_000, 61_030, 61_000);
    const a = only(feedCandles(stale, 0));
    assert.deepEqual(
      [a.markPrice, a.indexPrice, a.basis],
      [null, null, null],
      'observed 40 s before the close',
    );
    const noIndex = stream();
    premium(noIndex, T0 + 50_000, 61_030, null);
    const b = only(feedCandles(noIndex, 0));
    assert.deepEqual([b.markPrice, b.indexPrice, b.indexPriceTimeMs, b.basis], [61_030, null, null, null]);
  });

  it('restores snapshots whose premium rows predate mark and index (4 columns)', () => {
    const s = stream();
    premium(s, T0 + 50_000, 61_030, 61_000);
    const snap = s.snapshot();
    const old = { ...snap, predictedFunding: snap.predictedFunding.map((r) => [r[0]!, r[1]!, r[2]!, r[5]!]) };
    const restored = AlignStream.restore(old, parseAlignConfig({ allowedLatenessMs: 0 }));
    const bar = only(restored.ingest({ feed: 'ohlcv', record: candle(0) }).bars);
    assert.deepEqual([bar.predictedFundingRate, bar.markPrice, bar.indexPrice], [0.0001, null, null]);
    assert.equal(bar.knownAtMs, Math.max(candle(0).receivedAtMs, T0 + 50_200));
  });

  it('names the venue’s liquidation price kind and completeness on every bar', () => {
    const binance = only(feedCandles(stream(), 0));
    assert.deepEqual([binance.liqPriceKind, binance.liqCompleteness], ['average_fill', 'snapshot_1s']);
    const bybit = AlignStream.create(
      { exchange: 'bybit', symbol: 'BTC/USDT:USDT' },
      parseAlignConfig({ allowedLatenessMs: 0 }),
    );
    const bar = only(bybit.ingest({ feed: 'ohlcv', record: candle(0, 61_000, { exchange: 'bybit' }) }).bars);
    assert.deepEqual([bar.liqPriceKind, bar.liqCompleteness], ['bankruptcy', 'all']);
  });

  it('reports a predicted rate observed by the close for a settlement after it', () => {
    const s = stream();
    const next = T0 + 8 * H;
    s.ingest({
      feed: 'funding',
      record: sampleFunding({
        kind: 'predicted',
        eventTimeMs: T0 + 30_000,
        receivedAtMs: T0 + 30_100,
        fundingTimeMs: next,
        fundingRate: 0.0002,
      }),
    });
    s.ingest({
      feed: 'funding',
      record: sampleFunding({
        kind: 'predicted',
        eventTimeMs: T0 + MIN + 1,
        receivedAtMs: T0 + MIN + 100,
        fundingTimeMs: next,
        fundingRate: 0.0005,
      }),
    });
    const bar = only(feedCandles(s, 0));
    assert.deepEqual([bar.predictedFundingRate, bar.predictedFundingTimeMs], [0.0002, next]);
  });

  it('drops a predicted rate whose settlement has passed by the close', () => {
    const s = stream();
    s.ingest({
      feed: 'funding',
      record: sampleFunding({
        kind: 'predicted',
        eventTimeMs: T0 - MIN,
        receivedAtMs: T0 - MIN,
        fundingTimeMs: T0,
      }),
    });
    const bar = only(feedCandles(s, 0));
    assert.deepEqual([bar.predictedFundingRate, bar.predictedFundingTimeMs], [null, null]);
  });
});

describe('liquidations', () => {
  it('sums sell orders as liquidated longs and buy orders as liquidated shorts over [t, t + tf)', () => {
    const s = stream();
    const at = (ms: number, side: 'buy' | 'sell', price: number, amount: number) =>
      s.ingest({
        feed: 'liquidation',
        record: sampleLiquidation({ eventTimeMs: ms, receivedAtMs: ms + 50, side, price, amount }),
      });
    at(T0, 'sell', 100, 2); // first ms of the bar: in
    at(T0 + 30_000, 'sell', 50, 1);
    at(T0 + 59_999, 'buy', 10, 3); // last ms: in
    at(T0 + MIN, 'buy', 1_000, 1); // the next bar
    at(T0 - 1, 'sell', 1_000, 1); // the previous bar
    const bar = only(feedCandles(s, 0));
    assert.deepEqual([bar.liqLongNotional, bar.liqShortNotional, bar.liqCount], [250, 30, 3]);
  });

  it('counts a liquidation delivered twice once', () => {
    const s = stream();
    s.ingest({ feed: 'liquidation', record: sampleLiquidation() });
    s.ingest({ feed: 'liquidation', record: sampleLiquidation({ receivedAtMs: T0 + 50_000 }) });
    const bar = only(feedCandles(s, 0));
    assert.equal(bar.liqCount, 1);
    assert.equal(bar.knownAtMs, candle(0).receivedAtMs);
  });

  it('reports a bar without liquidations on a venue with a source as 0, not null', () => {
    const bar = only(feedCandles(stream(), 0));
    assert.deepEqual(
      [bar.liqLongNotional, bar.liqShortNotional, bar.liqCount, bar.liqPriceKind, bar.liqCompleteness],
      [0, 0, 0, 'average_fill', 'snapshot_1s'],
    );
  });
});

describe('knownAtMs', () => {
  it('is the latest receive time among the inputs used', () => {
    const s = stream();
    s.ingest({ feed: 'liquidation', record: sampleLiquidation({ receivedAtMs: T0 + 70_000 }) });
    s.ingest({ feed: 'open_interest', record: sampleOpenInterest({ receivedAtMs: T0 + 65_000 }) });
    assert.equal(only(feedCandles(s, 0)).knownAtMs, T0 + 70_000);
  });

  it('lowers knownAtMs as a revision when a copy received earlier arrives second, and ignores a later one', () => {
    const s = stream();
    const late = candle(0, 61_000, { receivedAtMs: T0 + MIN + 9_000 });
    assert.equal(only(s.ingest({ feed: 'ohlcv', record: late }).bars).knownAtMs, T0 + MIN + 9_000);
    const earlier = only(s.ingest({ feed: 'ohlcv', record: { ...late, receivedAtMs: T0 + MIN + 250 } }).bars);
    assert.deepEqual([earlier.revision, earlier.knownAtMs], [1, T0 + MIN + 250]);
    assert.deepEqual({ ...earlier, revision: 0, knownAtMs: 0 }, { ...s.computeBar(T0)!, knownAtMs: 0 });
    assert.deepEqual(
      s.ingest({ feed: 'ohlcv', record: { ...late, receivedAtMs: T0 + MIN + 5_000 } }).bars,
      [],
    );
  });

  it('takes the earliest receipt of the kept open interest, whatever the order of its copies', () => {
    const oi = sampleOpenInterest({ eventTimeMs: T0 + 30_000, openInterest: 7 });
    const copies = [T0 + 90_000, T0 + 31_000, T0 + 62_000].map((receivedAtMs) => ({ ...oi, receivedAtMs }));
    for (const order of [copies, [...copies].reverse()]) {
      const s = stream();
      for (const record of order) s.ingest({ feed: 'open_interest', record });
      // The candle (received at T0 + 60 250) is now the latest input used.
      assert.equal(only(feedCandles(s, 0)).knownAtMs, T0 + MIN + 250);
    }
  });
});

describe('same-stamp resolution', () => {
  /** The bar at T0 after ingesting the records in the given order, then its candle. */
  function barAfter(records: Parameters<AlignStream['ingest']>[0][]): AlignedBar {
    const s = stream();
    for (const r of records) s.ingest(r);
    feedCandles(s, 0);
    return s.computeBar(T0)!;
  }

  it('keeps the larger of two open-interest values with one eventTimeMs, with its own receipt', () => {
    const small = sampleOpenInterest({
      eventTimeMs: T0 + 30_000,
      receivedAtMs: T0 + 30_100,
      openInterest: 100,
    });
    const large = { ...small, receivedAtMs: T0 + 70_000, openInterest: 101 };
    for (const order of [
      [small, large],
      [large, small],
    ]) {
      const bar = barAfter(order.map((record) => ({ feed: 'open_interest' as const, record })));
      assert.deepEqual(
        [bar.openInterest, bar.openInterestTimeMs, bar.knownAtMs],
        [101, T0 + 30_000, T0 + 70_000],
      );
    }
  });

  it('keeps, of two predictions with one eventTimeMs, the later settlement time, then the larger rate', () => {
    const p = sampleFunding({
      kind: 'predicted',
      source: 'live',
      eventTimeMs: T0 + 20_000,
      receivedAtMs: T0 + 20_100,
      fundingTimeMs: T0 + 8 * 3_600_000,
      fundingRate: 0.0003,
    });
    const laterSettlement = { ...p, fundingTimeMs: T0 + 16 * 3_600_000, fundingRate: -0.0001 };
    const largerRate = { ...p, fundingRate: 0.0004, receivedAtMs: T0 + 20_200 };
    const cases: [(typeof p)[], [number, number]][] = [
      [
        [p, laterSettlement],
        [-0.0001, T0 + 16 * 3_600_000],
      ],
      [
        [p, largerRate],
        [0.0004, T0 + 8 * 3_600_000],
      ],
    ];
    for (const [pair, expected] of cases)
      for (const order of [pair, [...pair].reverse()]) {
        const bar = barAfter(order.map((record) => ({ feed: 'funding' as const, record })));
        assert.deepEqual([bar.predictedFundingRate, bar.predictedFundingTimeMs], expected);
      }
  });

  it('keeps, of two versions of one settlement, the earlier-stamped, then the larger rate', () => {
    const f = sampleFunding({
      kind: 'settled',
      fundingTimeMs: T0,
      eventTimeMs: T0 + 5_000,
      receivedAtMs: T0 + 5_100,
    });
    const stampedLater = { ...f, eventTimeMs: T0 + 10_000, receivedAtMs: T0 + 10_100, fundingRate: 0.0009 };
    const largerRate = { ...f, fundingRate: 0.0002 };
    const cases: [(typeof f)[], number][] = [
      [[f, stampedLater], 0.0001],
      [[f, largerRate], 0.0002],
    ];
    for (const [pair, rate] of cases)
      for (const order of [pair, [...pair].reverse()])
        assert.equal(
          barAfter(order.map((record) => ({ feed: 'funding' as const, record }))).fundingRate,
          rate,
        );
  });
});

describe('revisions and late data', () => {
  it('re-emits a bar as revision 1 when a liquidation arrives after it was emitted', () => {
    const s = stream();
    feedCandles(s, 0, 1);
    const bar = only(s.ingest({ feed: 'liquidation', record: sampleLiquidation() }).bars);
    assert.deepEqual([bar.eventTimeMs, bar.revision, bar.liqCount], [T0, 1, 1]);
  });

  it('does not re-emit a bar when late data leaves its content unchanged', () => {
    const s = stream();
    feedCandles(s, 0, 1);
    assert.deepEqual(s.ingest({ feed: 'ohlcv', record: candle(0) }).bars, []);
    assert.deepEqual(
      s.ingest({ feed: 'open_interest', record: sampleOpenInterest({ eventTimeMs: T0 - 20 * MIN }) }).bars,
      [],
      'an observation older than the staleness bound changes nothing',
    );
  });

  it('re-emits a bar when the closed version of a provisional candle arrives', () => {
    const s = stream({ allowedLatenessMs: 5_000 });
    s.ingest({
      feed: 'ohlcv',
      record: candle(0, 61_000, { closed: false, volume: 1, receivedAtMs: T0 + 20_000 }),
    });
    const next = candle(1, 61_001, { closed: false, receivedAtMs: T0 + MIN + 20_000 });
    assert.deepEqual(
      s.ingest({ feed: 'ohlcv', record: next }).bars,
      [],
      'watermark T0+1m is short of T0+1m+5s',
    );
    const first = only(s.advanceTo(T0 + MIN + 5_000));
    assert.deepEqual([first.volume, first.revision], [1, 0]);
    const rev = only(s.ingest({ feed: 'ohlcv', record: candle(0) }).bars);
    assert.deepEqual([rev.volume, rev.revision], [3, 1]);
    assert.deepEqual(
      s.ingest({ feed: 'ohlcv', record: candle(0, 61_000, { closed: false, volume: 2 }) }).bars,
      [],
    );
  });

  it('returns data older than the revision horizon as a late rejection', () => {
    const s = stream({ revisionHorizonMs: 10 * MIN });
    feedCandles(s, 20);
    const res = s.ingest({ feed: 'liquidation', record: sampleLiquidation({ eventTimeMs: T0 + 10 * MIN }) });
    assert.deepEqual(res.bars, []);
    assert.equal(res.rejection?.ruleId, 'late');
    assert.match(
      res.rejection!.message,
      /liquidation eventTimeMs 1709251800000 is 660000 ms behind the watermark 1709252460000 \(revisionHorizonMs 600000\)/,
    );
    assert.equal(
      s.ingest({ feed: 'liquidation', record: sampleLiquidation({ eventTimeMs: T0 + 11 * MIN }) }).rejection,
      null,
    );
  });

  it('judges a settled rate late by its settlement time', () => {
    const s = stream({ revisionHorizonMs: 10 * MIN });
    feedCandles(s, 20);
    const res = s.ingest({
      feed: 'funding',
      record: sampleFunding({ fundingTimeMs: T0, eventTimeMs: T0, source: 'live' }),
    });
    assert.equal(res.rejection?.ruleId, 'late');
    assert.match(res.rejection!.message, /fundingTimeMs/);
  });
});

describe('history: a backfill behind live data', () => {
  const backfillCandle = (i: number) => candle(i, 61_000 + i, { source: 'backfill' });
  const live = (i: number) => candle(i, 61_000 + i, { source: 'live' });

  it('emits every history bar once, fills included, however far behind the live range it is', () => {
    const s = stream({ allowedLatenessMs: 5_000 });
    const out: AlignedBar[] = [];
    // Live first: bars 300..309. Then a backfill of 0..309 in ascending order with 7 candles missing.
    for (let i = 300; i < 310; i++) out.push(...s.ingest({ feed: 'ohlcv', record: live(i) }).bars);
    const missing = new Set([5, 6, 7, 100, 150, 151, 298]);
    for (let i = 0; i < 310; i++)
      if (!missing.has(i)) out.push(...s.ingest({ feed: 'ohlcv', record: backfillCandle(i) }).bars);
    const times = out.map((b) => (b.eventTimeMs - T0) / MIN);
    assert.equal(out.length, 310, 'bars 0..309 once each (309 is out on its own closed candle)');
    assert.deepEqual(
      [...new Set(times)].sort((a, b) => a - b),
      Array.from({ length: 310 }, (_, i) => i),
    );
    assert.ok(out.every((b) => b.revision === 0));
    const fills = out.filter((b) => b.candleFilled).map((b) => (b.eventTimeMs - T0) / MIN);
    assert.deepEqual(
      fills.sort((a, b) => a - b),
      [...missing].sort((a, b) => a - b),
    );
    const fill100 = out.find((b) => b.eventTimeMs === T0 + 100 * MIN)!;
    assert.equal(fill100.close, 61_099, 'a fill repeats the close of the candle before it');
  });

  it('takes a backfill older than the revision horizon, with its open interest and funding as-of', () => {
    const s = stream({ revisionHorizonMs: 10 * MIN });
    for (let i = 200; i < 205; i++) s.ingest({ feed: 'ohlcv', record: live(i) });
    // The chunk order of a backfill: funding, then open interest, then candles.
    const funding = s.ingest({
      feed: 'funding',
      record: sampleFunding({ kind: 'settled', fundingTimeMs: T0, eventTimeMs: T0, fundingRate: 0.0003 }),
    });
    assert.equal(funding.rejection, null);
    const oi = [0, 5, 10].map(
      (i) =>
        s.ingest({
          feed: 'open_interest',
          record: sampleOpenInterest({
            eventTimeMs: T0 + i * MIN,
            openInterest: 1000 + i,
            source: 'backfill',
          }),
        }).rejection,
    );
    assert.deepEqual(oi, [null, null, null]);
    const bars: AlignedBar[] = [];
    for (let i = 0; i < 20; i++) {
      const r = s.ingest({ feed: 'ohlcv', record: backfillCandle(i) });
      assert.equal(r.rejection, null, `candle ${i}`);
      bars.push(...r.bars);
    }
    assert.equal(bars.length, 20);
    const at = (i: number) => bars.find((b) => b.eventTimeMs === T0 + i * MIN)!;
    assert.equal(at(0).fundingRate, 0.0003);
    assert.equal(at(3).openInterest, 1000, 'bar 3 closes at 4 min: the 0 min observation');
    assert.equal(at(7).openInterest, 1005);
    assert.equal(at(12).openInterest, 1010);
    // A live record that old is still late: only a backfill writes history.
    const stale = s.ingest({
      feed: 'open_interest',
      record: sampleOpenInterest({ eventTimeMs: T0 + 3 * MIN, openInterest: 1, source: 'live' }),
    });
    assert.equal(stale.rejection?.ruleId, 'late');
  });

  it('revises a history bar when its input arrives after it was emitted, within the history horizon', () => {
    const s = stream({ revisionHorizonMs: 10 * MIN });
    for (let i = 100; i < 103; i++) s.ingest({ feed: 'ohlcv', record: live(i) });
    for (let i = 0; i < 30; i++) s.ingest({ feed: 'ohlcv', record: backfillCandle(i) });
    const liq = s.ingest({
      feed: 'liquidation',
      record: sampleLiquidation({ eventTimeMs: T0 + 25 * MIN + 1_000, source: 'backfill' }),
    });
    const bar = only(liq.bars);
    assert.equal(bar.eventTimeMs, T0 + 25 * MIN);
    assert.equal(bar.revision, 1);
    assert.equal(bar.liqCount, 1);
    const old = s.ingest({
      feed: 'liquidation',
      record: sampleLiquidation({ eventTimeMs: T0 + 5 * MIN, source: 'backfill' }),
    });
    assert.equal(old.rejection?.ruleId, 'late');
    assert.match(old.rejection!.message, /behind the history mark/);
  });

  it('holds bounded state once the history has caught up with the live range', () => {
    const s = stream({ revisionHorizonMs: 10 * MIN });
    for (let i = 500; i < 505; i++) s.ingest({ feed: 'ohlcv', record: live(i) });
    for (let i = 0; i < 505; i++) s.ingest({ feed: 'ohlcv', record: backfillCandle(i) });
    const snap = s.snapshot();
    assert.equal(snap.historyNextMs, null, 'history closed');
    assert.ok(snap.candles.length <= 13, `candles held: ${snap.candles.length}`);
    assert.ok(snap.emitted.length <= 13, `emission records held: ${snap.emitted.length}`);
  });

  it('keeps funding older than the grid start when an out-of-order candle closes the history, so its re-delivery is a no-op', () => {
    // fast-check seed -2105095066: the history closed and pruned the older prediction;
    // its re-delivery then opened a history the first delivery had not.
    const s = stream({ revisionHorizonMs: 5 * MIN, allowedLatenessMs: 5_000 });
    const predicted = (at: number) =>
      sampleFunding({
        kind: 'predicted',
        eventTimeMs: at,
        receivedAtMs: at,
        fundingTimeMs: T0 + 10 * MIN,
        fundingRate: 0,
      });
    const provisional = (i: number) =>
      candle(i, 100, { closed: false, receivedAtMs: T0 + i * MIN, source: 'live' });
    s.ingest({ feed: 'funding', record: predicted(T0) });
    s.ingest({ feed: 'funding', record: predicted(T0 + 15_000) });
    s.ingest({ feed: 'ohlcv', record: provisional(16) });
    s.ingest({ feed: 'ohlcv', record: provisional(15) });
    const before = s.snapshot();
    assert.deepEqual(
      before.predictedFunding.map((r) => r[0]),
      [T0, T0 + 15_000],
      'both predictions older than the grid start are held for a backfill',
    );
    assert.equal(before.historyNextMs, T0 + 15 * MIN, 'a history waits below the grid start');
    const again = s.ingest({ feed: 'funding', record: predicted(T0) });
    assert.deepEqual(again, { bars: [], rejection: null });
    assert.deepEqual(s.snapshot(), before);
    // The held prediction reaches the bar a backfill candle then makes.
    const bar = only(s.ingest({ feed: 'ohlcv', record: candle(-1, 99, { source: 'backfill' }) }).bars);
    assert.equal(bar.eventTimeMs, T0 - MIN);
    assert.equal(bar.predictedFundingTimeMs, T0 + 10 * MIN);
  });

  it('takes backfill funding older than the grid start while a history is pending, as a re-delivery after the history closes would be', () => {
    // fast-check seed -1693453273 (CI run of 2026-12-03): the first delivery was rejected
    // as behind the history mark, a re-delivery after an out-of-order candle closed the
    // history was taken and revised five bars.
    const s = stream({ revisionHorizonMs: 5 * MIN, allowedLatenessMs: 5_000 });
    const provisional = (i: number) =>
      candle(i, 100, { closed: false, receivedAtMs: T0 + i * MIN, source: 'live' });
    const settled = sampleFunding({
      kind: 'settled',
      fundingTimeMs: T0,
      eventTimeMs: T0,
      receivedAtMs: T0,
      fundingRate: 0,
      source: 'backfill',
    });
    s.ingest({ feed: 'ohlcv', record: provisional(27) });
    s.ingest({ feed: 'ohlcv', record: provisional(22) });
    assert.equal(s.snapshot().historyNextMs !== null, true, 'a history is pending');
    const first = s.ingest({ feed: 'funding', record: settled });
    assert.equal(first.rejection, null, 'no bar below the grid start (22 min) was ever emitted');
    assert.deepEqual(
      first.bars.map((b) => [(b.eventTimeMs - T0) / MIN, b.revision, b.fundingTimeMs]),
      [[22, 1, T0]],
    );
    const closing = s.ingest({
      feed: 'ohlcv',
      record: candle(26, 100, { receivedAtMs: T0 + 27 * MIN, source: 'live' }),
    });
    assert.deepEqual(
      closing.bars.map((b) => [(b.eventTimeMs - T0) / MIN, b.revision]),
      [
        [23, 0],
        [24, 0],
        [25, 0],
        [26, 0],
      ],
    );
    const before = s.snapshot();
    assert.deepEqual(s.ingest({ feed: 'funding', record: settled }), { bars: [], rejection: null });
    assert.deepEqual(s.snapshot(), before, 'the re-delivery changes nothing');
  });

  it('gives the same bars across a snapshot/restore in the middle of a history', () => {
    const cfg = parseAlignConfig({ allowedLatenessMs: 0 });
    const inputs = [
      ...[60, 61, 62].map((i) => ({ feed: 'ohlcv' as const, record: live(i) })),
      ...Array.from({ length: 60 }, (_, i) => i)
        .filter((i) => i % 7 !== 3)
        .map((i) => ({ feed: 'ohlcv' as const, record: backfillCandle(i) })),
    ];
    const straight = AlignStream.create(KEY, cfg).ingestBatch(inputs).bars;
    let s = AlignStream.create(KEY, cfg);
    const bars = s.ingestBatch(inputs.slice(0, 30)).bars;
    s = AlignStream.restore(JSON.parse(JSON.stringify(s.snapshot())), cfg);
    bars.push(...s.ingestBatch(inputs.slice(30)).bars);
    assert.deepEqual(bars, straight);
    assert.equal(new Set(straight.map((b) => b.eventTimeMs)).size, straight.length, 'no bar twice');
  });
});

describe('stream identity', () => {
  it('rejects a candle of another timeframe and a record of another symbol', () => {
    const s = stream();
    assert.equal(
      s.ingest({ feed: 'ohlcv', record: candle(0, 61_000, { timeframe: '5m' }) }).rejection?.ruleId,
      'align.timeframe_mismatch',
    );
    assert.equal(
      s.ingest({ feed: 'liquidation', record: sampleLiquidation({ symbol: 'ETH/USDT:USDT' }) }).rejection
        ?.ruleId,
      'align.stream_mismatch',
    );
  });
});

describe('advanceTo and flush', () => {
  it('flushes the last bars of a stream that stopped', () => {
    const s = stream({ allowedLatenessMs: 5_000 });
    assert.deepEqual(
      feedCandles(s, 0, 1).map((b) => b.eventTimeMs),
      [T0, T0 + MIN],
    );
    const provisional = candle(2, 61_002, { closed: false, receivedAtMs: T0 + 2 * MIN + 30_000 });
    assert.deepEqual(s.ingest({ feed: 'ohlcv', record: provisional }).bars, []);
    assert.deepEqual(
      s.flush().map((b) => [b.eventTimeMs, b.close]),
      [[T0 + 2 * MIN, 61_002]],
    );
    assert.deepEqual(s.flush(), []);
  });

  it('fills bars up to a processing-time watermark the caller passes', () => {
    const s = stream();
    feedCandles(s, 0);
    const bars = s.advanceTo(T0 + 3 * MIN);
    assert.deepEqual(
      bars.map((b) => [b.eventTimeMs, b.candleFilled]),
      [
        [T0 + MIN, true],
        [T0 + 2 * MIN, true],
      ],
    );
    assert.equal(s.advanceTo(T0).length, 0, 'the watermark never moves back');
  });
});

describe('bounded state', () => {
  it('prunes inputs and emission records older than the revision horizon', () => {
    const s = stream({ revisionHorizonMs: 30 * MIN });
    for (let i = 0; i < 600; i++) {
      s.ingest({
        feed: 'liquidation',
        record: sampleLiquidation({ eventTimeMs: T0 + i * MIN + 1, receivedAtMs: T0 + i * MIN + 2 }),
      });
      s.ingest({
        feed: 'open_interest',
        record: sampleOpenInterest({ eventTimeMs: T0 + i * MIN + 3, receivedAtMs: T0 + i * MIN + 4 }),
      });
      s.ingest({ feed: 'ohlcv', record: candle(i) });
    }
    const snap = s.snapshot();
    for (const rows of [snap.candles, snap.openInterest, snap.liquidations, snap.emitted])
      assert.ok(rows.length <= 33, `kept ${rows.length} rows`);
  });

  it('fails naming the key of a bad option', () => {
    assert.throws(
      () => parseAlignConfig({ fillPolicy: 'zero' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'align.fillPolicy',
    );
  });
});
