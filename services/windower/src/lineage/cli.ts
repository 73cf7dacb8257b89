/** `perpflow lineage`: which raw records decided one aligned bar (see trace.ts). */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type AlignConfig, parseAlignConfig } from '@perpflow/align';
import { ArchiveObjectCorrupt, ArchiveObjectMissing } from '@perpflow/archive';
import { EXCHANGES, SymbolSchema, TIMEFRAMES, type Timeframe } from '@perpflow/contracts';
import { createS3Client, S3ObjectStore } from '../adapters/s3.js';
import { printS3Hint, resolvePrefix } from '../cli-common.js';
import { loadPullConfig } from '../config.js';
import { parseTimeFlag, USAGE_EXIT_CODE } from '../pull/cli.js';
import { describeTrace, traceBar } from './trace.js';

const USAGE = `usage: perpflow lineage --exchange <id> --symbol <unified> --ts <ISO|ms> [--timeframe <tf>]
                        [--as-of <ISO|ms>] [--align-config <file.json>] [--prefix <S3 prefix>] [--json]
  Prints, per feed, the raw records of the archive (S3_PREFIX/raw/...) that decided the bar
  opening at --ts: every copy, the one the engine keeps, where each is in Kafka and on S3,
  and the dead letters of the bar's time. --as-of leaves out what was received after it.
  --align-config: the align settings the bar was built with (JSON, the keys of
  packages/align's config; default: its defaults).`;

export async function runLineageCli(argv: string[]): Promise<number> {
  let request: Parameters<typeof traceBar>[2];
  let align: AlignConfig;
  let prefix: string;
  let json = false;
  let config: ReturnType<typeof loadPullConfig>;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        exchange: { type: 'string' },
        symbol: { type: 'string' },
        ts: { type: 'string' },
        timeframe: { type: 'string', default: '1m' },
        'as-of': { type: 'string' },
        'align-config': { type: 'string' },
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
    const exchange = values.exchange ?? '';
    if (!(EXCHANGES as readonly string[]).includes(exchange))
      throw new Error(`--exchange ${exchange || '(missing)'}: one of ${EXCHANGES.join(', ')}`);
    const symbol = values.symbol ?? '';
    const bad = SymbolSchema.safeParse(symbol).error?.issues[0]?.message;
    if (bad) throw new Error(`--symbol ${symbol || '(missing)'}: ${bad}`);
    const timeframe = values.timeframe as Timeframe;
    if (!(TIMEFRAMES as readonly string[]).includes(timeframe))
      throw new Error(`--timeframe ${values.timeframe}: one of ${TIMEFRAMES.join(', ')}`);
    if (values.ts === undefined) throw new Error('--ts is required (the bar open time)');
    const tsMs = parseTimeFlag('ts', values.ts);
    const asOfMs = values['as-of'] === undefined ? undefined : parseTimeFlag('as-of', values['as-of']);
    request = { exchange, symbol, timeframe, tsMs, ...(asOfMs === undefined ? {} : { asOfMs }) };
    const file = values['align-config'];
    let alignInput: unknown = {};
    if (file !== undefined) {
      try {
        alignInput = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new Error(`--align-config ${file}: ${(err as Error).message}`);
      }
    }
    align = parseAlignConfig(alignInput);
    prefix = resolvePrefix(values.prefix, config.S3_PREFIX);
  } catch (err) {
    console.error(`perpflow lineage: ${(err as Error).message}\n${USAGE}`);
    return USAGE_EXIT_CODE;
  }
  try {
    const store = new S3ObjectStore(createS3Client(config), config.S3_BUCKET);
    const trace = await traceBar((key) => store.get(key), prefix, request, align);
    if (json) console.log(JSON.stringify(trace));
    else for (const line of describeTrace(trace)) console.log(line);
    return 0;
  } catch (err) {
    printS3Hint('lineage', err, config);
    if (err instanceof ArchiveObjectCorrupt || err instanceof ArchiveObjectMissing) return 3;
    if (err instanceof RangeError) return USAGE_EXIT_CODE;
    return 1;
  }
}
