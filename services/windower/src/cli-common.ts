/**
 * What every `perpflow` command shares: the S3 prefix flag, the series and version
 * flags and their checks, usage errors, and the hint when S3 cannot be read.
 */
import { type ParseArgsOptionDescriptor, parseArgs } from 'node:util';
import { EXCHANGES, type ExchangeId, SymbolSchema, TIMEFRAMES, type Timeframe } from '@perpflow/contracts';
import { encodeSymbol, normalizePrefix, VERSION_ID } from '@perpflow/dataset';
import { parseTimeText } from '@perpflow/runtime';
import { loadPullConfig } from './config.js';

/** Exit code of every flag error. */
export const USAGE_EXIT_CODE = 2;

/** A flag or setting a command cannot run with: printed with the usage, exit USAGE_EXIT_CODE. */
export class UsageError extends Error {}

/** The flags naming series, as pull, lineage and report take them. */
export const SERIES_OPTIONS = {
  exchange: { type: 'string' },
  symbol: { type: 'string' },
  timeframe: { type: 'string', default: '1m' },
} as const;

/** The flag naming a dataset version. */
export const VERSION_OPTION = { version: { type: 'string' } } as const;

/** A time flag (packages/runtime time-flag.ts); a bad one is a usage error. */
export function parseTimeFlag(flag: string, v: string): number {
  return parseTimeText(flag, v, (m) => new UsageError(m));
}

/** --version: undefined when absent, else a dataset version id. */
export function parseVersionFlag(v: string | undefined): string | undefined {
  if (v !== undefined && !VERSION_ID.test(v))
    throw new UsageError(`--version ${v}: a dataset version is dv- and 16 lower-case hex digits`);
  return v;
}

/** --timeframe: one of TIMEFRAMES. */
export function parseTimeframeFlag(v: string | undefined): Timeframe {
  if (!(TIMEFRAMES as readonly string[]).includes(v ?? ''))
    throw new UsageError(`--timeframe ${v ?? '(missing)'}: one of ${TIMEFRAMES.join(', ')}`);
  return v as Timeframe;
}

/** A comma-separated flag's items; none (absent or empty) is null. */
export function listFlag(v: string | undefined): string[] | null {
  const items = (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return items.length === 0 ? null : items;
}

/** --exchange items: each a known exchange id. */
export function checkExchanges(items: readonly string[]): ExchangeId[] {
  for (const e of items)
    if (!(EXCHANGES as readonly string[]).includes(e))
      throw new UsageError(`--exchange ${e || '(missing)'}: one of ${EXCHANGES.join(', ')}`);
  return items as ExchangeId[];
}

/** --symbol items: each a unified symbol the dataset layout can hold. */
export function checkSymbols(items: readonly string[]): string[] {
  for (const s of items) {
    const problem = SymbolSchema.safeParse(s).error?.issues[0]?.message;
    if (problem) throw new UsageError(`--symbol ${s || '(missing)'}: ${problem}`);
    try {
      encodeSymbol(s);
    } catch (err) {
      throw new UsageError(`--symbol ${s}: ${(err as Error).message}`);
    }
  }
  return [...items];
}

/** --from and --to, both required, from before to (to exclusive). */
export function parseRangeFlags(
  from: string | undefined,
  to: string | undefined,
): { fromMs: number; toMs: number } {
  if (from === undefined || to === undefined) throw new UsageError('--from and --to are required');
  const fromMs = parseTimeFlag('from', from);
  const toMs = parseTimeFlag('to', to);
  if (fromMs >= toMs) throw new UsageError('--from must be before --to (--to is exclusive)');
  return { fromMs, toMs };
}

/** The flags every `perpflow` command reading S3 takes (node:util parseArgs options). */
export const COMMON_OPTIONS = {
  prefix: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

/** --prefix, else S3_PREFIX, checked by the layout; a bad one is a usage error naming its source. */
export function resolvePrefix(flag: string | undefined, configPrefix: string): string {
  const prefix = flag ?? configPrefix;
  try {
    normalizePrefix(prefix);
  } catch {
    throw new UsageError(
      `${flag === undefined ? 'S3_PREFIX' : '--prefix'} ${prefix}: segments of [a-z0-9._-] separated by /, none empty, . or ..`,
    );
  }
  return prefix;
}

/** After the command's own message: what to check when S3 did not answer. */
export function printS3Hint(
  command: string,
  err: unknown,
  config: { S3_BUCKET: string; S3_ENDPOINT: string },
): void {
  const e = err as Error & { code?: string };
  console.error(`perpflow ${command}: ${e.message}`);
  if (e.code === 'SINK_UNAVAILABLE')
    console.error(
      `Cannot read s3://${config.S3_BUCKET} at ${config.S3_ENDPOINT || 'AWS'}: check S3_ENDPOINT and the ` +
        'credentials; for the local stack: npm run stack -- status',
    );
}

/**
 * A command's flags (its own and COMMON_OPTIONS, strict) and the S3 settings; null when
 * --help printed `usage`. A bad flag or setting throws, for the command's usage error.
 */
export function readCommand<const O extends Record<string, ParseArgsOptionDescriptor>>(
  argv: string[],
  options: O,
  usage: string,
) {
  const { values } = parseArgs({ args: argv, options: { ...options, ...COMMON_OPTIONS }, strict: true });
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    return null;
  }
  return { values, config: loadPullConfig() };
}
