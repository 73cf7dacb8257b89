/**
 * `perpflow report` as a user runs it, against the real local S3 server, and the page
 * opened in real headless Chromium: every chart drew as many marks as the data holds
 * (the DOM after layout) and those marks are on screen (coloured pixels in each chart's
 * box of a full-page screenshot).
 *
 * Data: the Python loader's fixture (test/src/write-loader-fixture.ts: 2024-03-01 has 59
 * of the first 60 minutes' bars, bar 10 revised, bar 40 never written; the day window is
 * closed), dead letters archived as the archiver lays them out (raw/feed=dead_letter/…),
 * and a drift report written by the monitor's own DailyDriftReport.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type DayIndex, planFlush, serializeDocument, toArchiveRow, upsertDayIndex } from '@perpflow/archive';
import { sampleCandle } from '@perpflow/contracts';
import { buildDeadLetter } from '@perpflow/kafka';
import { DailyDriftReport, driftReportKey } from '../../services/monitor/src/domain/drift-report.js';
import { colouredPixels, decodePng, launchChromium } from '../src/chromium.js';
import { deletePrefix, testS3 } from '../src/dataset-io.js';
import { runTool, STACK, uniqueName } from '../src/harness.js';

const SYMBOL = 'BTC/USDT:USDT';
const MAR1 = Date.UTC(2024, 2, 1);
const M = 60_000;
const enc = new TextEncoder();

describe('perpflow report (real S3, real headless Chromium)', { timeout: 300_000 }, () => {
  const s3 = testS3();
  const prefix = uniqueName('report');
  const dir = mkdtempSync(join(tmpdir(), 'perpflow-report-test-'));
  const page = join(dir, 'report.html');
  const put = (key: string, body: Uint8Array | string) =>
    s3.send(new PutObjectCommand({ Bucket: STACK.s3Bucket, Key: key, Body: body }));
  let deadLetterObject = '';

  before(async () => {
    const w = runTool('.', 'test/src/write-loader-fixture.ts', [prefix, SYMBOL], { S3_PREFIX: prefix });
    assert.equal(w.status, 0, w.stderr);

    // Dead letters: 3 late at 00:20, 2 ohlc.high_below_low at 00:50, 1 time.too_old at
    // 01:10 on 2024-03-01; one of bybit (no series of it: not read) and one on 03-02.
    const letters = [
      ...[0, 1, 2].map((i) => ['late', 'aligner', 'binanceusdm', MAR1 + 20 * M + i] as const),
      ...[0, 1].map((i) => ['ohlc.high_below_low', 'aligner', 'binanceusdm', MAR1 + 50 * M + i] as const),
      ['time.too_old', 'aligner', 'binanceusdm', MAR1 + 70 * M] as const,
      ['late', 'aligner', 'bybit', MAR1 + 20 * M] as const,
      ['late', 'aligner', 'binanceusdm', MAR1 + 86_400_000 + 5 * M] as const,
    ];
    const rows = letters.map(([ruleId, stage, exchange, atMs], i) => {
      const value = Buffer.from(
        JSON.stringify(sampleCandle({ exchange, symbol: SYMBOL, eventTimeMs: atMs - 3_600_000 })),
      );
      const letter = buildDeadLetter(
        {
          topic: 'raw.ohlcv',
          partition: 0,
          offset: String(i),
          key: `${exchange}|${SYMBOL}`,
          value,
          headers: {},
        },
        { ruleId, message: `test ${ruleId}`, exchange, symbol: SYMBOL },
        stage,
        atMs,
      );
      return toArchiveRow('dead_letter', {
        topic: 'perpflow.deadletter',
        partition: 0,
        offset: String(i),
        kafkaTimestampMs: atMs,
        key: enc.encode(`${exchange}|${SYMBOL}`),
        value: enc.encode(JSON.stringify(letter)),
        headers: [],
      });
    });
    const plan = planFlush(prefix, 'dead_letter', rows);
    const indexes = new Map<string, DayIndex | null>();
    for (const o of plan.objects) {
      await put(o.key, o.body);
      await put(o.manifestKey, serializeDocument(o.manifest));
      indexes.set(o.indexKey, upsertDayIndex(indexes.get(o.indexKey) ?? null, o.manifest, o.manifestKey));
      if (o.key.includes('exchange=binanceusdm/date=2024-03-01/')) deadLetterObject = o.key;
    }
    for (const [k, ix] of indexes) if (ix) await put(k, serializeDocument(ix));
    assert.ok(deadLetterObject, 'a dead-letter object of binanceusdm on 2024-03-01');

    // The monitor's report of 2024-03-01: two features, one breaching.
    const drift = new DailyDriftReport({
      recentWindowMs: 3_600_000,
      referenceWindowMs: 14_400_000,
      reference: 'trailing',
      baselineKey: null,
      thresholds: { psi: 0.25 },
    });
    const result = (feature: string, psi: number) => ({
      exchange: 'binanceusdm',
      symbol: SYMBOL,
      feature,
      kind: 'trailing' as const,
      recentFromMs: MAR1,
      recentToMs: MAR1 + 3_600_000,
      referenceCount: 240,
      recentCount: 60,
      psi,
      psiLevel: psi > 0.25 ? ('significant' as const) : ('none' as const),
      ksStatistic: 0.1,
      ksPValue: 0.5,
      wassersteinNormalized: 0.1,
      breaches: { psi: psi > 0.25, ks: false, wasserstein: false },
      breach: psi > 0.25,
    });
    drift.record([result('return_1m', 0.08), result('volume', 0.4)], MAR1 + 2 * 3_600_000);
    await put(driftReportKey(prefix, MAR1), JSON.stringify(drift.toJSON(MAR1 + 2 * 3_600_000)));
  });

  after(async () => {
    await deletePrefix(s3, prefix);
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const report = (args: string[]) =>
    runTool('services/windower', 'src/perpflow.ts', ['report', ...args], { S3_PREFIX: prefix });

  it('writes the page with the figures the data holds', () => {
    const r = report([
      '--from',
      '2024-03-01',
      '--to',
      '2024-03-02',
      '--exchange',
      'binanceusdm',
      '--out',
      page,
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    assert.equal(d.bucketMs, 15 * M);
    assert.equal(d.buckets.length, 96);
    assert.equal(d.series.length, 1);
    const s = d.series[0];
    assert.deepEqual(
      [s.exchange, s.symbol, s.rows, s.missingBars, s.revised],
      ['binanceusdm', SYMBOL, 59, 1381, 1],
    );
    assert.deepEqual(s.coverage.slice(0, 5), [1, 1, 0.933, 1, 0]);
    assert.equal(s.lagP50S, 0.7);
    assert.equal(s.lagMaxS, 10.7);
    assert.equal(d.deadLetters.total, 6);
    assert.deepEqual(
      d.deadLetters.byRule.map((x: { ruleId: string; count: number }) => [x.ruleId, x.count]),
      [
        ['late', 3],
        ['ohlc.high_below_low', 2],
        ['time.too_old', 1],
      ],
    );
    assert.equal(
      d.lateAndRevisions.lateDeadLetters.reduce((a: number, b: number) => a + b, 0),
      4,
    );
    assert.deepEqual(d.drift.features, [
      { feature: 'return_1m', maxPsi: [0.08], breaches: [0] },
      { feature: 'volume', maxPsi: [0.4], breaches: [1] },
    ]);
    assert.match(r.stderr, new RegExp(`wrote ${page.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('renders every chart with its data in headless Chromium (DOM and screenshot)', async () => {
    const browser = await launchChromium();
    try {
      const tab = await browser.open(`file://${page}`, { width: 1100, height: 900 });
      const charts = await tab.evaluate<
        {
          id: string;
          points: number;
          rendered: number;
          x: number;
          y: number;
          width: number;
          height: number;
        }[]
      >(`(async () => {
          while (document.body.dataset.ready !== '1') await new Promise((r) => setTimeout(r, 20));
          return [...document.querySelectorAll('figure[data-chart]')].map((f) => {
            const svg = f.querySelector('svg');
            const b = (svg ?? f).getBoundingClientRect();
            return { id: f.dataset.chart, points: Number(f.dataset.points), rendered: Number(f.dataset.rendered),
                     x: b.left + scrollX, y: b.top + scrollY, width: b.width, height: b.height };
          });
        })()`);
      const expected: Record<string, number> = {
        coverage: 96, // a cell per 15-minute bucket of the closed day
        freshness: 8, // median and worst of the 4 buckets with bars
        'dead-letters': 3, // three rules
        'dead-letters-time': 3, // 00:15, 00:45 and 01:00 buckets
        drift: 2, // two features, one day
        'late-revisions': 3, // one revised bucket, late in two buckets
      };
      assert.deepEqual(
        charts.map((c) => [c.id, c.points, c.rendered]),
        Object.entries(expected).map(([id, n]) => [id, n, n]),
      );
      const png = await tab.screenshot();
      writeFileSync(join(dir, 'report.png'), png);
      if (process.env.REPORT_SCREENSHOT_OUT) writeFileSync(process.env.REPORT_SCREENSHOT_OUT, png);
      const pixels = decodePng(png);
      assert.equal(pixels.width, 1100);
      for (const c of charts) {
        const coloured = colouredPixels(pixels, c);
        // A dot is ~38 px, a thin column some 20; the coverage cells thousands.
        assert.ok(coloured >= 15 * c.points, `${c.id}: ${coloured} coloured pixels for ${c.points} marks`);
      }
    } finally {
      await browser.close();
    }
  });

  it('stops on a corrupt archive object naming it, and on bad flags naming the flag', async () => {
    const bad = report(['--from', '2024-03-02', '--to', '2024-03-01', '--out', page]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--from must be before --to/);
    const none = report(['--from', '2024-03-01', '--to', '2024-03-02', '--exchange', 'bybit', '--out', page]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no 1m series under .* for exchange bybit/);
    await put(deadLetterObject, 'not the archived bytes');
    const corrupt = report(['--from', '2024-03-01', '--to', '2024-03-02', '--out', join(dir, 'x.html')]);
    assert.equal(corrupt.status, 3, corrupt.stderr);
    assert.match(
      corrupt.stderr,
      new RegExp(`integrity check failed: .*${deadLetterObject.replace(/[+.]/g, '\\$&')}`),
    );
  });
});
