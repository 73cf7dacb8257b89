/** `perpflow report`: one self-contained HTML page on the data's quality (collect → summarize → render). */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ArchiveObjectCorrupt, ArchiveObjectMissing } from '@perpflow/archive';
import { DatasetMismatch } from '@perpflow/dataset';
import { createS3Client, COMMAND_MAX_ATTEMPTS, S3ObjectStore } from '../adapters/s3.js';
import {
  checkExchanges,
  checkSymbols,
  listFlag,
  parseRangeFlags,
  parseTimeframeFlag,
  parseVersionFlag,
  printS3Hint,
  readCommand,
  resolvePrefix,
  SERIES_OPTIONS,
  USAGE_EXIT_CODE,
  UsageError,
  VERSION_OPTION,
} from '../cli-common.js';
import type { loadPullConfig } from '../config.js';
import { treeOfVersion } from '../datasets/list.js';
import { PullError } from '../pull/pull.js';
import { collectReport, ReportNoSeries } from './collect.js';
import { renderReport } from './render.js';
import { summarize } from './summarize.js';

const USAGE = `usage: perpflow report --from <date|ISO|ms> --to <date|ISO|ms> [--out report.html]
                       [--exchange <id>[,<id>]] [--symbol <unified>[,<unified>]] [--timeframe 1m]
                       [--version <dv-id>] [--prefix <S3 prefix>] [--json]
  Writes one self-contained HTML page (no network needed to view it): coverage and gaps
  per series, freshness over time, dead letters by rule and over time (the raw archive's
  dead_letter feed), drift statistics over time (the monitor's daily reports), revisions
  and late data. Reads S3 as perpflow pull does (every sha256 checked). Default: every
  series of the timeframe in the live tree; --version reads a dataset version's tree.
  --json prints the figures drawn (schema perpflow.report.v1) on stdout as well.
  Exit codes: 0 written, 2 bad usage or no series, 3 integrity failure, 1 anything else.`;

export async function runReportCli(argv: string[]): Promise<number> {
  let config: ReturnType<typeof loadPullConfig>;
  let request: Parameters<typeof collectReport>[1];
  let out: string;
  let json = false;
  let version: string | undefined;
  try {
    const parsed = readCommand(
      argv,
      {
        ...SERIES_OPTIONS,
        ...VERSION_OPTION,
        from: { type: 'string' },
        to: { type: 'string' },
        out: { type: 'string', default: 'perpflow-report.html' },
      },
      USAGE,
    );
    if (!parsed) return 0;
    const { values } = parsed;
    config = parsed.config;
    json = values.json;
    const { fromMs, toMs } = parseRangeFlags(values.from, values.to);
    if (toMs - fromMs > 366 * 86_400_000)
      throw new UsageError('--from and --to: at most 366 days per report');
    const timeframe = parseTimeframeFlag(values.timeframe);
    const exchanges = listFlag(values.exchange);
    if (exchanges) checkExchanges(exchanges);
    const symbols = listFlag(values.symbol);
    if (symbols) checkSymbols(symbols);
    version = parseVersionFlag(values.version);
    const prefix = resolvePrefix(values.prefix, config.S3_PREFIX);
    out = resolve(values.out);
    request = {
      prefix,
      treePrefix: prefix,
      source: `live tree s3://${config.S3_BUCKET}/${prefix}/aligned/v1`,
      timeframe,
      fromMs,
      toMs,
      exchanges,
      symbols,
      onStep: (text) => process.stderr.write(`report: ${text}\n`),
    };
  } catch (err) {
    console.error(`perpflow report: ${(err as Error).message}\n${USAGE}`);
    return USAGE_EXIT_CODE;
  }
  try {
    const store = new S3ObjectStore(
      createS3Client(config, { maxAttempts: COMMAND_MAX_ATTEMPTS }),
      config.S3_BUCKET,
    );
    if (version !== undefined) {
      const tree = await treeOfVersion(store, request.prefix, version);
      request = {
        ...request,
        treePrefix: tree,
        source: `dataset version ${version} (s3://${config.S3_BUCKET}/${tree}/aligned/v1)`,
      };
    }
    const data = summarize(await collectReport(store, request));
    const html = renderReport(data);
    await mkdir(dirname(out), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
    await writeFile(tmp, html);
    await rename(tmp, out);
    if (json) console.log(JSON.stringify(data));
    console.error(
      `perpflow report: wrote ${out} (${(html.length / 1024).toFixed(0)} KiB): ${data.series.length} series, ` +
        `${data.series.reduce((n, s) => n + s.rows, 0)} bars, ${data.deadLetters.total} dead letters, ` +
        `${data.drift.days.length} drift reports. Open file://${out} in a browser.`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ReportNoSeries) {
      console.error(`perpflow report: ${err.message}`);
      return USAGE_EXIT_CODE;
    }
    if (
      err instanceof ArchiveObjectCorrupt ||
      err instanceof ArchiveObjectMissing ||
      err instanceof DatasetMismatch ||
      (err instanceof PullError && err.code === 'INTEGRITY')
    ) {
      console.error(`perpflow report: integrity check failed: ${(err as Error).message}`);
      return 3;
    }
    if (err instanceof PullError && err.code === 'VERSION') {
      console.error(`perpflow report: ${err.message}`);
      return USAGE_EXIT_CODE;
    }
    printS3Hint('report', err, config);
    return 1;
  }
}
