/**
 * Month compaction against the stack's S3 and Redis: day windows are written with the
 * windower's own write path (WindowStore: object, manifest, series index), then
 * `perpflow compact --once` (the CLI, a child process, BullMQ on the real Redis)
 * compacts the closed month. Checked: the month object's rows equal the day rows
 * (values, count, order), its manifest's sources, a re-scan enqueues nothing, a
 * rewritten day makes the month stale and the next scan recompacts it, pull returns
 * the same rows and gaps with and without the compacted object, and a SIGKILL
 * between the object and the manifest (COMPACTION_CRASH_AT, test only) ends, after a
 * restart, with one object and one manifest with the right sources.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { AlignedBar } from '@perpflow/contracts';
import {
  type CompactedManifest,
  compactedManifestKey,
  compactedObjectKey,
  decodeParquetToBars,
  parseCompactedManifest,
  parseSeriesIndex,
  type SeriesId,
  type SeriesIndex,
  seriesIndexKey,
  sha256Hex,
} from '@perpflow/dataset';
import { createS3Client } from '@perpflow/s3';
import { type PullReport, pullDataset } from '@perpflow/windower/pull';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { S3ObjectStore } from '../../services/windower/src/adapters/s3.js';
import { WindowStore } from '../../services/windower/src/adapters/window-store.js';
import type { CompactSummary } from '../../services/windower/src/compaction/cli.js';
import type { MonthJobResult } from '../../services/windower/src/compaction/queue.js';
import { loadCompactConfig } from '../../services/windower/src/config.js';
import { deletePrefix, getBytes, listKeys, testS3 } from '../src/dataset-io.js';
import { entryArgs, ROOT, STACK, STACK_S3_CREDENTIALS, uniqueName } from '../src/harness.js';

const TF = 60_000;
const DAY = 86_400_000;
const EX = 'binanceusdm';
const BARS_PER_DAY = 96; // 00:00–01:35 of each day: small days keep the test fast
const MISSING_DAY = 5; // one bar of this day is never written: a gap
const MISSING_BAR = 40;

function bar(symbol: string, t: number, version = 0): AlignedBar {
  const i = Math.round(t / TF);
  const p = 100 + 5 * Math.sin(i / 37) + version;
  return {
    schemaVersion: 1,
    exchange: EX,
    symbol,
    timeframe: '1m',
    eventTimeMs: t,
    open: p,
    high: p + 1.5,
    low: p - 1.5,
    close: p + 0.25,
    volume: 1 + (i % 7) / 3,
    openInterest: i % 5 === 0 ? null : 5_000 + (i % 1000),
    openInterestTimeMs: i % 5 === 0 ? null : t - 60_000,
    openInterestMissing: i % 5 === 0 ? 'not_observed' : null,
    fundingRate: i % 3 === 0 ? null : 0.0001,
    fundingTimeMs: i % 3 === 0 ? null : t - (t % (8 * 3_600_000)),
    predictedFundingRate: 0.0002,
    predictedFundingTimeMs: t,
    fundingIntervalMs: null,
    fundingRate8h: null,
    markPrice: null,
    markPriceTimeMs: null,
    indexPrice: null,
    indexPriceTimeMs: null,
    basis: null,
    liqLongNotional: i % 11 === 0 ? 2_000 : 0,
    liqShortNotional: 0,
    liqCount: i % 11 === 0 ? 1 : 0,
    liqPriceKind: 'average_fill',
    liqCompleteness: 'snapshot_1s',
    knownAtMs: t + TF + 700 + version * 10_000,
    revision: version,
    candleFilled: i % 13 === 0,
    openInterestStale: false,
    fundingStale: false,
  };
}

/** One dataset under its own prefix, queue and symbol, written with the windower's write path. */
class TestDataset {
  readonly prefix = uniqueName('it-compaction');
  readonly queue = uniqueName('it-compaction-q');
  readonly symbol = `K${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
  readonly series: SeriesId;
  readonly windows: WindowStore;
  readonly store: S3ObjectStore;
  private clock = Date.UTC(2024, 5, 1);

  constructor() {
    this.series = { exchange: EX, symbol: this.symbol, timeframe: '1m' };
    const config = loadCompactConfig({ ...process.env, ...STACK_S3_CREDENTIALS, S3_PREFIX: this.prefix });
    this.store = new S3ObjectStore(createS3Client(config), config.S3_BUCKET);
    this.windows = new WindowStore(this.store, this.prefix, 'compaction integration test');
  }

  dayRows(dayStartMs: number, version = 0, skip: number | null = null): AlignedBar[] {
    return Array.from({ length: BARS_PER_DAY }, (_, i) => i)
      .filter((i) => i !== skip)
      .map((i) => bar(this.symbol, dayStartMs + i * TF, version));
  }

  async writeDay(dayStartMs: number, rows: AlignedBar[], closed = true): Promise<void> {
    this.clock += 1_000; // writtenAtMs: later writes win in the index
    await this.windows.write({
      window: { ...this.series, unit: 'day', startMs: dayStartMs },
      latest: rows,
      superseded: [],
      kafkaOffsets: [],
      watermarkMs: null,
      closed,
      writtenAtMs: this.clock,
    });
  }

  async index(): Promise<SeriesIndex> {
    return parseSeriesIndex(await getBytes(testS3(), seriesIndexKey(this.prefix, this.series)));
  }

  async compacted(
    monthStartMs: number,
  ): Promise<{ manifest: CompactedManifest; rows: AlignedBar[]; sha: string }> {
    const client = testS3();
    const manifest = parseCompactedManifest(
      await getBytes(client, compactedManifestKey(this.prefix, this.series, monthStartMs)),
    );
    const body = await getBytes(client, compactedObjectKey(this.prefix, this.series, monthStartMs));
    return { manifest, rows: decodeParquetToBars(body), sha: sha256Hex(body) };
  }

  /** `perpflow compact --once --json`, as a user runs it. */
  compact(env: Record<string, string> = {}) {
    // spawnSync blocks the test's own timers: the child gets its own bound.
    const r = spawnSync(
      process.execPath,
      [...entryArgs('services/windower', 'src/perpflow.ts'), 'compact', '--once', '--json'],
      {
        cwd: join(ROOT, 'services/windower'),
        env: {
          ...process.env,
          ...STACK_S3_CREDENTIALS,
          S3_PREFIX: this.prefix,
          COMPACTION_QUEUE: this.queue,
          ...env,
        },
        encoding: 'utf8',
        timeout: 60_000,
        killSignal: 'SIGTERM',
      },
    );
    const line = r.stdout.trim().split('\n').pop() ?? '';
    return {
      status: r.status,
      signal: r.signal,
      stderr: r.stderr,
      summary: r.status === 0 ? (JSON.parse(line) as CompactSummary) : null,
    };
  }

  /** The compaction queue of this dataset (BullMQ keys prefixed with bucket and S3 prefix). */
  openQueue(redis: Redis): Queue {
    return new Queue(this.queue, { connection: redis, prefix: `bull:${STACK.s3Bucket}/${this.prefix}` });
  }

  async pull(
    dir: string,
    o: { useCompacted: boolean; merge?: boolean; asOfMs?: number },
    fromMs: number,
    toMs: number,
  ) {
    const out = mkdtempSync(join(dir, 'pull-'));
    const report = await pullDataset(this.store, {
      exchanges: [EX],
      symbols: [this.symbol],
      timeframe: '1m',
      fromMs,
      toMs,
      outDir: out,
      prefix: this.prefix,
      merge: o.merge ?? false,
      useCompacted: o.useCompacted,
      ...(o.asOfMs === undefined ? {} : { asOfMs: o.asOfMs }),
    });
    const rows = parquetFiles(out)
      .flatMap((f) => decodeParquetToBars(new Uint8Array(readFileSync(f))))
      .sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    return { report, rows };
  }
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

function monthResults(s: CompactSummary | null): MonthJobResult[] {
  assert.ok(s);
  return s.months.map((m) => {
    assert.ok('outcome' in m, `month job did not complete: ${JSON.stringify(m)}`);
    return m;
  });
}

/** Rows and gap reporting of a pull, without the parts that name objects. */
function pullView(report: PullReport, rows: AlignedBar[]) {
  return {
    rows,
    total: report.rows,
    series: report.series.map((s) => ({ ...s })),
  };
}

const FEB = Date.UTC(2024, 1, 1);
const MAR = Date.UTC(2024, 2, 1);
const FEB_DAYS = 29; // 2024 is a leap year

describe('month compaction on the real S3 and Redis', { timeout: 120_000 }, () => {
  const ds = new TestDataset();
  const redis = new Redis(STACK.redisUrl, { maxRetriesPerRequest: null });
  const dir = mkdtempSync(join(tmpdir(), 'compaction-it-'));
  const expected = new Map<number, AlignedBar[]>();

  before(async () => {
    for (let d = 0; d < FEB_DAYS; d++) {
      const start = FEB + d * DAY;
      const rows = ds.dayRows(start, 0, d === MISSING_DAY ? MISSING_BAR : null);
      expected.set(start, rows);
      await ds.writeDay(start, rows);
    }
    // March has begun (a window starts after February) but is open: not compactable.
    await ds.writeDay(MAR, ds.dayRows(MAR), false);
  });

  after(async () => {
    const q = ds.openQueue(redis);
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    redis.disconnect();
    await deletePrefix(testS3(), ds.prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('compacts the closed month into one object: the day rows in order, its sources the index entries', async () => {
    const run = ds.compact();
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(
      monthResults(run.summary).map((m) => [m.outcome, m.month, m.days, m.rows]),
      [['compacted', '2024-02', FEB_DAYS, FEB_DAYS * BARS_PER_DAY - 1]],
    );
    const { manifest, rows, sha } = await ds.compacted(FEB);
    assert.deepEqual(rows, [...expected.values()].flat(), 'every value of every row, in ts order');
    assert.equal(rows.length, FEB_DAYS * BARS_PER_DAY - 1);
    assert.equal(manifest.object.rowCount, rows.length);
    assert.equal(manifest.object.sha256, sha);
    assert.equal(manifest.minTsMs, FEB);
    assert.equal(manifest.maxTsMs, FEB + (FEB_DAYS - 1) * DAY + (BARS_PER_DAY - 1) * TF);
    const index = await ds.index();
    assert.deepEqual(
      manifest.sources,
      index.windows
        .filter((e) => e.startMs < MAR)
        .map((e) => ({ startMs: e.startMs, sha256: e.sha256, rowCount: e.rowCount })),
    );
    assert.equal(manifest.sources.length, FEB_DAYS);
    const compactedKeys = (await listKeys(testS3(), ds.prefix)).filter((k) =>
      k.includes('/aligned_compacted/'),
    );
    assert.deepEqual(compactedKeys, [
      compactedManifestKey(ds.prefix, ds.series, FEB),
      compactedObjectKey(ds.prefix, ds.series, FEB),
    ]);
  });

  it('a re-scan enqueues nothing', async () => {
    const run = ds.compact();
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.summary?.months, []);
    assert.equal(run.summary?.stale, 0);
    const q = ds.openQueue(redis);
    try {
      const counts = await q.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed');
      assert.deepEqual(counts, { completed: 1, waiting: 0, active: 0, delayed: 0, failed: 0 });
    } finally {
      await q.close();
    }
  });

  it('pull returns the same rows and gaps from the compacted month as from its days', async () => {
    const from = FEB + 3 * DAY + 30 * TF; // starts and ends inside days: a partial month
    const to = MAR + 10 * TF;
    for (const o of [{}, { merge: true }, { asOfMs: MAR + DAY }]) {
      const withMonth = await ds.pull(dir, { useCompacted: true, ...o }, from, to);
      const daysOnly = await ds.pull(dir, { useCompacted: false, ...o }, from, to);
      assert.equal(withMonth.report.compactedMonths, 1, JSON.stringify(o));
      assert.equal(daysOnly.report.compactedMonths, 0);
      assert.deepEqual(pullView(withMonth.report, withMonth.rows), pullView(daysOnly.report, daysOnly.rows));
      assert.equal(withMonth.rows.length, withMonth.report.rows);
      // The days are written up to 01:35 and closed: the rest of each day is missing, and one bar of day 5.
      const gaps = [];
      for (let d = 3; d < FEB_DAYS; d++) {
        const start = FEB + d * DAY;
        if (d === MISSING_DAY)
          gaps.push({
            startMs: start + MISSING_BAR * TF,
            endMs: start + (MISSING_BAR + 1) * TF,
            missingBars: 1,
          });
        gaps.push({
          startMs: start + BARS_PER_DAY * TF,
          endMs: start + DAY,
          missingBars: 1440 - BARS_PER_DAY,
        });
      }
      assert.deepEqual(withMonth.report.series[0]?.gaps, gaps);
      assert.equal(withMonth.report.objectsVerified, 2, 'the month object and the open March day');
    }
  });

  it('a rewritten day makes the month stale: pull reads the days, the next scan recompacts it', async () => {
    const day = FEB + 10 * DAY;
    const revised = ds.dayRows(day, 1);
    // A late bar reopened the day: rewritten, not closed yet.
    await ds.writeDay(day, revised, false);
    let run = ds.compact();
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.summary?.months, [], 'not compactable while a day is open');
    assert.equal(run.summary?.stale, 1);
    const pulled = await ds.pull(dir, { useCompacted: true }, FEB, MAR);
    assert.equal(pulled.report.compactedMonths, 0, 'stale: the days are read');
    assert.deepEqual(
      pulled.rows.filter((r) => r.eventTimeMs >= day && r.eventTimeMs < day + DAY),
      revised,
    );

    await ds.writeDay(day, revised, true);
    run = ds.compact();
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(
      monthResults(run.summary).map((m) => [m.outcome, m.month, m.days]),
      [['recompacted', '2024-02', FEB_DAYS]],
    );
    expected.set(day, revised);
    const { manifest, rows } = await ds.compacted(FEB);
    assert.deepEqual(rows, [...expected.values()].flat());
    const entry = (await ds.index()).windows.find((e) => e.startMs === day);
    assert.deepEqual(
      manifest.sources.find((s) => s.startMs === day),
      { startMs: day, sha256: entry?.sha256, rowCount: BARS_PER_DAY },
    );
    const again = ds.compact();
    assert.deepEqual(again.summary?.months, []);
    const withMonth = await ds.pull(dir, { useCompacted: true }, FEB, MAR);
    const daysOnly = await ds.pull(dir, { useCompacted: false }, FEB, MAR);
    assert.equal(withMonth.report.compactedMonths, 1);
    assert.deepEqual(pullView(withMonth.report, withMonth.rows), pullView(daysOnly.report, daysOnly.rows));
  });

  it("runs the README's DuckDB snippet on a copy of the compacted tree: one month, every bar", async () => {
    const client = testS3();
    const tree = `${ds.prefix}/aligned_compacted/v1/`;
    const copy = join(dir, 'compacted');
    for (const key of (await listKeys(client, ds.prefix)).filter((k) => k.startsWith(tree))) {
      const path = join(copy, key.slice(tree.length));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, await getBytes(client, key));
    }
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      // Relative paths in DuckDB are relative to the process: point 'compacted/' at the copy.
      const sql = readmeSnippet('compacted-duckdb').replace("'compacted/", `'${copy}/`);
      const rows = (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
      assert.deepEqual(
        rows.map((r) => [
          r.symbol,
          r.month,
          Number(r.bars),
          (r.first_bar as Date).getTime(),
          (r.last_bar as Date).getTime(),
        ]),
        [
          [
            ds.symbol,
            '2024-02',
            FEB_DAYS * BARS_PER_DAY - 1,
            FEB,
            FEB + (FEB_DAYS - 1) * DAY + (BARS_PER_DAY - 1) * TF,
          ],
        ],
      );
    } finally {
      conn.closeSync();
    }
  });
});

/** The fenced block after `<!-- snippet: <name> … -->` in the README, exactly as a reader copies it. */
function readmeSnippet(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- snippet: ${name}\\b[^>]*-->\\s*\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m?.[1]) throw new Error(`README has no snippet ${name}`);
  return m[1];
}

describe('month compaction: SIGKILL between its writes, then a restart', { timeout: 120_000 }, () => {
  const JAN = Date.UTC(2024, 0, 1);
  const DAYS = 4;
  const redis = new Redis(STACK.redisUrl, { maxRetriesPerRequest: null });
  const datasets: TestDataset[] = [];

  after(async () => {
    for (const ds of datasets) {
      const q = ds.openQueue(redis);
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
      await deletePrefix(testS3(), ds.prefix);
    }
    redis.disconnect();
  });

  for (const step of ['after-object-put', 'after-manifest-put'] as const)
    it(`crash ${step}: after a restart the month is compacted once, its object matching its manifest`, async () => {
      const ds = new TestDataset();
      datasets.push(ds);
      const expected: AlignedBar[] = [];
      for (let d = 0; d < DAYS; d++) {
        const rows = ds.dayRows(JAN + d * DAY);
        expected.push(...rows);
        await ds.writeDay(JAN + d * DAY, rows);
      }
      await ds.writeDay(FEB, ds.dayRows(FEB), false);

      // A short lock: the killed job is taken up again ~2 s after the kill (default 30 s).
      const lock = { COMPACTION_LOCK_DURATION_MS: '2000' };
      const crashed = ds.compact({ ...lock, COMPACTION_CRASH_AT: step });
      assert.equal(crashed.signal, 'SIGKILL', crashed.stderr);
      const keysAt = (await listKeys(testS3(), ds.prefix)).filter((k) => k.includes('/aligned_compacted/'));
      assert.deepEqual(
        keysAt,
        step === 'after-object-put'
          ? [compactedObjectKey(ds.prefix, ds.series, JAN)]
          : [compactedManifestKey(ds.prefix, ds.series, JAN), compactedObjectKey(ds.prefix, ds.series, JAN)],
      );
      if (step === 'after-object-put') {
        // An object without its manifest is ignored by readers.
        const dir = mkdtempSync(join(tmpdir(), 'compaction-crash-'));
        const pulled = await ds.pull(dir, { useCompacted: true }, JAN, FEB);
        rmSync(dir, { recursive: true, force: true });
        assert.equal(pulled.report.compactedMonths, 0);
        assert.deepEqual(pulled.rows, expected);
      }

      const restarted = ds.compact(lock);
      assert.equal(restarted.status, 0, restarted.stderr);
      assert.deepEqual(
        monthResults(restarted.summary).map((m) => [m.outcome, m.month, m.days, m.rows]),
        step === 'after-object-put' ? [['compacted', '2024-01', DAYS, DAYS * BARS_PER_DAY]] : [],
        'the killed job is taken up again (after its lock) only if the manifest was not written',
      );
      const keys = (await listKeys(testS3(), ds.prefix)).filter((k) => k.includes('/aligned_compacted/'));
      assert.deepEqual(keys, [
        compactedManifestKey(ds.prefix, ds.series, JAN),
        compactedObjectKey(ds.prefix, ds.series, JAN),
      ]);
      const { manifest, rows, sha } = await ds.compacted(JAN);
      assert.equal(manifest.object.sha256, sha);
      assert.deepEqual(rows, expected);
      const index = await ds.index();
      assert.deepEqual(
        manifest.sources,
        index.windows
          .filter((e) => e.startMs < FEB)
          .map((e) => ({ startMs: e.startMs, sha256: e.sha256, rowCount: e.rowCount })),
      );
      assert.deepEqual(ds.compact().summary?.months, [], 'nothing left to do');
    });
});
