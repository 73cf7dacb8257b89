/**
 * perpflow pull --exchange binanceusdm --symbol BTC/USDT:USDT --timeframe 1m \
 *   --from 2024-03-01 --to 2024-03-02 --out ./data [--as-of 2024-03-02T00:05:00Z] [--merge]
 *
 * Reads the dataset's series index and manifests on S3 (S3_* variables, as the
 * windower), downloads the Parquet objects, verifies each sha256, reports gaps.
 * Exit codes: 0 done (gaps are reported, not fatal), 2 bad usage (every flag error),
 * 3 integrity failure (sha256, or keys/rows not what the layout says: DatasetMismatch),
 * 1 anything else (S3 unreachable...).
 */
import { checkPullRequest, DatasetMismatch } from '@perpflow/dataset';
import { Progress } from '@perpflow/runtime';
import { createS3Client, COMMAND_MAX_ATTEMPTS, S3ObjectStore } from '../adapters/s3.js';
import {
  checkExchanges,
  checkSymbols,
  listFlag,
  parseRangeFlags,
  parseTimeFlag,
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
import { treeOfVersion } from '../datasets/list.js';
import type { loadPullConfig } from '../config.js';
import { describeReport, PULL_CONCURRENCY, PullError, type PullProgress, pullDataset } from './pull.js';

const USAGE = `usage: perpflow pull --exchange <id>[,<id>] --symbol <unified>[,<unified>] --timeframe <tf>
                     --from <date|ISO|ms> --to <date|ISO|ms> --out <dir> [--as-of <ISO|ms>] [--merge]
                     [--prefix <S3 prefix>] [--version <dv-id>] [--skip-compacted] [--concurrency <n>] [--json]
  --from is inclusive, --to exclusive (bar open times, UTC), both within [2010-01-01, 2100-01-01).
  Times: YYYY-MM-DD (00:00 UTC), YYYY-MM-DDTHH:MM[:SS[.mmm]] with Z or ±HH:MM, or epoch ms.
  --version: the dataset version to read (perpflow datasets lists them); default: the live
  tree, whichever version it holds. Closed months are read from their
  compacted object when it matches the index (--skip-compacted: always the day objects).
  --concurrency: objects read from S3 at once (1-64, default 8); files are written in order.
  S3 connection: S3_ENDPOINT, S3_BUCKET, S3_PREFIX, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY
  (see docs/CONFIGURATION.md).`;

function required(flag: string, v: string | undefined): string[] {
  const items = listFlag(v);
  if (!items) throw new UsageError(`--${flag} is required`);
  return items;
}

/**
 * Windows done with rate and ETA (packages/runtime Progress): redrawn in place on a
 * terminal, a plain line every 5 s and at the end otherwise. Exported for tests.
 */
export function progressReporter(
  write: (text: string) => void,
  tty: boolean,
  now?: () => number,
): (p: PullProgress) => void {
  const progress = new Progress({ unit: 'windows', label: 'pull', tty, write, ...(now ? { now } : {}) });
  return (p) =>
    progress.update(
      p.windowsDone,
      p.windowsTotal,
      `${(p.bytesDownloaded / 1_048_576).toFixed(1)} MiB`,
      p.windowsDone === p.windowsTotal,
    );
}

export async function runPullCli(argv: string[]): Promise<number> {
  let opts: Parameters<typeof pullDataset>[1];
  let json = false;
  let version: string | undefined;
  let config: ReturnType<typeof loadPullConfig>;
  try {
    const parsed = readCommand(
      argv,
      {
        ...SERIES_OPTIONS,
        ...VERSION_OPTION,
        from: { type: 'string' },
        to: { type: 'string' },
        out: { type: 'string' },
        'as-of': { type: 'string' },
        merge: { type: 'boolean', default: false },
        'skip-compacted': { type: 'boolean', default: false },
        concurrency: { type: 'string' },
      },
      USAGE,
    );
    if (!parsed) return 0;
    const { values } = parsed;
    config = parsed.config;
    json = values.json;
    version = parseVersionFlag(values.version);
    const exchanges = checkExchanges(required('exchange', values.exchange));
    const timeframe = parseTimeframeFlag(values.timeframe);
    const symbols = checkSymbols(required('symbol', values.symbol));
    const { fromMs, toMs } = parseRangeFlags(values.from, values.to);
    if (!values.out) throw new UsageError('--out <dir> is required');
    const asOfMs = values['as-of'] === undefined ? undefined : parseTimeFlag('as-of', values['as-of']);
    const prefix = resolvePrefix(values.prefix, config.S3_PREFIX);
    const concurrency = Number(values.concurrency ?? PULL_CONCURRENCY);
    if (!/^\d+$/.test(String(values.concurrency ?? PULL_CONCURRENCY)) || concurrency < 1 || concurrency > 64)
      throw new UsageError(`--concurrency must be a whole number from 1 to 64, got '${values.concurrency}'`);
    opts = {
      exchanges,
      symbols,
      timeframe,
      fromMs,
      toMs,
      ...(asOfMs === undefined ? {} : { asOfMs }),
      outDir: values.out,
      merge: values.merge,
      useCompacted: !values['skip-compacted'],
      concurrency,
      prefix,
      onProgress: progressReporter((t) => process.stderr.write(t), process.stderr.isTTY === true),
    };
    try {
      checkPullRequest(opts);
    } catch (err) {
      throw new UsageError(`--from ${values.from} --to ${values.to}: ${(err as Error).message}`);
    }
  } catch (err) {
    console.error(`perpflow pull: ${(err as Error).message}\n${USAGE}`);
    return USAGE_EXIT_CODE;
  }
  try {
    const store = new S3ObjectStore(
      createS3Client(config, { maxAttempts: COMMAND_MAX_ATTEMPTS }),
      config.S3_BUCKET,
    );
    if (version !== undefined) opts = { ...opts, prefix: await treeOfVersion(store, opts.prefix, version) };
    const report = await pullDataset(store, opts);
    if (json) console.log(JSON.stringify(report));
    else for (const line of describeReport(report)) console.log(line);
    return 0;
  } catch (err) {
    if (err instanceof PullError && err.code === 'INTEGRITY') {
      console.error(`perpflow pull: integrity check failed: ${err.message}`);
      return 3;
    }
    if (err instanceof DatasetMismatch) {
      console.error(
        `perpflow pull: integrity check failed: ${err.message}. The dataset under the prefix is not what ` +
          'the windower writes (tampered, or another dataset copied in); the pull stopped without returning its rows',
      );
      return 3;
    }
    printS3Hint('pull', err, config);
    return 1;
  }
}
