/**
 * Pull: `perpflow pull` (services/windower, from its build) of N symbols × D days of 1m
 * bars from the stack's S3, one day window per symbol-day as the windower writes them,
 * with --concurrency 1 and with its default, into fresh folders. Windows/s and rows/s
 * over the command's wall time (its start-up included, the same in both); the two pulls'
 * files must be the same bytes. BENCH_S3_LATENCY_MS makes S3 answer as late as S3 does.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { AlignedBar } from '@perpflow/contracts';
import {
  prepareWindowWrite,
  type SeriesIndex,
  seriesIndexKey,
  serializeSeriesIndex,
  upsertSeriesIndex,
} from '@perpflow/dataset';
import { runTool, uniqueName } from '../../../test/src/harness.js';
import type { BenchConfig } from '../config.js';
import { alignedBars, DAY_MS, recentDays, universe } from '../market-data.js';
import { benchS3 } from '../pipeline-procs.js';
import type { FigureInput } from '../report.js';
import type { SectionResult } from './publish.js';

/** The pull's default --concurrency (services/windower/src/pull/pull.ts PULL_CONCURRENCY). */
const DEFAULT_CONCURRENCY = 8;
const PUTS_AT_ONCE = 8;

/** The files a pull reported writing, by path below its folder, with their bytes. */
function filesOf(out: string, files: readonly { path: string }[]): Map<string, Buffer> {
  return new Map(files.map((f) => [relative(out, f.path), readFileSync(f.path)]));
}

export async function benchPull(c: BenchConfig): Promise<SectionResult> {
  const { fromMs, toMs } = recentDays(c.pullDays);
  const u = universe(c.pullSymbols, fromMs - DAY_MS);
  const prefix = `bench/${uniqueName('pull')}`;
  const s3 = benchS3(c);
  const dirs: string[] = [];
  try {
    // The dataset: each symbol-day's window written as the windower writes it (object,
    // manifest), then each series' index.
    const puts: { key: string; body: Uint8Array; type: string }[] = [];
    let rows = 0;
    let windows = 0;
    for (const series of alignedBars(u, fromMs, toMs)) {
      let index: SeriesIndex | null = null;
      let indexKey = '';
      for (let d = fromMs; d < toMs; d += DAY_MS) {
        const latest: AlignedBar[] = series.filter((b) => b.eventTimeMs >= d && b.eventTimeMs < d + DAY_MS);
        const w = prepareWindowWrite({
          prefix,
          window: {
            exchange: 'binanceusdm',
            symbol: latest[0]!.symbol,
            timeframe: '1m',
            unit: 'day',
            startMs: d,
          },
          latest,
          superseded: [],
          kafkaOffsets: [],
          watermarkMs: d + DAY_MS,
          closed: true,
          writtenAtMs: d + DAY_MS,
        });
        for (const p of w.puts) puts.push({ key: p.key, body: p.body, type: p.contentType });
        index = upsertSeriesIndex(index, w.manifest, w.manifestKey);
        indexKey = seriesIndexKey(prefix, w.manifest.window);
        rows += latest.length;
        windows++;
      }
      if (index) puts.push({ key: indexKey, body: serializeSeriesIndex(index), type: 'application/json' });
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: PUTS_AT_ONCE }, async () => {
        while (next < puts.length) {
          const p = puts[next++]!;
          await s3.send(
            new PutObjectCommand({ Bucket: c.s3Bucket, Key: p.key, Body: p.body, ContentType: p.type }),
          );
        }
      }),
    );

    const pull = (concurrency: number) => {
      const out = mkdtempSync(join(tmpdir(), `perpflow-bench-pull-${concurrency}-`));
      dirs.push(out);
      const t0 = performance.now();
      const r = runTool(
        'services/windower',
        'src/perpflow.ts',
        [
          'pull',
          '--exchange',
          'binanceusdm',
          '--symbol',
          u.symbols.map((s) => s.unified).join(','),
          '--timeframe',
          '1m',
          '--from',
          String(fromMs),
          '--to',
          String(toMs),
          '--out',
          out,
          '--concurrency',
          String(concurrency),
          '--json',
        ],
        { S3_PREFIX: prefix, S3_BUCKET: c.s3Bucket, S3_ENDPOINT: c.s3Endpoint },
      );
      const seconds = (performance.now() - t0) / 1000;
      if (r.status !== 0)
        throw new Error(
          `perpflow pull --concurrency ${concurrency} exited ${r.status}: ${r.stderr.slice(-500)}`,
        );
      const report = JSON.parse(r.stdout) as { rows: number; files: { path: string }[] };
      if (report.rows !== rows)
        throw new Error(`perpflow pull gave ${report.rows} rows, the dataset holds ${rows}`);
      return { seconds, files: filesOf(out, report.files) };
    };
    const serial = pull(1);
    const ahead = pull(DEFAULT_CONCURRENCY);
    const a = serial.files;
    const b = ahead.files;
    if (a.size !== windows || b.size !== windows || [...a].some(([k, v]) => !b.get(k)?.equals(v)))
      throw new Error(`the two pulls wrote different files (${a.size} and ${b.size} of ${windows})`);
    const latency = c.s3LatencyMs > 0 ? `, S3 answering ${c.s3LatencyMs} ms late` : ', S3 on loopback';
    const figures: FigureInput[] = [
      {
        name: `pull ${c.pullSymbols} symbols × ${c.pullDays} d, --concurrency ${DEFAULT_CONCURRENCY}`,
        value: windows / ahead.seconds,
        unit: 'windows/s',
        reference: { name: '--concurrency 1', value: windows / serial.seconds },
        note: `${windows} windows, ${rows} rows in ${ahead.seconds.toFixed(2)} s against ${serial.seconds.toFixed(2)} s (process start-up included)${latency}`,
      },
      { name: 'pull rows/s', value: rows / ahead.seconds, unit: 'rows/s' },
    ];
    return {
      figures,
      details: {
        prefix,
        windows,
        rows,
        s3LatencyMs: c.s3LatencyMs,
        seconds: { concurrency1: serial.seconds, [`concurrency${DEFAULT_CONCURRENCY}`]: ahead.seconds },
      },
    };
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    s3.destroy();
  }
}
