import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMarketModel } from './model.js';
import { DAY_MS, FUNDING_INTERVAL_MS, HOUR_MS, MINUTE_MS } from './types.js';

const T0 = Date.UTC(2025, 0, 10, 0, 0);

describe('market model', () => {
  it('gives the same values for the same seed, and different ones for another seed', () => {
    const a = createMarketModel({ seed: 7, symbolCount: 30 });
    const b = createMarketModel({ seed: 7, symbolCount: 30 });
    const c = createMarketModel({ seed: 8, symbolCount: 30 });
    const range = [T0 - HOUR_MS, T0 + HOUR_MS] as const;
    assert.deepEqual(a.candles('ETHUSDT', MINUTE_MS, ...range), b.candles('ETHUSDT', MINUTE_MS, ...range));
    assert.deepEqual(a.allLiquidations(T0, T0 + 6 * HOUR_MS), b.allLiquidations(T0, T0 + 6 * HOUR_MS));
    assert.deepEqual(
      a.fundingHistory('S003USDT', T0, T0 + DAY_MS),
      b.fundingHistory('S003USDT', T0, T0 + DAY_MS),
    );
    assert.notDeepEqual(a.candles('ETHUSDT', MINUTE_MS, ...range), c.candles('ETHUSDT', MINUTE_MS, ...range));
  });

  it('agrees on overlaps whatever range or order is asked first (random access in time)', () => {
    const a = createMarketModel({ seed: 3, symbolCount: 5 });
    const b = createMarketModel({ seed: 3, symbolCount: 5, blockCacheSize: 1 });
    const late = b.candles('BTCUSDT', MINUTE_MS, T0 + 200 * DAY_MS, T0 + 200 * DAY_MS + 10 * MINUTE_MS);
    const wide = a.candles('BTCUSDT', MINUTE_MS, T0 - 30 * MINUTE_MS, T0 + 30 * MINUTE_MS);
    const narrow = b.candles('BTCUSDT', MINUTE_MS, T0 - 5 * MINUTE_MS, T0 + 5 * MINUTE_MS);
    assert.deepEqual(narrow, wide.slice(25, 36));
    assert.deepEqual(
      late,
      a.candles('BTCUSDT', MINUTE_MS, T0 + 200 * DAY_MS, T0 + 200 * DAY_MS + 10 * MINUTE_MS),
    );
  });

  it('chains candles: each open is the previous close, across day boundaries too', () => {
    const m = createMarketModel({ seed: 11, symbolCount: 50 });
    for (const sym of ['BTCUSDT', 'S020USDT']) {
      const cs = m.candles(sym, MINUTE_MS, T0 - 3 * HOUR_MS, T0 + 3 * HOUR_MS);
      for (let i = 1; i < cs.length; i++) assert.equal(cs[i]!.open, cs[i - 1]!.close, `${sym} at ${i}`);
    }
  });

  it('keeps OHLC valid: low ≤ open, close ≤ high, positive volume, taker buy ≤ volume', () => {
    const m = createMarketModel({ seed: 5, symbolCount: 60 });
    for (const s of m.symbols.slice(0, 60)) {
      for (const c of m.candles(s.id, MINUTE_MS, T0, T0 + 2 * HOUR_MS)) {
        assert.ok(
          c.low > 0 && c.low <= Math.min(c.open, c.close) && c.high >= Math.max(c.open, c.close),
          `${s.id} ${c.openTimeMs}`,
        );
        assert.ok(c.volume > 0 && c.takerBuyVolume <= c.volume && c.trades >= 1);
        assert.equal(Number(c.close.toFixed(s.priceDecimals)), c.close, 'prices are on the tick grid');
      }
    }
  });

  it('aggregates 1m candles into 1h candles and partial candles end at the final one', () => {
    const m = createMarketModel({ seed: 2, symbolCount: 3 });
    const minutes = m.candles('SOLUSDT', MINUTE_MS, T0, T0 + HOUR_MS - 1);
    const [hour] = m.candles('SOLUSDT', HOUR_MS, T0, T0);
    assert.equal(hour!.open, minutes[0]!.open);
    assert.equal(hour!.close, minutes.at(-1)!.close);
    assert.equal(hour!.high, Math.max(...minutes.map((c) => c.high)));
    const half = m.partialCandle('SOLUSDT', MINUTE_MS, T0, T0 + 30_000);
    assert.ok(
      half.volume <= minutes[0]!.volume && half.high <= minutes[0]!.high && half.low >= minutes[0]!.low,
    );
    const end = m.partialCandle('SOLUSDT', MINUTE_MS, T0, T0 + 59_999.999);
    assert.equal(m.partialCandle('SOLUSDT', MINUTE_MS, T0, T0).volume, 0);
    assert.ok(Math.abs(end.close - minutes[0]!.close) <= 10 ** -m.spec('SOLUSDT').priceDecimals);
  });

  it('settles funding every 8 h at 00:00, 08:00 and 16:00 UTC and the premium index points at the next one', () => {
    const m = createMarketModel({ seed: 1, symbolCount: 3 });
    const hist = m.fundingHistory('BTCUSDT', T0, T0 + 3 * DAY_MS - 1);
    assert.equal(hist.length, 9);
    assert.deepEqual(
      hist.slice(0, 3).map((f) => new Date(f.fundingTimeMs).toISOString().slice(11, 16)),
      ['00:00', '08:00', '16:00'],
    );
    for (const f of hist) assert.ok(Math.abs(f.rate) <= 0.0075 && f.markPrice > 0);
    const p = m.premiumIndex('BTCUSDT', T0 + 5 * HOUR_MS + 123);
    assert.equal(p.nextFundingTimeMs, T0 + FUNDING_INTERVAL_MS);
    assert.equal(p.lastFundingRate, m.fundingSettlement('BTCUSDT', T0 + FUNDING_INTERVAL_MS).rate);
  });

  it('moves open interest with price on a 5m grid', () => {
    const m = createMarketModel({ seed: 4, symbolCount: 3 });
    const hist = m.openInterestHistory('ETHUSDT', 5 * MINUTE_MS, T0 + 1, T0 + HOUR_MS);
    assert.equal(hist.length, 12);
    assert.equal(hist[0]!.timeMs, T0 + 5 * MINUTE_MS);
    for (const p of hist) assert.ok(p.openInterest > 0 && p.openInterestValue > 0);
    assert.deepEqual(m.openInterest('ETHUSDT', T0 + 5 * MINUTE_MS + 30_000), hist[0]);
  });

  it('generates liquidation bursts computable per range, sides following the candle', () => {
    const m = createMarketModel({ seed: 9, symbolCount: 20, liquidationBurstsPerHour: 3 });
    const all = m.liquidations('BTCUSDT', T0, T0 + 6 * HOUR_MS);
    assert.ok(all.length > 5, `only ${all.length}`);
    const firstHalf = m.liquidations('BTCUSDT', T0, T0 + 3 * HOUR_MS);
    const secondHalf = m.liquidations('BTCUSDT', T0 + 3 * HOUR_MS, T0 + 6 * HOUR_MS);
    assert.deepEqual([...firstHalf, ...secondHalf], all);
    for (const ev of all) assert.ok(ev.qty > 0 && ev.price > 0 && (ev.side === 'BUY' || ev.side === 'SELL'));
  });

  it('liquidationBurstStart finds the first second that starts `count` events within the span, as a scan second by second does', () => {
    const m = createMarketModel({ seed: 7, symbolCount: 10, liquidationBurstsPerHour: 60 });
    const scan = (symbol: string | undefined, from: number, count: number, within: number): number => {
      for (let t = Math.ceil(from / 1000) * 1000; ; t += 1000) {
        const n = (symbol ? m.liquidations(symbol, t, t + within) : m.allLiquidations(t, t + within)).length;
        if (n >= count) return t;
      }
    };
    for (const [symbol, count, within] of [
      ['BTCUSDT', 3, 120_000],
      ['BTCUSDT', 2, 30_000],
      [undefined, 5, 60_000],
      ['ETHUSDT', 4, 600_000],
    ] as const) {
      for (const from of [T0 + 1234, T0 + HOUR_MS - 5_000, T0 + 7 * HOUR_MS + 42_500]) {
        const t = m.liquidationBurstStart(symbol, from, count, within);
        assert.equal(t, scan(symbol, from, count, within), `${symbol} ${count} in ${within} from ${from}`);
      }
    }
    const none = createMarketModel({ seed: 7, symbolCount: 2, liquidationBurstsPerHour: 0 });
    assert.throws(
      () => none.liquidationBurstStart('BTCUSDT', T0, 1, 1000),
      /no 1 liquidations of BTCUSDT within 1000 ms/,
    );
  });

  it('drops the same candles every time at a missing-candle rate, and the model says which', () => {
    const m = createMarketModel({ seed: 6, symbolCount: 3, missingCandleRate: 0.1 });
    const cs = m.candles('BTCUSDT', MINUTE_MS, T0, T0 + 10 * HOUR_MS - 1);
    const missing = Array.from({ length: 600 }, (_, i) => T0 + i * MINUTE_MS).filter((t) =>
      m.isMissingCandle('BTCUSDT', t),
    );
    assert.equal(cs.length + missing.length, 600);
    assert.ok(missing.length > 30 && missing.length < 90);
    assert.ok(!cs.some((c) => missing.includes(c.openTimeMs)));
  });

  it('applies a distribution shift from its time on and a spike only inside its window', () => {
    const base = createMarketModel({ seed: 12, symbolCount: 5 });
    const shifted = createMarketModel({
      seed: 12,
      symbolCount: 5,
      shifts: [{ symbol: 'ETHUSDT', fromMs: T0 + 12 * HOUR_MS, volatilityFactor: 4, volumeFactor: 5 }],
      spikes: [{ symbol: 'BTCUSDT', fromMs: T0 + 60 * MINUTE_MS, minutes: 2, factor: 1.5 }],
    });
    const v = (m: typeof base, from: number) =>
      m.candles('ETHUSDT', MINUTE_MS, from, from + 2 * HOUR_MS).reduce((a, c) => a + c.volume, 0);
    assert.equal(v(base, T0), v(shifted, T0));
    assert.ok(v(shifted, T0 + 13 * HOUR_MS) > 3 * v(base, T0 + 13 * HOUR_MS));
    const b = base.candles('BTCUSDT', MINUTE_MS, T0 + 59 * MINUTE_MS, T0 + 63 * MINUTE_MS);
    const s = shifted.candles('BTCUSDT', MINUTE_MS, T0 + 59 * MINUTE_MS, T0 + 63 * MINUTE_MS);
    assert.deepEqual(s[0], b[0]);
    assert.ok(Math.abs(s[1]!.close / b[1]!.close - 1.5) < 1e-3);
    assert.ok(s[3]!.open > b[3]!.open * 1.4 && s[3]!.close === b[3]!.close);
    assert.deepEqual(s[4], b[4]);
  });
});
