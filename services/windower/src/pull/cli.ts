/**
 * perpflow pull --exchange binanceusdm --symbol BTC/USDT:USDT --timeframe 1m \
 *   --from 2024-03-01 --to 2024-03-02 --out ./data [--as-of 2024-03-02T00:05:00Z] [--merge]
 *
 * Reads the dataset's series index and manifests on S3 (S3_* variables, as the
 * windower), downloads the Parquet objects, verifies each sha256, reports gaps.
 * Exit codes: 0 done (gaps are reported, not fatal), 2 bad usage, 3 integrity
 * failure, 1 anything else (S3 unreachable...).
 */
import { parseArgs } from 'node:util';
import { EXCHANGES, type ExchangeId, TIMEFRAMES, type Timeframe } from '@perpflow/contracts';
import { createS3Client, S3ObjectStore } from '../adapters/s3.js';
import { loadPullConfig } from '../config.js';
import { describeReport, PullError, type PullProgress, pullDataset } from './pull.js';

const USAGE = `usage: perpflow pull --exchange <id>[,<id>] --symbol <unified>[,<unified>] --timeframe <tf>
                     --from <date|ISO|ms> --to <date|ISO|ms> --out <dir> [--as-of <ISO|ms>] [--merge]
                     [--prefix <S3 prefix>] [--skip-compacted] [--json]
  --from is inclusive, --to exclusive (bar open times, UTC). Closed months are read from their
  compacted object when it matches the index (--skip-compacted: always the day objects).
  S3 connection: S3_ENDPOINT, S3_BUCKET, S3_PREFIX, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY
  (see README, Configuration).`;

class UsageError extends Error {}

function parseTime(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (!Number.isSafeInteger(ms))
    throw new UsageError(
      `--${flag} ${v}: not a date (YYYY-MM-DD), an ISO time (2024-03-01T12:00:00Z) or epoch ms`,
    );
  return ms;
}

function list(flag: string, v: string | undefined): string[] {
  const items = (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${flag} is required`);
  return items;
}

function progressReporter(stream: NodeJS.WriteStream): (p: PullProgress) => void {
  if (stream.isTTY) {
    return (p) => {
      const width = 30;
      const filled = p.windowsTotal === 0 ? width : Math.round((p.windowsDone / p.windowsTotal) * width);
      stream.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.windowsDone}/${p.windowsTotal} windows, ` +
          `${(p.bytesDownloaded / 1_048_576).toFixed(1)} MiB`,
      );
      if (p.windowsDone === p.windowsTotal) stream.write('\n');
    };
  }
  return (p) =>
    stream.write(`pull: ${p.windowsDone}/${p.windowsTotal} windows, ${p.bytesDownloaded} bytes, ${p.key}\n`);
}

export async function runPullCli(argv: string[]): Promise<number> {
  let opts: Parameters<typeof pullDataset>[1];
  let json = false;
  let config: ReturnType<typeof loadPullConfig>;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        exchange: { type: 'string' },
        symbol: { type: 'string' },
        timeframe: { type: 'string', default: '1m' },
        from: { type: 'string' },
        to: { type: 'string' },
        out: { type: 'string' },
        'as-of': { type: 'string' },
        merge: { type: 'boolean', default: false },
        'skip-compacted': { type: 'boolean', default: false },
        prefix: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    json = values.json;
    config = loadPullConfig();
    const exchanges = list('exchange', values.exchange);
    for (const e of exchanges)
      if (!(EXCHANGES as readonly string[]).includes(e))
        throw new UsageError(`--exchange ${e}: unknown; one of ${EXCHANGES.join(', ')}`);
    const timeframe = values.timeframe as Timeframe;
    if (!(TIMEFRAMES as readonly string[]).includes(timeframe))
      throw new UsageError(`--timeframe ${values.timeframe}: one of ${TIMEFRAMES.join(', ')}`);
    const fromMs = parseTime('from', values.from);
    const toMs = parseTime('to', values.to);
    if (fromMs === undefined || toMs === undefined) throw new UsageError('--from and --to are required');
    if (fromMs >= toMs) throw new UsageError('--from must be before --to (--to is exclusive)');
    if (!values.out) throw new UsageError('--out <dir> is required');
    const asOfMs = parseTime('as-of', values['as-of']);
    opts = {
      exchanges: exchanges as ExchangeId[],
      symbols: list('symbol', values.symbol),
      timeframe,
      fromMs,
      toMs,
      ...(asOfMs === undefined ? {} : { asOfMs }),
      outDir: values.out,
      merge: values.merge,
      useCompacted: !values['skip-compacted'],
      prefix: values.prefix ?? config.S3_PREFIX,
      onProgress: progressReporter(process.stderr),
    };
  } catch (err) {
    console.error(`perpflow pull: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const store = new S3ObjectStore(createS3Client(config), config.S3_BUCKET);
    const report = await pullDataset(store, opts);
    if (json) console.log(JSON.stringify(report));
    else for (const line of describeReport(report)) console.log(line);
    return 0;
  } catch (err) {
    if (err instanceof PullError && err.code === 'INTEGRITY') {
      console.error(`perpflow pull: integrity check failed: ${err.message}`);
      return 3;
    }
    const e = err as Error & { code?: string };
    console.error(`perpflow pull: ${e.message}`);
    if (e.code === 'SINK_UNAVAILABLE')
      console.error(
        `Cannot read s3://${config.S3_BUCKET} at ${config.S3_ENDPOINT || 'AWS'}: check S3_ENDPOINT and the ` +
          'credentials; for the local stack: npm run stack -- status',
      );
    return 1;
  }
}
