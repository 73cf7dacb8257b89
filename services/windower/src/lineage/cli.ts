/** `perpflow lineage`: which raw records decided one aligned bar (see trace.ts). */
import { readFileSync } from 'node:fs';
import { type AlignConfig, parseAlignConfig } from '@perpflow/align';
import { ArchiveObjectCorrupt, ArchiveObjectMissing, type ArchiveGet } from '@perpflow/archive';
import type { Timeframe } from '@perpflow/contracts';
import { DatasetMismatch, versionPrefix } from '@perpflow/dataset';
import { createS3Client, COMMAND_MAX_ATTEMPTS, S3ObjectStore } from '../adapters/s3.js';
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
import {
  checkRawThrough,
  describeBarWindow,
  describeRawThroughCheck,
  RAW_THROUGH_EXIT_CODE,
  rawThroughMark,
  readBarWindow,
} from './raw-through.js';
import { describeTrace, type TraceRequest, traceBar } from './trace.js';

const USAGE = `usage: perpflow lineage --exchange <id> --symbol <unified> --ts <ISO|ms> [--timeframe <tf>]
                        [--as-of <ISO|ms>] [--version <dv-id> | --align-config <file.json>]
                        [--prefix <S3 prefix>] [--json]
  Prints, per feed, the raw records of the archive (S3_PREFIX/raw/...) that decided the bar
  opening at --ts: every copy, the one the engine keeps, where each is in Kafka and on S3,
  and the dead letters of the bar's time. --as-of leaves out what was received after it.
  The align rules are those of the dataset version: --version, else the version the live
  tree is pinned to (its descriptor, versions/<id>/version.json); --align-config gives
  them from a file instead (JSON, the keys of packages/align's config); with neither a
  version nor a file, packages/align's defaults.
  It names the bar's window manifest (that version's tree, else the live tree), its dataset
  version and rawThrough, and checks every deciding record lies below rawThrough for its
  topic-partition (the aligner had applied it).
  Exit codes: 0 done, 1 S3 or other failure, ${USAGE_EXIT_CODE} bad usage, 3 an archive object or the
  window manifest is not what its index or the layout says (sha256, keys),
  ${RAW_THROUGH_EXIT_CODE} a deciding record is not below the window's rawThrough (the archive and the
  dataset disagree; printed as FINDING).`;

/** The align rules a trace applies, where they come from, and the tree whose window it reads. */
export interface LineageRules {
  align: AlignConfig;
  /** Printed on the first line: the version and its descriptor, the file, or the defaults. */
  source: string;
  version: string | null;
  /** The prefix whose aligned/v1 tree holds the bar's window (the live one, or the version's own). */
  tree: string;
}

/** What `perpflow lineage` prints and returns once its flags are read (tested without S3). */
export interface LineageOutput {
  lines: string[];
  json: unknown;
  exitCode: number;
}

/** Trace, window manifest, rawThrough check: the command's output and exit code. */
export async function lineageOf(
  get: ArchiveGet,
  prefix: string,
  request: TraceRequest,
  rules: LineageRules,
): Promise<LineageOutput> {
  const trace = await traceBar(get, prefix, request, rules.align);
  const window = await readBarWindow(get, rules.tree, request);
  const rawThroughCheck = checkRawThrough(trace.lineage, window);
  return {
    lines: [
      `rules: ${rules.source}`,
      describeBarWindow(window),
      ...describeTrace(trace, rawThroughMark(rawThroughCheck)),
      ...describeRawThroughCheck(rawThroughCheck, window),
    ],
    json: { ...trace, rules: { source: rules.source, version: rules.version }, window, rawThroughCheck },
    exitCode: rawThroughCheck.findings.length > 0 ? RAW_THROUGH_EXIT_CODE : 0,
  };
}

export async function runLineageCli(argv: string[]): Promise<number> {
  let request: TraceRequest;
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
    const store = new S3ObjectStore(
      createS3Client(config, { maxAttempts: COMMAND_MAX_ATTEMPTS }),
      config.S3_BUCKET,
    );
    const rules: LineageRules = alignFile
      ? { align: alignFile, source: 'the --align-config file', version: null, tree: prefix }
      : await versionRules(store, prefix, version, request.timeframe);
    const out = await lineageOf((key) => store.get(key), prefix, request, rules);
    if (json) console.log(JSON.stringify(out.json));
    else for (const line of out.lines) console.log(line);
    return out.exitCode;
  } catch (err) {
    printS3Hint('lineage', err, config);
    if (err instanceof ArchiveObjectCorrupt || err instanceof ArchiveObjectMissing) return 3;
    if (err instanceof DatasetMismatch) return 3;
    if (err instanceof RangeError) return USAGE_EXIT_CODE;
    return 1;
  }
}

/**
 * The align rules of a dataset version (named, else the live pin's), or the defaults when
 * there is none; its tree is the live one unless a named version is not the one pinned
 * there (then `versions/<id>/`, as `treeOfVersion` resolves it for pull, without listing).
 */
async function versionRules(
  store: S3ObjectStore,
  prefix: string,
  named: string | undefined,
  timeframe: Timeframe,
): Promise<LineageRules> {
  const pinned = (await readLivePin(store, prefix))?.version;
  const id = named ?? pinned;
  const tree = named === undefined || named === pinned ? prefix : versionPrefix(prefix, named);
  if (id === undefined)
    return {
      align: parseAlignConfig({}),
      source: 'packages/align defaults (no dataset version pinned)',
      version: null,
      tree,
    };
  const d = await readDescriptor(store, prefix, id);
  if (d === null) {
    if (named !== undefined)
      throw new RangeError(`--version ${id}: no descriptor at versions/${id}/version.json`);
    return {
      align: parseAlignConfig({}),
      source: `packages/align defaults (the live version ${id} has no descriptor on S3)`,
      version: id,
      tree,
    };
  }
  return {
    align: parseAlignConfig({ ...(d.align as Record<string, unknown>), timeframe }),
    source: `dataset version ${id}${named === undefined ? ' (the live tree)' : ''}: ${JSON.stringify(d.align)}`,
    version: id,
    tree,
  };
}
