/**
 * `perpflow pull` against a dataset someone tampered with, on the stack's real S3.
 * Day windows of two symbols (A, B) under one prefix and of A under a second prefix
 * are written with the windower's own write path; then A's series index, a day
 * manifest or the compacted month manifest is replaced by a hostile one: an index
 * entry whose key climbs out of the tree with `..`, an entry or compacted manifest
 * naming another prefix's key, a manifest of B at A's key, a day or month manifest
 * whose object holds B's rows. Each pull must fail naming the key and field, write nothing outside
 * --out and no row of B; with the honest objects put back, the same pull returns A's
 * rows exactly (from the days and from the compacted month).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AlignedBar, LIQUIDATION_SEMANTICS } from '@perpflow/contracts';
import {
  compactedManifestKey,
  compactedObjectKey,
  DatasetMismatch,
  type DayObject,
  decodeParquetToBars,
  manifestKey,
  objectKey,
  parseSeriesIndex,
  parseWindowManifest,
  prepareMonthCompaction,
  type SeriesId,
  type SeriesIndex,
  seriesIndexKey,
  type WindowId,
} from '@perpflow/dataset';
import { createS3Client } from '@perpflow/s3';
import { type PullReport, pullDataset } from '@perpflow/windower/pull';
import { S3ObjectStore } from '../../services/windower/src/adapters/s3.js';
import { WindowStore } from '../../services/windower/src/adapters/window-store.js';
import { loadPullConfig } from '../../services/windower/src/config.js';
import { deletePrefix, testS3 } from '../src/dataset-io.js';
import { runTool, uniqueName } from '../src/harness.js';

const TF = 60_000;
const DAY = 86_400_000;
const MAR1 = Date.UTC(2024, 2, 1);
const MAR2 = MAR1 + DAY;
const BARS = 30;
const EX = 'binanceusdm';
const TAG = `${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}`;
const A: SeriesId = { exchange: EX, symbol: `A${TAG}/USDT:USDT`, timeframe: '1m' };
const B: SeriesId = { exchange: EX, symbol: `B${TAG}/USDT:USDT`, timeframe: '1m' };
const PREFIX = uniqueName('it-pull-untrusted');
const OTHER = uniqueName('it-pull-other');
const json = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);
const day = (s: SeriesId, startMs: number): WindowId => ({ ...s, unit: 'day', startMs });

function bar(s: SeriesId, t: number, version: number): AlignedBar {
  const p = 100 + ((t / TF) % 50) + version * 10;
  return {
    schemaVersion: 1,
    exchange: s.exchange,
    symbol: s.symbol,
    timeframe: s.timeframe,
    eventTimeMs: t,
    open: p,
    high: p + 1,
    low: p - 1,
    close: p + 0.5,
    volume: 2,
    openInterest: 5_000,
    openInterestTimeMs: t - TF,
    openInterestMissing: null,
    fundingRate: 0.0001,
    fundingTimeMs: t - (t % (8 * 3_600_000)),
    predictedFundingRate: 0.0002,
    predictedFundingTimeMs: t,
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
    liqPriceKind: LIQUIDATION_SEMANTICS[s.exchange].priceKind,
    liqCompleteness: LIQUIDATION_SEMANTICS[s.exchange].completeness,
    knownAtMs: t + TF + 500,
    revision: 0,
    candleFilled: false,
    openInterestStale: false,
    fundingStale: false,
  };
}

const rowsOf = (s: SeriesId, dayMs: number, version = 0) =>
  Array.from({ length: BARS }, (_, i) => bar(s, dayMs + i * TF, version));

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(join(d, e.name));
  };
  walk(dir);
  return out.sort();
}

describe('perpflow pull refuses a tampered dataset on the real S3', { timeout: 180_000 }, () => {
  const client = testS3();
  const config = loadPullConfig({ ...process.env, S3_PREFIX: PREFIX });
  const store = new S3ObjectStore(createS3Client(config), config.S3_BUCKET);
  const dir = mkdtempSync(join(tmpdir(), 'pull-untrusted-'));
  const honest = new Map<string, Uint8Array>();
  let index: SeriesIndex;
  let caseNo = 0;
  let monthOfB: Awaited<ReturnType<typeof prepareMonthCompaction>>;

  /** A fresh case folder; the pull writes into `<case>/out`, so `<case>` must hold nothing else. */
  function caseDir(): { root: string; out: string } {
    const root = join(dir, `case-${++caseNo}`);
    mkdirSync(root);
    return { root, out: join(root, 'out') };
  }

  const pull = (out: string, useCompacted = false, merge = false) =>
    pullDataset(store, {
      exchanges: [EX],
      symbols: [A.symbol],
      timeframe: '1m',
      fromMs: MAR1,
      toMs: MAR2 + DAY,
      outDir: out,
      prefix: PREFIX,
      useCompacted,
      merge,
    });

  /** Puts the hostile objects, expects the pull to fail naming key and field, puts the honest ones back. */
  async function refused(
    hostile: Record<string, Uint8Array>,
    want: { key: string; field: RegExp | string; found?: string },
    o: { useCompacted?: boolean; merge?: boolean } = {},
  ): Promise<void> {
    for (const [k, v] of Object.entries(hostile)) await store.put(k, v, 'application/octet-stream');
    const { root, out } = caseDir();
    try {
      const outcome = await pull(out, o.useCompacted, o.merge).then(
        (report) => report,
        (err: unknown) => err,
      );
      // What landed on disk first: a pull that wrongly succeeds shows where it wrote.
      assert.deepEqual(
        filesUnder(root).filter((f) => !f.startsWith(`${out}/`)),
        [],
        'nothing outside --out',
      );
      const rows = filesUnder(root)
        .filter((f) => f.endsWith('.parquet'))
        .flatMap((f) => decodeParquetToBars(new Uint8Array(readFileSync(f))));
      assert.deepEqual(
        rows.filter((r) => r.symbol !== A.symbol),
        [],
        'no row of another symbol written',
      );
      assert.ok(
        filesUnder(root).every((f) => !f.endsWith('_pull.json')),
        'no report of a failed pull',
      );
      assert.ok(outcome instanceof DatasetMismatch, `a DatasetMismatch, got ${String(outcome)}`);
      assert.equal(outcome.key, want.key);
      if (typeof want.field === 'string') assert.equal(outcome.field, want.field);
      else assert.match(outcome.field, want.field);
      if (want.found !== undefined) assert.equal(outcome.found, want.found);
    } finally {
      for (const k of Object.keys(hostile)) await store.put(k, honest.get(k)!, 'application/octet-stream');
    }
  }

  before(async () => {
    const windows = new WindowStore(store, PREFIX, 'pull-untrusted test');
    const elsewhere = new WindowStore(store, OTHER, 'pull-untrusted test');
    let clock = Date.UTC(2024, 5, 1);
    for (const [ws, s, d, v] of [
      [windows, A, MAR1, 0],
      [windows, A, MAR2, 0],
      [windows, B, MAR1, 0],
      [windows, B, MAR2, 0],
      [elsewhere, A, MAR2, 1],
    ] as const) {
      clock += 1_000; // later writes win in the index
      await ws.write({
        window: day(s, d),
        latest: rowsOf(s, d, v),
        superseded: [],
        kafkaOffsets: [],
        watermarkMs: null,
        closed: true,
        writtenAtMs: clock,
      });
    }
    for (const k of [
      seriesIndexKey(PREFIX, A),
      manifestKey(PREFIX, day(A, MAR1)),
      manifestKey(PREFIX, day(A, MAR2)),
      objectKey(PREFIX, day(A, MAR1)),
      objectKey(PREFIX, day(A, MAR2)),
    ])
      honest.set(k, (await store.get(k))!);
    index = parseSeriesIndex(honest.get(seriesIndexKey(PREFIX, A))!);
    // March compacted from each symbol's two days, with the windower's own compaction code.
    const compactMarch = async (s: SeriesId) => {
      const days = new Map<number, DayObject>();
      for (const d of [MAR1, MAR2])
        days.set(d, {
          manifest: parseWindowManifest((await store.get(manifestKey(PREFIX, day(s, d))))!),
          bytes: (await store.get(objectKey(PREFIX, day(s, d))))!,
        });
      return prepareMonthCompaction({
        prefix: PREFIX,
        index: parseSeriesIndex((await store.get(seriesIndexKey(PREFIX, s)))!),
        monthStartMs: MAR1,
        days,
        writtenAtMs: clock + 1_000,
      });
    };
    const month = await compactMarch(A);
    await store.put(month.objectKey, month.body, 'application/vnd.apache.parquet');
    await store.put(month.manifestKey, month.manifestBody, 'application/json');
    honest.set(month.manifestKey, month.manifestBody);
    honest.set(month.objectKey, month.body);
    // The same month object copied under the other prefix: identical bytes, a foreign key.
    await store.put(compactedObjectKey(OTHER, A, MAR1), month.body, 'application/vnd.apache.parquet');
    monthOfB = await compactMarch(B);
  });

  after(async () => {
    await deletePrefix(client, PREFIX);
    await deletePrefix(client, OTHER);
    rmSync(dir, { recursive: true, force: true });
  });

  const expected = [...rowsOf(A, MAR1), ...rowsOf(A, MAR2)];

  async function pulledHonestly(useCompacted: boolean): Promise<PullReport> {
    const { out } = caseDir();
    const report = await pull(out, useCompacted);
    const rows = filesUnder(out)
      .filter((f) => f.endsWith('.parquet'))
      .flatMap((f) => decodeParquetToBars(new Uint8Array(readFileSync(f))))
      .sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    assert.deepEqual(rows, expected);
    assert.equal(report.rows, 2 * BARS);
    return report;
  }

  it('pulls every row of A from an honest index, from the days and from the compacted month', async () => {
    assert.equal((await pulledHonestly(false)).compactedMonths, 0);
    assert.equal((await pulledHonestly(true)).compactedMonths, 1);
  });

  it('refuses an index entry whose object key climbs out of --out with ..', async () => {
    const evil = `${PREFIX}/aligned/v1/../escaped/x.parquet`;
    const windows = index.windows.map((e) => (e.startMs === MAR2 ? { ...e, objectKey: evil } : e));
    await refused(
      { [seriesIndexKey(PREFIX, A)]: json({ ...index, windows }) },
      {
        key: seriesIndexKey(PREFIX, A),
        field: `windows[startMs=${MAR2}].objectKey`,
        found: JSON.stringify(evil),
      },
    );
    // The key resolved against --out lands in the case folder, beside out/: nothing there.
    assert.deepEqual(
      readdirSync(join(dir, `case-${caseNo}`)).filter((n) => n !== 'out'),
      [],
    );
  });

  it("refuses an index entry naming another prefix's manifest (valid, sha256-consistent, other data)", async () => {
    const foreign = manifestKey(OTHER, day(A, MAR2));
    const windows = index.windows.map((e) => (e.startMs === MAR2 ? { ...e, manifestKey: foreign } : e));
    await refused(
      { [seriesIndexKey(PREFIX, A)]: json({ ...index, windows }) },
      {
        key: seriesIndexKey(PREFIX, A),
        field: `windows[startMs=${MAR2}].manifestKey`,
        found: JSON.stringify(foreign),
      },
    );
  });

  it("refuses B's manifest put at A's manifest key", async () => {
    const mKey = manifestKey(PREFIX, day(A, MAR2));
    await refused(
      { [mKey]: (await store.get(manifestKey(PREFIX, day(B, MAR2))))! },
      { key: mKey, field: 'window.symbol', found: JSON.stringify(B.symbol) },
    );
  });

  it("refuses a manifest at A's key whose object holds B's rows", async () => {
    const mKey = manifestKey(PREFIX, day(A, MAR2));
    const oKey = objectKey(PREFIX, day(A, MAR2));
    const bManifest = parseWindowManifest((await store.get(manifestKey(PREFIX, day(B, MAR2))))!);
    const aManifest = parseWindowManifest(honest.get(mKey)!);
    // Every key is the layout's; only the object's content (and its sha256 in the manifest) is B's.
    const hostile = {
      ...aManifest,
      object: { ...aManifest.object, sha256: bManifest.object.sha256, bytes: bManifest.object.bytes },
    };
    await refused(
      { [mKey]: json(hostile), [oKey]: (await store.get(objectKey(PREFIX, day(B, MAR2))))! },
      { key: oKey, field: 'row 0 symbol', found: JSON.stringify(B.symbol) },
    );
  });

  it("refuses a compacted month manifest naming another prefix's object", async () => {
    const mKey = compactedManifestKey(PREFIX, A, MAR1);
    const m = JSON.parse(new TextDecoder().decode(honest.get(mKey)!));
    const foreign = compactedObjectKey(OTHER, A, MAR1);
    await refused(
      { [mKey]: json({ ...m, object: { ...m.object, key: foreign } }) },
      { key: mKey, field: 'object.key', found: JSON.stringify(foreign) },
      { useCompacted: true, merge: true },
    );
  });

  it("refuses a compacted month at A's keys whose object holds B's rows", async () => {
    const mKey = compactedManifestKey(PREFIX, A, MAR1);
    const oKey = compactedObjectKey(PREFIX, A, MAR1);
    const m = JSON.parse(new TextDecoder().decode(honest.get(mKey)!));
    // A's manifest (sources equal A's index), the sha256 and size of B's month, B's bytes at A's key.
    const object = {
      ...m.object,
      sha256: monthOfB.manifest.object.sha256,
      bytes: monthOfB.manifest.object.bytes,
    };
    assert.equal(monthOfB.manifest.object.rowCount, m.object.rowCount);
    await refused(
      { [mKey]: json({ ...m, object }), [oKey]: monthOfB.body },
      { key: oKey, field: 'row 0 symbol', found: JSON.stringify(B.symbol) },
      { useCompacted: true, merge: true },
    );
  });

  it('refuses to write through a symbolic link inside --out that leads out of it, and writes nothing there', async () => {
    const { root, out } = caseDir();
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    mkdirSync(out);
    const first = objectKey(PREFIX, day(A, MAR1)).slice(`${PREFIX}/aligned/v1/`.length).split('/')[0]!;
    symlinkSync(elsewhere, join(out, first));
    const err = await pull(out, false).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    assert.equal(err?.code, 'LOCAL_PATH', String(err));
    assert.match(err!.message, /outside --out .*symbolic link inside --out/);
    assert.deepEqual(readdirSync(elsewhere), [], 'nothing written through the link');
  });

  it('the CLI exits 3 naming the key, and pulls again once the index is honest', async () => {
    const evil = `${PREFIX}/aligned/v1/../escaped/x.parquet`;
    const windows = index.windows.map((e) => (e.startMs === MAR2 ? { ...e, objectKey: evil } : e));
    await store.put(seriesIndexKey(PREFIX, A), json({ ...index, windows }), 'application/json');
    const cli = (out: string) =>
      runTool(
        'services/windower',
        'src/perpflow.ts',
        [
          'pull',
          '--exchange',
          EX,
          '--symbol',
          A.symbol,
          '--from',
          '2024-03-01',
          '--to',
          '2024-03-03',
          '--out',
          out,
        ],
        { S3_PREFIX: PREFIX },
      );
    const bad = caseDir();
    const r = cli(bad.out);
    assert.equal(r.status, 3, r.stderr);
    assert.ok(
      r.stderr.includes(
        `integrity check failed: ${seriesIndexKey(PREFIX, A)}: windows[startMs=${MAR2}].objectKey is ${JSON.stringify(evil)}, expected ${JSON.stringify(objectKey(PREFIX, day(A, MAR2)))}`,
      ),
      r.stderr,
    );
    assert.deepEqual(readdirSync(bad.root), [], 'refused before anything was written');

    await store.put(seriesIndexKey(PREFIX, A), honest.get(seriesIndexKey(PREFIX, A))!, 'application/json');
    const good = caseDir();
    const ok = cli(good.out);
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(
      filesUnder(good.out).map((f) => relative(good.out, f)),
      ['_pull.json', compactedObjectKey(PREFIX, A, MAR1).slice(`${PREFIX}/aligned_compacted/v1/`.length)],
      'the month read from its compacted object',
    );
  });
});
