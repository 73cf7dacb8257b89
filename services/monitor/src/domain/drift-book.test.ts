import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlignedBar, LIQUIDATION_SEMANTICS } from '@perpflow/contracts';
import { parseBaseline } from './drift-baseline.js';
import { DriftBook, type DriftBookOptions } from './drift-book.js';
import { DailyDriftReport, DriftReportSchema, driftReportKey } from './drift-report.js';
import { feedFreshnessSlas } from './feed-sla.js';

const TF = 60_000;
const T0 = Date.UTC(2026, 0, 5);

/** Deterministic pseudo-random normal draws (Box-Muller over an LCG). */
function normals(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** n bars of one series; volatility and volume × `factor` from bar index `shiftFrom`. */
function bars(
  exchange: string,
  symbol: string,
  n: number,
  seed: number,
  shiftFrom = n,
  factor = 3,
): AlignedBar[] {
  const g = normals(seed);
  let close = 100;
  const out: AlignedBar[] = [];
  for (let i = 0; i < n; i++) {
    const f = i >= shiftFrom ? factor : 1;
    const open = close;
    close = open * Math.exp(0.001 * f * g());
    const wick = Math.abs(0.0005 * f * g());
    out.push({
      schemaVersion: 1,
      exchange: exchange as AlignedBar['exchange'],
      symbol,
      timeframe: '1m',
      eventTimeMs: T0 + i * TF,
      open,
      high: Math.max(open, close) * (1 + wick),
      low: Math.min(open, close) * (1 - wick),
      close,
      volume: 10 * f * Math.exp(0.5 * g()),
      openInterest: 1000 + i,
      openInterestTimeMs: T0 + i * TF,
      fundingRate: 0.0001,
      fundingTimeMs: T0,
      predictedFundingRate: 0.0001 + 0.00001 * g(),
      predictedFundingTimeMs: T0 + 8 * 3_600_000,
      fundingIntervalMs: null,
      fundingRate8h: null,
      markPrice: null,
      markPriceTimeMs: null,
      indexPrice: null,
      indexPriceTimeMs: null,
      basis: null,
      liqLongNotional: 0,
      liqShortNotional: 0,
      liqCount: 0,
      liqPriceKind: LIQUIDATION_SEMANTICS[exchange as AlignedBar['exchange']].priceKind,
      liqCompleteness: LIQUIDATION_SEMANTICS[exchange as AlignedBar['exchange']].completeness,
      knownAtMs: T0 + (i + 1) * TF,
      revision: 0,
      candleFilled: false,
      openInterestStale: false,
      fundingStale: false,
    } as AlignedBar);
  }
  return out;
}

const OPTIONS: DriftBookOptions = {
  exchanges: ['binanceusdm', 'bybit'],
  symbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT'],
  timeframe: '1m',
  features: ['log_return', 'range', 'volume'],
  crossVenue: false,
  recentMs: 120 * TF,
  referenceMs: 600 * TF,
  minSamples: 60,
  compare: {},
};

describe('DriftBook', () => {
  it('flags exactly the shifted series and features; the others stay below the thresholds', () => {
    const book = new DriftBook({ ...OPTIONS, exchanges: ['binanceusdm'] });
    for (const b of bars('binanceusdm', 'BTC/USDT:USDT', 720, 1)) book.add(b);
    for (const b of bars('binanceusdm', 'ETH/USDT:USDT', 720, 2, 600)) book.add(b);
    const { results, skipped } = book.evaluate();
    assert.equal(skipped.length, 0);
    assert.equal(results.length, 6);
    const breached = results.filter((r) => r.breach).map((r) => `${r.symbol} ${r.feature}`);
    assert.deepEqual(breached, ['ETH/USDT:USDT log_return', 'ETH/USDT:USDT range', 'ETH/USDT:USDT volume']);
    for (const r of results) {
      assert.equal(r.kind, 'trailing');
      assert.equal(r.recentToMs, T0 + 720 * TF);
      assert.equal(r.recentFromMs, T0 + 600 * TF);
      assert.equal(r.recentCount, 120);
    }
    const vol = results.find((r) => r.symbol === 'ETH/USDT:USDT' && r.feature === 'log_return');
    assert.ok(
      vol && vol.psi > 0.5 && vol.ksPValue < 1e-3 && vol.wassersteinNormalized > 1,
      JSON.stringify(vol),
    );
  });

  it('keeps the last revision of a bar, ignores older revisions and unconfigured series', () => {
    const book = new DriftBook(OPTIONS);
    const [a] = bars('binanceusdm', 'BTC/USDT:USDT', 1, 3) as [AlignedBar];
    assert.equal(book.add(a), 'kept');
    assert.equal(book.add({ ...a, close: a.close * 2, revision: 1 }), 'kept');
    assert.equal(book.add({ ...a, revision: 0 }), 'old_revision');
    assert.equal(book.add({ ...a, symbol: 'SOL/USDT:USDT' }), 'other_series');
    assert.equal(book.add({ ...a, exchange: 'okx' }), 'other_series');
    assert.equal(book.add({ ...a, timeframe: '5m' }), 'other_timeframe');
    assert.deepEqual(book.sizes(), { 'binanceusdm|BTC/USDT:USDT': 1 });
  });

  it('holds only the two windows (plus one bar) per series, whatever the arrival order', () => {
    const book = new DriftBook(OPTIONS);
    const all = bars('binanceusdm', 'BTC/USDT:USDT', 1000, 4);
    for (const b of [...all.slice(500), ...all.slice(0, 500)]) book.add(b);
    assert.equal(book.sizes()['binanceusdm|BTC/USDT:USDT'], 721);
    assert.equal(book.newestBarMs('binanceusdm', 'BTC/USDT:USDT'), T0 + 999 * TF);
  });

  it('skips windows with too few values and names why', () => {
    const book = new DriftBook({
      ...OPTIONS,
      exchanges: ['binanceusdm'],
      symbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT'],
    });
    for (const b of bars('binanceusdm', 'BTC/USDT:USDT', 150, 5)) book.add(b);
    const { results, skipped } = book.evaluate();
    assert.equal(results.length, 0);
    assert.deepEqual(
      skipped.map((s) => `${s.symbol} ${s.feature} ${s.reason}`),
      [
        'BTC/USDT:USDT log_return too_few_reference',
        'BTC/USDT:USDT range too_few_reference',
        'BTC/USDT:USDT volume too_few_reference',
        'ETH/USDT:USDT log_return no_bars',
        'ETH/USDT:USDT range no_bars',
        'ETH/USDT:USDT volume no_bars',
      ],
    );
    assert.equal(skipped[0]?.recentCount, 120);
    assert.equal(skipped[0]?.referenceCount, 29); // 30 bars, the first without a previous close
  });

  it('compares against a pinned baseline instead of the trailing window when given one', () => {
    const book = new DriftBook({
      ...OPTIONS,
      exchanges: ['binanceusdm'],
      symbols: ['BTC/USDT:USDT'],
      features: ['volume'],
    });
    for (const b of bars('binanceusdm', 'BTC/USDT:USDT', 720, 6)) book.add(b);
    const pinnedHigh = parseBaseline({
      schema: 'perpflow.drift.baseline.v1',
      series: [
        {
          exchange: 'binanceusdm',
          symbol: 'BTC/USDT:USDT',
          feature: 'volume',
          values: Array.from({ length: 100 }, (_, i) => 100 + i),
        },
      ],
    });
    const { results } = book.evaluate(pinnedHigh);
    assert.equal(results.length, 1);
    assert.equal(results[0]?.kind, 'baseline');
    assert.equal(results[0]?.referenceCount, 100);
    assert.equal(results[0]?.breach, true);
    assert.equal(book.evaluate(new Map()).skipped[0]?.reason, 'too_few_reference');
    assert.throws(() =>
      parseBaseline({
        schema: 'perpflow.drift.baseline.v1',
        series: [{ exchange: 'x', symbol: 'y', feature: 'z', values: [] }],
      }),
    );
  });

  it('compares funding and open-interest change across venues for the same symbol', () => {
    const book = new DriftBook({
      ...OPTIONS,
      symbols: ['BTC/USDT:USDT'],
      features: ['log_return'],
      crossVenue: true,
    });
    for (const b of bars('binanceusdm', 'BTC/USDT:USDT', 720, 7)) book.add(b);
    for (const b of bars('bybit', 'BTC/USDT:USDT', 720, 8))
      book.add({ ...b, predictedFundingRate: 0.0005 + (b.predictedFundingRate as number) });
    const cross = book.evaluate().results.filter((r) => r.kind === 'cross_venue');
    assert.deepEqual(
      cross.map((r) => `${r.exchange} ${r.feature} ${r.breach}`),
      [
        'binanceusdm funding_rate_vs_venues true',
        'binanceusdm open_interest_change_vs_venues false',
        'bybit funding_rate_vs_venues true',
        'bybit open_interest_change_vs_venues false',
      ],
    );
  });
});

describe('daily drift report', () => {
  it('lives beside the dataset under drift/v1/date=YYYY-MM-DD', () => {
    assert.equal(
      driftReportKey('datasets/', Date.UTC(2026, 10, 23, 23, 59)),
      'datasets/drift/v1/date=2026-11-23/drift-report.json',
    );
  });

  it('keeps the latest comparison and each breach of the day, writes Infinity as null, starts over on a new day', () => {
    const book = new DriftBook({ ...OPTIONS, exchanges: ['binanceusdm'] });
    for (const b of bars('binanceusdm', 'ETH/USDT:USDT', 720, 2, 600)) book.add(b);
    const r = new DailyDriftReport({
      recentWindowMs: 1,
      referenceWindowMs: 2,
      reference: 'trailing',
      baselineKey: null,
      thresholds: { psiSignificant: 0.2 },
    });
    assert.equal(r.toJSON(0), null);
    const day = Date.UTC(2026, 10, 23, 10);
    const { results } = book.evaluate();
    r.record(results, day);
    r.record(
      results.map((x) => ({ ...x, wassersteinNormalized: Infinity })),
      day + 60_000,
    );
    const doc = DriftReportSchema.parse(JSON.parse(JSON.stringify(r.toJSON(day + 61_000))));
    assert.equal(doc.date, '2026-11-23');
    assert.equal(doc.latest.length, 3);
    assert.ok(doc.latest.every((l) => l.wassersteinNormalized === null && l.evaluatedAtMs === day + 60_000));
    assert.deepEqual(
      doc.breaches.map((b) => [
        b.feature,
        b.firstAtMs,
        b.lastAtMs,
        b.evaluations,
        b.maxWassersteinNormalized,
      ]),
      [
        ['log_return', day, day + 60_000, 2, null],
        ['range', day, day + 60_000, 2, null],
        ['volume', day, day + 60_000, 2, null],
      ],
    );
    r.record([], day + 86_400_000);
    const next = r.toJSON(day + 86_400_000);
    assert.equal(next?.date, '2026-11-24');
    assert.deepEqual([next?.latest.length, next?.breaches.length], [0, 0]);
  });
});

describe('freshness SLAs', () => {
  it('defaults candles and bars to two timeframes, and takes configured values', () => {
    assert.deepEqual(
      feedFreshnessSlas({
        timeframe: '5m',
        candleSeconds: 0,
        openInterestSeconds: 300,
        fundingSeconds: 30_600,
      }),
      {
        ohlcv: 600,
        bar: 600,
        open_interest: 300,
        funding: 30_600,
      },
    );
    assert.equal(
      feedFreshnessSlas({ timeframe: '1m', candleSeconds: 75, openInterestSeconds: 1, fundingSeconds: 1 })
        .bar,
      75,
    );
  });
});
