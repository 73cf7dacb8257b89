/** What every `perpflow` command shares: the S3 prefix flag and the hint when S3 cannot be read. */
import { type ParseArgsOptionDescriptor, parseArgs } from 'node:util';
import { normalizePrefix } from '@perpflow/dataset';
import { loadPullConfig } from './config.js';

/** The flags every `perpflow` command reading S3 takes (node:util parseArgs options). */
export const COMMON_OPTIONS = {
  prefix: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

/** --prefix, else S3_PREFIX, checked by the layout; a bad one throws `makeError` naming its source. */
export function resolvePrefix(
  flag: string | undefined,
  configPrefix: string,
  makeError: (message: string) => Error = (m) => new Error(m),
): string {
  const prefix = flag ?? configPrefix;
  try {
    normalizePrefix(prefix);
  } catch {
    throw makeError(
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
