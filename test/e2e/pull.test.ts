/**
 * pull end to end on the real Kafka and S3: aligned bars (one revised later, one
 * never produced) → the windower process → S3; then `perpflow pull` (the CLI, as a
 * user runs it) and pullDataset (the TypeScript function) read them back: every
 * value equal, the gap reported, as-of returns the earlier revision, a corrupted
 * object is refused by its sha256.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { AlignedBar } from '@perpflow/contracts';
import { decodeParquetToBars, encodeSymbol } from '@perpflow/dataset';
import { openDatasetStore, type PullReport, pullDataset } from '@perpflow/windower/pull';
import {
  freePort,
  runTool,
  type ServiceProcess,
  STACK,
  STACK_S3_CREDENTIALS,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { deletePrefix, testS3 } from '../src/dataset-io.js';
import { createTestTopic, deleteTestTopics, produceRaw, testKafka } from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 2, 1, 23, 0); // 23:00 UTC: two daily windows
const N = 120;
const MISSING = 50; // never produced: a gap
const REVISED = 30; // revision 1 arrives 30 s after revision 0 was known
const EX = 'binanceusdm';
const SYMBOL = `P${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
const PREFIX = uniqueName('e2e-pull');
const storeEnv = { ...process.env, ...STACK_S3_CREDENTIALS, S3_PREFIX: PREFIX };
const TOPIC = uniqueName('e2e-pull-aligned');
const PORT = await freePort();

function bar(i: number, revision = 0): AlignedBar {
  const t = T0 + i * TF;
  const p = 200 + 7 * Math.cos(i / 11) + revision;
  return {
    schemaVersion: 1,
    exchange: EX,
    symbol: SYMBOL,
    timeframe: '1m',
    eventTimeMs: t,
    open: p,
    high: p + 2,
    low: p - 2,
    close: p + 0.75,
    volume: 1 + (i % 9) / 4,
    openInterest: i % 5 === 0 ? null : 9_000 + i,
    openInterestTimeMs: i % 5 === 0 ? null : t - 120_000,
    openInterestMissing: i % 5 === 0 ? 'not_observed' : null,
    fundingRate: i % 3 === 0 ? null : -0.0002,
    fundingTimeMs: i % 3 === 0 ? null : Date.UTC(2024, 2, 1, 16),
    predictedFundingRate: 0.0001,
    predictedFundingTimeMs: t,
    fundingIntervalMs: null,
    fundingRate8h: null,
    markPrice: null,
    markPriceTimeMs: null,
    indexPrice: null,
    indexPriceTimeMs: null,
    basis: null,
    liqLongNotional: i % 6 === 0 ? 1_500 : 0,
    liqShortNotional: i % 8 === 0 ? 750 : 0,
    liqCount: (i % 6 === 0 ? 2 : 0) + (i % 8 === 0 ? 1 : 0),
    liqPriceKind: 'average_fill',
    liqCompleteness: 'snapshot_1s',
    knownAtMs: t + TF + 500 + revision * 30_000,
    revision,
    candleFilled: i % 13 === 0,
    openInterestStale: i % 17 === 0,
    fundingStale: false,
  };
}

const expected = new Map<number, AlignedBar>();
for (let i = 0; i < N; i++) if (i !== MISSING) expected.set(T0 + i * TF, bar(i, i === REVISED ? 1 : 0));

/** `perpflow pull` as a user runs it (the workspace's bin entry), with --json. */
function pullCli(args: string[]): { status: number | null; report: PullReport | null; stderr: string } {
  const r = runTool('services/windower', 'src/perpflow.ts', ['pull', '--json', ...args], {
    S3_PREFIX: PREFIX,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return {
    status: r.status,
    report: r.status === 0 ? (JSON.parse(line) as PullReport) : null,
    stderr: r.stderr,
  };
}

function parquetFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.parquet')) out.push(join(d, e.name));
  };
  walk(dir);
  return out.sort();
}

describe('perpflow pull against the windower on the real S3', { timeout: 300_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const dir = mkdtempSync(join(tmpdir(), 'pull-e2e-'));
  const range = ['--exchange', EX, '--symbol', SYMBOL, '--timeframe', '1m', '--from', String(T0)];
  const to = String(T0 + N * TF);
  let windower: ServiceProcess | null = null;

  before(async () => {
    await createTestTopic(kafka, TOPIC, 3);
    const bars = Array.from({ length: N }, (_, i) => i)
      .filter((i) => i !== MISSING)
      .map((i) => bar(i));
    bars.push(bar(REVISED, 1));
    await produceRaw(
      kafka,
      TOPIC,
      bars.map((value) => ({ exchange: EX, symbol: SYMBOL, value })),
    );
    windower = await startService({
      name: 'windower-pull-e2e',
      workspace: 'services/windower',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        S3_ENDPOINT: STACK.s3Endpoint,
        S3_BUCKET: STACK.s3Bucket,
        S3_PREFIX: PREFIX,
        WINDOWER_TOPIC: TOPIC,
        WINDOWER_GROUP_ID: uniqueName('e2e-pull'),
        WINDOWER_FLUSH_INTERVAL_MS: '500',
        METRICS_PORT: String(PORT),
      },
      readyPort: PORT,
      readyTimeoutMs: 90_000,
    });
    // Ready when a pull sees every bar and the revision.
    await waitFor(
      'the windower to write every bar',
      async () => {
        const { report } = pullCli([...range, '--to', to, '--out', join(dir, 'probe')]);
        return report && report.rows === N - 1 ? report : null;
      },
      120_000,
      2_000,
    );
    await stopService(windower);
    windower = null;
  });

  after(async () => {
    if (windower) await stopService(windower);
    await deletePrefix(client, PREFIX);
    rmSync(dir, { recursive: true, force: true });
    await deleteTestTopics(kafka, [TOPIC]);
  });

  it('pulls every bar with its last revision, values equal, one file per window, the gap reported', () => {
    const out = join(dir, 'latest');
    const { status, report, stderr } = pullCli([...range, '--to', to, '--out', out]);
    assert.equal(status, 0, stderr);
    assert.ok(report);
    const files = parquetFiles(out);
    assert.deepEqual(
      files.map((f) => relative(out, f)),
      ['2024-03-01', '2024-03-02'].map(
        (d) =>
          `timeframe=1m/exchange=${EX}/symbol=${encodeSymbol(SYMBOL)}/date=${d}/part-${Date.parse(d)}.parquet`,
      ),
    );
    const rows = files.flatMap((f) => decodeParquetToBars(new Uint8Array(readFileSync(f))));
    assert.equal(rows.length, N - 1);
    assert.deepEqual(
      rows,
      [...expected.values()],
      'every field of every bar equals what was produced (last revision)',
    );
    assert.equal(report.objectsVerified, 2);
    const [series] = report.series;
    assert.deepEqual(series?.missingWindows, []);
    assert.deepEqual(series?.gaps, [
      { startMs: T0 + MISSING * TF, endMs: T0 + (MISSING + 1) * TF, missingBars: 1 },
    ]);
    const written = JSON.parse(readFileSync(join(out, '_pull.json'), 'utf8')) as PullReport;
    assert.equal(written.rows, N - 1);
  });

  it('merges to one file and reports the windows outside the data as missing', () => {
    const out = join(dir, 'merged');
    const { status, report, stderr } = pullCli([
      ...range,
      '--to',
      String(Date.UTC(2024, 2, 4)),
      '--out',
      out,
      '--merge',
    ]);
    assert.equal(status, 0, stderr);
    assert.deepEqual(
      parquetFiles(out).map((f) => relative(out, f)),
      ['merged.parquet'],
    );
    const rows = decodeParquetToBars(new Uint8Array(readFileSync(join(out, 'merged.parquet'))));
    assert.deepEqual(rows, [...expected.values()]);
    assert.deepEqual(report?.series[0]?.missingWindows, [
      { startMs: Date.UTC(2024, 2, 3), endMs: Date.UTC(2024, 2, 4) },
    ]);
  });

  it('as of a time between the two revisions returns the earlier revision and nothing not yet known (TS function)', async () => {
    const asOfMs = bar(REVISED, 0).knownAtMs + 1_000; // revision 1 became known 29 s later
    const report = await pullDataset(openDatasetStore(storeEnv), {
      exchanges: [EX],
      symbols: [SYMBOL],
      timeframe: '1m',
      fromMs: T0,
      toMs: T0 + N * TF,
      asOfMs,
      outDir: join(dir, 'asof'),
      merge: true,
      prefix: PREFIX,
    });
    const rows = decodeParquetToBars(new Uint8Array(readFileSync(join(dir, 'asof', 'merged.parquet'))));
    const known = [...expected.values()].filter((b) => b.knownAtMs <= asOfMs);
    assert.equal(known.length, REVISED, 'bars 0..29 were known; bar 30 only in revision 0');
    assert.deepEqual(rows, [...known, bar(REVISED, 0)]);
    assert.ok(rows.every((r) => r.knownAtMs <= asOfMs));
    assert.equal(report.series[0]?.olderRevisions, 1);
    assert.equal(report.series[0]?.notYetKnown, N - 1 - (REVISED + 1));

    // After revision 1 became known, the same request returns it.
    const later = await pullDataset(openDatasetStore(storeEnv), {
      exchanges: [EX],
      symbols: [SYMBOL],
      timeframe: '1m',
      fromMs: T0 + REVISED * TF,
      toMs: T0 + (REVISED + 1) * TF,
      asOfMs: bar(REVISED, 1).knownAtMs,
      outDir: join(dir, 'asof-later'),
      merge: true,
      prefix: PREFIX,
    });
    assert.equal(later.rows, 1);
    const [one] = decodeParquetToBars(
      new Uint8Array(readFileSync(join(dir, 'asof-later', 'merged.parquet'))),
    );
    assert.deepEqual(one, bar(REVISED, 1));
  });

  it('refuses an object whose bytes do not match its manifest sha256, saying what to do', async () => {
    const files = parquetFiles(join(dir, 'latest'));
    const key = `${PREFIX}/aligned/v1/${relative(join(dir, 'latest'), files[1]!)}`;
    // Another window's valid Parquet under this key: readable, but not what the manifest describes.
    await client.send(
      new PutObjectCommand({ Bucket: STACK.s3Bucket, Key: key, Body: readFileSync(files[0]!) }),
    );
    const { status, stderr } = pullCli([...range, '--to', to, '--out', join(dir, 'corrupt')]);
    assert.equal(status, 3, stderr);
    assert.match(stderr, /integrity check failed: .*part-1709337600000\.parquet: .*manifest says/);
    assert.match(stderr, /pull again in a minute; if it persists the object is corrupt/);
  });
});
