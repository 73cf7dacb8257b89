/**
 * Reprocessing on the real stack (issue #13 point 3): simulator → ingest backfill →
 * archiver, aligner → windower. `perpflow reprocess` then rebuilds the series from the raw
 * archive alone with the live config, as BullMQ jobs run by worker processes:
 * - the rebuilt tree holds the same rows and values as the live tree, bar for bar;
 * - a rerun of the same jobs (a new queue) writes byte-identical objects (same sha256);
 *   the same command again redoes no finished job;
 * - a worker SIGKILLed after an object put, a manifest put or the index update is
 *   restarted and its job retried: the tree is the same bytes, each bar once;
 * - a corrupt archive object stops its job with an error naming the key and both sha256;
 * - every rebuilt manifest names the version and its raw inputs (key and sha256 of
 *   archive objects that exist); `perpflow datasets` lists the rebuilt tree.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parseDayIndex } from '@perpflow/archive';
import type { AlignedBar } from '@perpflow/contracts';
import { decodeParquetToBars, parseWindowManifest } from '@perpflow/dataset';
import { getBytes, listKeys } from '../src/dataset-io.js';
import { runTool, STACK, uniqueName } from '../src/harness.js';
import { HOUR, Pipeline } from '../faults/src/pipeline.js';

const SYMBOL = 'BTC/USDT:USDT';
const EXCHANGE = 'binanceusdm';
const VERSION_INFO = /perpflow_aligner_dataset_version_info\{[^}]*version="(dv-[0-9a-f]{16})"[^}]*\} 1/;

interface Summary {
  version: string;
  tree: string;
  jobs: number;
  completed: number;
  failed: { id: string; reason: string }[];
  records: number;
  objects: number;
  bars: number;
  windows: number;
  deadLetters: Record<string, number>;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('perpflow reprocess: rebuild history from the raw archive', { timeout: 900_000 }, () => {
  let p: Pipeline;
  // Two hours the day before yesterday, across the 08:00 funding settlement.
  const h0 = Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR - 2 * 24 * HOUR + 7 * HOUR;
  const range = { fromMs: h0, toMs: h0 + 2 * HOUR };
  let version = '';

  before(async () => {
    p = await Pipeline.create(7_411, [SYMBOL], { archiver: true });
    await p.startAll();
    const id = p.backfill(range);
    const c = await p.waitComplete(range);
    assert.equal(c.lost, 0, `live tree incomplete: ${JSON.stringify(c.missingSample)}`);
    assert.ok(p.backfillDone(id) || c.found > 0);
    await p.archiveCaughtUp();
    const text = await (await fetch(`${p.metricsUrl('aligner')}/metrics`)).text();
    version = VERSION_INFO.exec(text)?.[1] ?? '';
    assert.ok(version, 'the aligner exports its dataset version');
  });
  after(async () => {
    await p?.stopAll();
  });

  const reprocess = (queue: string, args: string[] = [], env: Record<string, string> = {}) => {
    const r = runTool(
      'services/windower',
      'src/perpflow.ts',
      [
        'reprocess',
        '--from',
        String(range.fromMs),
        '--to',
        String(range.toMs),
        '--exchange',
        EXCHANGE,
        '--symbol',
        SYMBOL,
        '--json',
        ...args,
      ],
      {
        S3_PREFIX: p.prefix,
        REDIS_URL: STACK.redisUrl,
        // The live aligner's settings in this pipeline: the rebuild is the live version.
        ALIGNER_ALLOWED_LATENESS_MS: '0',
        REPROCESS_QUEUE: queue,
        REPROCESS_LOCK_MS: '5000',
        ...env,
      },
    );
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    return {
      status: r.status,
      stderr: r.stderr,
      summary: (last.startsWith('{') ? JSON.parse(last) : null) as Summary | null,
    };
  };

  const tree = async (root: string) => {
    const keys = (await listKeys(p.s3, `${root}/aligned/v1`)).filter((k) => k.endsWith('.parquet'));
    const rows = new Map<number, AlignedBar>();
    const bytes = new Map<string, string>();
    let total = 0;
    for (const k of keys) {
      const body = await getBytes(p.s3, k);
      bytes.set(k.slice(root.length), sha(body));
      for (const b of decodeParquetToBars(body))
        if (b.symbol === SYMBOL) {
          rows.set(b.eventTimeMs, b);
          total++;
        }
    }
    return { rows, bytes, total };
  };

  let firstBytes: Map<string, string>;

  it('rebuilds the live rows and values from the archive alone', async () => {
    const r = reprocess(uniqueName('rp-a'), ['--workers', '2']);
    assert.equal(r.status, 0, r.stderr);
    const s = r.summary!;
    assert.equal(s.version, version, 'the live config names the live version');
    assert.equal(s.completed, s.jobs);
    assert.ok(s.records > 120, `records read: ${s.records}`);
    // Progress (not a terminal: plain lines on stderr beside --json), the last one final.
    const last =
      r.stderr
        .split('\n')
        .filter((l) => l.startsWith(`reprocess ${version} [`))
        .at(-1) ?? '';
    assert.match(
      last,
      new RegExp(`\\] 100\\.0%  ${s.jobs}/${s.jobs} jobs.*  done  ${s.records} records, ${s.bars} bars`),
      r.stderr,
    );
    const live = await tree(p.prefix);
    const rebuilt = await tree(`${p.prefix}/versions/${version}`);
    assert.equal(rebuilt.total, rebuilt.rows.size, 'one row per bar');
    const inRange = (m: Map<number, AlignedBar>) =>
      [...m.values()].filter((b) => b.eventTimeMs >= range.fromMs && b.eventTimeMs < range.toMs);
    const want = inRange(live.rows);
    assert.equal(want.length, 120, 'the live tree holds the two hours');
    const got = inRange(rebuilt.rows);
    assert.equal(got.length, want.length);
    const differ: string[] = [];
    for (const b of want) {
      const g = rebuilt.rows.get(b.eventTimeMs);
      try {
        assert.deepEqual(g, b);
      } catch {
        differ.push(
          `${new Date(b.eventTimeMs).toISOString()}: live ${JSON.stringify(b)} rebuilt ${JSON.stringify(g)}`,
        );
      }
    }
    assert.deepEqual(differ, [], 'every column equal, known_at and revision included');
    assert.equal(s.bars, rebuilt.rows.size);
    firstBytes = rebuilt.bytes;
  });

  it('names the version and raw inputs in every rebuilt manifest; the inputs exist with that sha256', async () => {
    const root = `${p.prefix}/versions/${version}/aligned/v1`;
    const manifests = (await listKeys(p.s3, root)).filter((k) => k.endsWith('.manifest.json'));
    assert.ok(manifests.length >= 1);
    for (const k of manifests) {
      const m = parseWindowManifest(await getBytes(p.s3, k));
      assert.equal(m.datasetVersion, version);
      assert.ok(m.rawInputs && m.rawInputs.length >= 3, `${k}: raw inputs ${m.rawInputs?.length}`);
      const feeds = new Set(m.rawInputs.map((i) => /feed=([a-z_]+)/.exec(i.key)?.[1]));
      for (const f of ['ohlcv', 'open_interest', 'funding'])
        assert.ok(feeds.has(f), `${k} lacks a ${f} input`);
      for (const i of m.rawInputs) {
        assert.ok(i.key.startsWith(`${p.prefix}/raw/`), i.key);
        assert.equal(sha(await getBytes(p.s3, i.key)), i.sha256, i.key);
      }
    }
    const r = runTool('services/windower', 'src/perpflow.ts', ['datasets', '--json'], {
      S3_PREFIX: p.prefix,
    });
    assert.equal(r.status, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as { id: string; live: boolean; stats: { rows: number } }[];
    const own = listed.find((v) => v.id === version && !v.live);
    assert.ok(own, `datasets lists the rebuilt tree: ${r.stdout}`);
    assert.ok(own.stats.rows >= 120);
  });

  it('redoes no finished job when run again, and a fresh run writes byte-identical objects', async () => {
    const queue = uniqueName('rp-b');
    const first = reprocess(queue);
    assert.equal(first.status, 0, first.stderr);
    const again = reprocess(queue);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.summary!.completed, again.summary!.jobs);
    assert.match(
      again.stderr,
      new RegExp(
        `${again.summary!.jobs} jobs \\(1 raw partition × 1 period, 1 series\\): 0 added, ${again.summary!.jobs} already done`,
      ),
    );
    const rerun = await tree(`${p.prefix}/versions/${version}`);
    assert.deepEqual([...rerun.bytes].sort(), [...firstBytes].sort());
  });

  for (const step of ['after-object-put', 'after-manifest-put', 'after-index'])
    it(`survives a worker SIGKILLed ${step}: the job is retried, same bytes, each bar once`, async () => {
      const r = reprocess(uniqueName('rp-kill'), ['--workers', '1'], { REPROCESS_CRASH_AT: step });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`"step":"${step}".*REPROCESS_CRASH_AT reached: SIGKILL`));
      assert.match(r.stderr, /worker 1 exited \(SIGKILL\); starting it again/);
      assert.equal(r.summary!.completed, r.summary!.jobs);
      const after = await tree(`${p.prefix}/versions/${version}`);
      assert.equal(after.total, after.rows.size, 'no bar twice');
      assert.deepEqual([...after.bytes].sort(), [...firstBytes].sort());
    });

  it('stops at a corrupt archive object, naming it with the expected and found sha256', async () => {
    const day = new Date(range.fromMs).toISOString().slice(0, 10);
    const indexKey = `${p.prefix}/raw/feed=ohlcv/exchange=${EXCHANGE}/date=${day}/_index.json`;
    const index = parseDayIndex(await getBytes(p.s3, indexKey));
    const victim = index.objects[0]!;
    const good = await getBytes(p.s3, victim.key);
    const put = (body: Uint8Array) =>
      p.s3.send(new PutObjectCommand({ Bucket: STACK.s3Bucket, Key: victim.key, Body: body }));
    await put(good.slice(0, Math.floor(good.length / 2)));
    try {
      const r = reprocess(uniqueName('rp-corrupt'));
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`archive object ${victim.key.replace(/[.+]/g, '\\$&')} is corrupt`));
      assert.match(r.stderr, new RegExp(`expected sha256 ${victim.sha256}, found [0-9a-f]{64}`));
      assert.equal(r.summary!.failed.length, 1);
    } finally {
      await put(good);
    }
  });
});
