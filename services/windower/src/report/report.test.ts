import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlignedBar, sampleAlignedBar } from '@perpflow/contracts';
import { escapeHtml, renderReport } from './render.js';
import { bucketWidthMs, type ReportInput, summarize } from './summarize.js';

const H = 3_600_000;
const M = 60_000;
const T0 = Date.UTC(2024, 2, 1);

const bar = (t: number, over: Partial<AlignedBar> = {}): AlignedBar =>
  sampleAlignedBar({ eventTimeMs: t, knownAtMs: t + M + 2_000, revision: 0, ...over });

/** Two hours of 1m bars; hour 2 misses 30 bars (a gap), bar 5 is a revision learnt 62 s late. */
function input(): ReportInput {
  const rows = Array.from({ length: 120 }, (_, i) => i)
    .filter((i) => i < 60 || i >= 90)
    .map((i) => bar(T0 + i * M, i === 5 ? { revision: 1, knownAtMs: T0 + 6 * M + 62_000 } : {}));
  return {
    title: 't',
    generatedAtMs: T0 + 10 * H,
    timeframe: '1m',
    fromMs: T0,
    toMs: T0 + 2 * H,
    source: 'test',
    series: [
      {
        exchange: 'binanceusdm',
        symbol: 'BTC/USDT:USDT',
        indexFound: true,
        rows,
        gaps: [{ startMs: T0 + 60 * M, endMs: T0 + 90 * M, missingBars: 30 }],
        missingWindows: [],
      },
    ],
    deadLetters: [
      {
        ruleId: 'late',
        stage: 'aligner',
        exchange: 'binanceusdm',
        symbol: 'BTC/USDT:USDT',
        deadLetteredAtMs: T0 + 10 * M,
      },
      {
        ruleId: 'late',
        stage: 'aligner',
        exchange: 'binanceusdm',
        symbol: 'BTC/USDT:USDT',
        deadLetteredAtMs: T0 + 70 * M,
      },
      {
        ruleId: 'ohlc.high_below_low',
        stage: 'aligner',
        exchange: 'binanceusdm',
        symbol: null,
        deadLetteredAtMs: T0 + 80 * M,
      },
      // Outside the range: not counted.
      {
        ruleId: 'late',
        stage: 'aligner',
        exchange: 'binanceusdm',
        symbol: null,
        deadLetteredAtMs: T0 + 3 * H,
      },
    ],
    deadLetterObjects: 2,
    deadLetterDaysWithoutIndex: 0,
    drift: [
      {
        date: '2024-03-01',
        latest: [
          {
            exchange: 'binanceusdm',
            symbol: 'BTC/USDT:USDT',
            feature: 'return_1m',
            psi: 0.05,
            breach: false,
          },
          { exchange: 'binanceusdm', symbol: 'ETH/USDT:USDT', feature: 'return_1m', psi: 0.31, breach: true },
        ],
        breaches: [{ exchange: 'binanceusdm', symbol: 'ETH/USDT:USDT', feature: 'return_1m' }],
      },
    ],
    driftDaysMissing: [],
  };
}

describe('report figures (summarize)', () => {
  it('picks the smallest bucket that keeps a range within 168 buckets', () => {
    assert.equal(bucketWidthMs(T0, T0 + 2 * H, '1m'), M);
    assert.equal(bucketWidthMs(T0, T0 + 3 * H, '1m'), 5 * M);
    assert.equal(bucketWidthMs(T0, T0 + 7 * 24 * H, '1m'), H);
    assert.equal(bucketWidthMs(T0, T0 + 30 * 24 * H, '1h'), 6 * H);
  });

  it('counts coverage, gaps, lag, revisions, dead letters by rule and drift as the inputs say', () => {
    const r = summarize(input());
    assert.equal(r.bucketMs, M);
    assert.equal(r.buckets.length, 120);
    const s = r.series[0]!;
    assert.equal(s.rows, 90);
    assert.equal(s.missingBars, 30);
    assert.deepEqual(s.longestGaps, [{ startMs: T0 + 60 * M, endMs: T0 + 90 * M, bars: 30 }]);
    assert.equal(s.coverage[0], 1);
    assert.equal(s.coverage[60], 0);
    assert.equal(s.coverage.filter((c) => c === 0).length, 30);
    assert.equal(s.revised, 1);
    assert.equal(s.lagP50S, 2);
    assert.equal(s.lagMaxS, 62);
    assert.equal(r.freshness.maxS[5], 62);
    assert.equal(r.freshness.p50S[0], 2);
    assert.equal(r.freshness.p50S[60], null);
    assert.equal(r.lateAndRevisions.revisedBars[5], 1);
    assert.equal(r.deadLetters.total, 3);
    assert.deepEqual(r.deadLetters.byRule, [
      { ruleId: 'late', stage: 'aligner', count: 2 },
      { ruleId: 'ohlc.high_below_low', stage: 'aligner', count: 1 },
    ]);
    assert.equal(
      r.lateAndRevisions.lateDeadLetters.reduce((a, b) => a + b, 0),
      2,
    );
    assert.deepEqual(r.drift.features, [{ feature: 'return_1m', maxPsi: [0.31], breaches: [1] }]);
  });

  it('a missing window counts only up to the report time, not the future', () => {
    const i = input();
    const r = summarize({
      ...i,
      generatedAtMs: T0 + 30 * M,
      series: [
        { ...i.series[0]!, rows: [], gaps: [], missingWindows: [{ startMs: T0, endMs: T0 + 86_400_000 }] },
      ],
    });
    assert.equal(r.series[0]!.missingBars, 30);
    assert.equal(r.series[0]!.coverage.filter((c) => c === null).length, 90);
  });
});

describe('report page (renderReport)', () => {
  it('draws every chart with as many marks as the figures hold', () => {
    const html = renderReport(summarize(input()));
    const points = (id: string) =>
      Number(new RegExp(`data-chart="${id}" data-points="(\\d+)"`).exec(html)?.[1]);
    assert.equal(points('coverage'), 120); // one cell per bucket with bars due
    assert.equal(points('freshness'), 90 + 90); // median and worst, per bucket with bars
    assert.equal(points('dead-letters'), 2); // two rules
    assert.equal(points('dead-letters-time'), 3);
    assert.equal(points('drift'), 1);
    assert.equal(points('late-revisions'), 3); // one revised bucket, two late buckets
    for (const id of [
      'coverage',
      'freshness',
      'dead-letters',
      'dead-letters-time',
      'drift',
      'late-revisions',
    ]) {
      const fig = new RegExp(`<figure data-chart="${id}"[\\s\\S]*?</figure>`).exec(html)?.[0] ?? '';
      assert.equal((fig.match(/class="mark"/g) ?? []).length, points(id), id);
    }
    assert.doesNotMatch(html, /https?:\/\//, 'self-contained: no link to fetch');
  });

  it('says in words where a chart has no data', () => {
    const i = input();
    const html = renderReport(
      summarize({
        ...i,
        series: [],
        deadLetters: [],
        deadLetterObjects: 0,
        drift: [],
        driftDaysMissing: ['2024-03-01'],
      }),
    );
    for (const id of ['coverage', 'freshness', 'dead-letters', 'drift', 'late-revisions'])
      assert.match(html, new RegExp(`data-chart="${id}" data-points="0"[^]*?class="empty"`), id);
    assert.match(html, /No dead-letter archive in this range/);
    assert.match(html, /No drift report on S3/);
  });

  it('escapes every text that comes from data', () => {
    const i = input();
    const evil = '<img src=x onerror=alert(1)>';
    const html = renderReport(
      summarize({
        ...i,
        deadLetters: [
          { ruleId: evil, stage: 'aligner', exchange: 'binanceusdm', symbol: evil, deadLetteredAtMs: T0 },
        ],
        series: [{ ...i.series[0]!, symbol: `</script>${evil}` }],
      }),
    );
    assert.doesNotMatch(html, /<img/);
    assert.equal((html.match(/<\/script>/g) ?? []).length, 2, 'only the page’s own two scripts end');
    assert.equal(escapeHtml(`a&"'<>`), 'a&#38;&#34;&#39;&#60;&#62;');
  });
});
