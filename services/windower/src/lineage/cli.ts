/** `perpflow lineage`: which raw records decided one aligned bar (see trace.ts). */
import { readFileSync } from 'node:fs';
import { type AlignConfig, parseAlignConfig } from '@perpflow/align';
import { ArchiveObjectCorrupt, ArchiveObjectMissing } from '@perpflow/archive';
import type { Timeframe } from '@perpflow/contracts';
import { createS3Client, S3ObjectStore } from '../adapters/s3.js';
import {
  checkExchanges,
  checkSymbols,
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
import { readDescriptor, readLivePin } from '../datasets/list.js';
import type { loadPullConfig } from '../config.js';
import { describeTrace, traceBar } from './trace.js';

const USAGE = `usage: perpflow lineage --exchange <id> --symbol <unified> --ts <ISO|ms> [--timeframe <tf>]
                        [--as-of <ISO|ms>] [--version <dv-id> | --align-config <file.json>]
                        [--prefix <S3 prefix>] [--json]
  Prints, per feed, the raw records of the archive (S3_PREFIX/raw/...) that decided the bar
  opening at --ts: every copy, the one the engine keeps, where each is in Kafka and on S3,
  and the dead letters of the bar's time. --as-of leaves out what was received after it.
  The align rules are those of the dataset version: --version, else the version the live
  tree is pinned to (its descriptor, versions/<id>/version.json); --align-config gives
  them from a file instead (JSON, the keys of packages/align's config); with neither a
  version nor a file, packages/align's defaults.`;

export async function runLineageCli(argv: string[]): Promise<number> {
  let request: Parameters<typeof traceBar>[2];
  let alignFile: AlignConfig | null = null;
  let version: string | undefined;
  let prefix: string;
  let json = false;
  let config: ReturnType<typeof loadPullConfig>;
  try {
    const parsed = readCommand(
      argv,
      {
        ...SERIES_OPTIONS,
        ...VERSION_OPTION,
        ts: { type: 'string' },
        'as-of': { type: 'string' },
        'align-config': { type: 'string' },
      },
      USAGE,
    );
    if (!parsed) return 0;
    const { values } = parsed;
    config = parsed.config;
    json = values.json;
    const [exchange] = checkExchanges([values.exchange ?? '']) as [string];
    const [symbol] = checkSymbols([values.symbol ?? '']) as [string];
    const timeframe = parseTimeframeFlag(values.timeframe);
    if (values.ts === undefined) throw new UsageError('--ts is required (the bar open time)');
    const tsMs = parseTimeFlag('ts', values.ts);
    const asOfMs = values['as-of'] === undefined ? undefined : parseTimeFlag('as-of', values['as-of']);
    request = { exchange, symbol, timeframe, tsMs, ...(asOfMs === undefined ? {} : { asOfMs }) };
    const file = values['align-config'];
    version = parseVersionFlag(values.version);
    if (file !== undefined && version !== undefined)
      throw new UsageError('--version and --align-config both name the rules: give one');
    if (file !== undefined) {
      let alignInput: unknown;
      try {
        alignInput = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new UsageError(`--align-config ${file}: ${(err as Error).message}`);
      }
      alignFile = parseAlignConfig(alignInput);
    }
    prefix = resolvePrefix(values.prefix, config.S3_PREFIX);
  } catch (err) {
    console.error(`perpflow lineage: ${(err as Error).message}\n${USAGE}`);
    return USAGE_EXIT_CODE;
  }
  try {
    const store = new S3ObjectStore(createS3Client(config), config.S3_BUCKET);
    const rules = alignFile
      ? { align: alignFile, source: 'the --align-config file', version: null }
      : await versionRules(store, prefix, version, request.timeframe);
    const trace = await traceBar((key) => store.get(key), prefix, request, rules.align);
    if (json)
      console.log(JSON.stringify({ ...trace, rules: { source: rules.source, version: rules.version } }));
    else for (const line of [`rules: ${rules.source}`, ...describeTrace(trace)]) console.log(line);
    return 0;
  } catch (err) {
    printS3Hint('lineage', err, config);
    if (err instanceof ArchiveObjectCorrupt || err instanceof ArchiveObjectMissing) return 3;
    if (err instanceof RangeError) return USAGE_EXIT_CODE;
    return 1;
  }
}

/** The align rules of a dataset version (named, else the live pin's), or the defaults when there is none. */
async function versionRules(
  store: S3ObjectStore,
  prefix: string,
  named: string | undefined,
  timeframe: Timeframe,
): Promise<{ align: AlignConfig; source: string; version: string | null }> {
  const id = named ?? (await readLivePin(store, prefix))?.version;
  if (id === undefined)
    return {
      align: parseAlignConfig({}),
      source: 'packages/align defaults (no dataset version pinned)',
      version: null,
    };
  const d = await readDescriptor(store, prefix, id);
  if (d === null) {
    if (named !== undefined)
      throw new RangeError(`--version ${id}: no descriptor at versions/${id}/version.json`);
    return {
      align: parseAlignConfig({}),
      source: `packages/align defaults (the live version ${id} has no descriptor on S3)`,
      version: id,
    };
  }
  return {
    align: parseAlignConfig({ ...(d.align as Record<string, unknown>), timeframe }),
    source: `dataset version ${id}${named === undefined ? ' (the live tree)' : ''}: ${JSON.stringify(d.align)}`,
    version: id,
  };
}
