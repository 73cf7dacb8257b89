import { readFileSync } from 'node:fs';
import { ConfigError } from '@perpflow/contracts';
import { z } from 'zod';
import { isSecretKeyName, redactString } from './redact.js';

/**
 * Config is parsed from an env-like record by ONE zod schema per service, at
 * start-up, by a function call (never at import time). The schema's keys ARE
 * the environment variable names, so errors and docs name exactly what to set.
 *
 * Secrets may come from a file: `<KEY>_FILE=/run/secrets/x` sets `<KEY>` to the
 * file's trimmed content (the Docker/Kubernetes secrets convention). An empty
 * value counts as unset; a value and a `_FILE` for the same key is an error.
 */
export interface ParseConfigOptions {
  /**
   * Prefixes of this service's own keys (`ALIGNER_`): a variable with one of them
   * that is no known key stops start-up, naming the nearest known key.
   */
  prefixes?: readonly string[];
}

/**
 * Keys shared by several services (or read by the local stack's scripts): a
 * service accepts them in its environment whether or not its schema has them.
 * packages/kafka and packages/s3 test that their shapes are listed here.
 */
export const SHARED_CONFIG_KEYS: readonly string[] = [
  'KAFKA_BROKERS',
  'KAFKA_CLIENT_ID',
  'KAFKA_SSL',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_TOPIC_PREFIX',
  'S3_ENDPOINT',
  'S3_REGION',
  'S3_BUCKET',
  'S3_PREFIX',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
  'S3_FORCE_PATH_STYLE',
  'REDIS_URL',
  'METRICS_HOST',
  'METRICS_PORT',
  'LOG_LEVEL',
  // infra/local/stack.env (the local servers' own settings, exported by the test harness)
  'KAFKA_PORT',
  'KAFKA_CONTROLLER_PORT',
  'KAFKA_HEAP',
  'KAFKA_PARTITIONS',
  'REDIS_PORT',
  'REDIS_APPENDFSYNC',
  'S3_PORT',
  'SIM_METRICS_PORT',
  'INGEST_METRICS_PORT',
  'ALIGNER_METRICS_PORT',
  'WINDOWER_METRICS_PORT',
  'MONITOR_METRICS_PORT',
  'ARCHIVER_METRICS_PORT',
];

/**
 * Prefixes of the shared keys. Platforms put variables of their own under them
 * (Kubernetes service links: `KAFKA_SERVICE_HOST`, `REDIS_PORT_6379_TCP`), so an
 * unknown one is refused only when it is a near miss of a known key (a typo).
 */
const SHARED_PREFIXES = ['KAFKA_', 'S3_', 'REDIS_', 'METRICS_', 'LOG_'];
const SHARED_TYPO_DISTANCE = 2;

export function parseConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
  options: ParseConfigOptions = {},
): z.infer<S> {
  const schemaKeys = Object.keys(schema.shape);
  checkUnknownKeys(schemaKeys, env, options.prefixes ?? []);
  const resolved: Record<string, string | undefined> = {};
  for (const key of schemaKeys) {
    const fileKey = `${key}_FILE`;
    const value = env[key] === '' ? undefined : env[key];
    const file = env[fileKey] === '' ? undefined : env[fileKey];
    if (value !== undefined && file !== undefined)
      throw new ConfigError(key, `${key} and ${fileKey} are both set: set one of them`);
    if (file !== undefined) {
      try {
        resolved[key] = readFileSync(file, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(fileKey, `cannot read secret file ${file}: ${(err as Error).message}`);
      }
    } else {
      resolved[key] = value;
    }
  }
  const res = schema.safeParse(resolved);
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const key = issue.path.map(String).join('.') || '(config)';
  const raw = resolved[String(issue.path[0])];
  const shown =
    raw === undefined ? 'unset' : isSecretKey(key) ? '[redacted]' : JSON.stringify(redactString(raw));
  throw new ConfigError(key, `${issue.message} (got ${shown})`);
}

function checkUnknownKeys(
  schemaKeys: readonly string[],
  env: Record<string, string | undefined>,
  prefixes: readonly string[],
): void {
  const known = new Set<string>();
  for (const k of [...schemaKeys, ...SHARED_CONFIG_KEYS]) known.add(k).add(`${k}_FILE`);
  for (const key of Object.keys(env).sort()) {
    if (known.has(key) || env[key] === undefined) continue;
    const own = prefixes.some((p) => key.startsWith(p));
    const shared = SHARED_PREFIXES.some((p) => key.startsWith(p));
    if (!own && !shared) continue;
    const nearest = nearestKey(key, known);
    if (own || (nearest && nearest.distance <= SHARED_TYPO_DISTANCE))
      throw new ConfigError(
        key,
        `unknown configuration key ${key}${nearest ? ` (did you mean ${nearest.key}?)` : ''}`,
      );
  }
}

function nearestKey(key: string, known: Iterable<string>): { key: string; distance: number } | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const k of known) {
    const d = editDistance(key, k);
    if (!best || d < best.distance || (d === best.distance && k < best.key)) best = { key: k, distance: d };
  }
  return best;
}

/** Levenshtein distance (insert, delete, substitute one character). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

export function isSecretKey(key: string): boolean {
  return isSecretKeyName(key);
}

const INTEGER = /^[+-]?[0-9]+$/;
const DECIMAL = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

/** A whole number written in decimal digits: no blanks, hex, exponents or fractions. */
function integerText(def: number, min: number, max: number) {
  return z
    .string()
    .regex(INTEGER, 'must be a decimal integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .meta({ type: 'integer' })
    .prefault(String(def));
}

/** Helpers for env-typed fields: every env value is a string. */
export const env = {
  int: (def: number, opts: { min?: number; max?: number } = {}) =>
    integerText(def, opts.min ?? Number.MIN_SAFE_INTEGER, opts.max ?? Number.MAX_SAFE_INTEGER),
  /** A decimal number (`0.8`, `1e-9`); no blanks, hex, Infinity or NaN. */
  number: (def: number, opts: { min?: number; max?: number; gt?: number } = {}) => {
    let n = z
      .number()
      .min(opts.min ?? -Number.MAX_VALUE)
      .max(opts.max ?? Number.MAX_VALUE);
    if (opts.gt !== undefined) n = n.gt(opts.gt);
    return z
      .string()
      .regex(DECIMAL, 'must be a decimal number')
      .transform(Number)
      .pipe(n)
      .meta({ type: 'number' })
      .prefault(String(def));
  },
  port: (def: number) => integerText(def, 0, 65_535),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /** Comma-separated list; empty entries removed. */
  list: (def: string[] = []) =>
    z
      .string()
      .default(def.join(','))
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      ),
  url: (def?: string) => (def === undefined ? z.url() : z.url().default(def)),
};

export interface ConfigKeyDoc {
  key: string;
  type: string;
  default: string;
  description: string;
}

/** The rows of a configuration reference, generated from the schema (for the README). */
export function describeConfig(schema: z.ZodObject): ConfigKeyDoc[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, { type?: string; enum?: unknown[]; default?: unknown; description?: string }>;
    required?: string[];
  };
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([key, p]) => ({
    key,
    type: p.enum ? p.enum.map(String).join(' \\| ') : (p.type ?? 'string'),
    default:
      p.default !== undefined
        ? isSecretKey(key)
          ? '(secret)'
          : String(p.default)
        : required.has(key)
          ? '(required)'
          : '(unset)',
    description: p.description ?? '',
  }));
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/** `LOG_LEVEL`: pino's level names. Services default to `info`; a CLI may be quieter. */
export function logLevelKey(def: (typeof LOG_LEVELS)[number] = 'info') {
  return z.enum(LOG_LEVELS).default(def);
}

/**
 * The keys `runService` reads, for a service's schema to spread: where its /metrics,
 * /healthz and /readyz are served (each service has its own default port, so the local
 * stack runs them side by side) and its log level.
 */
export function serviceKeys(options: { metricsPort: number }) {
  return {
    METRICS_HOST: z.string().default('127.0.0.1').describe('bind address of /metrics, /healthz, /readyz'),
    METRICS_PORT: env.port(options.metricsPort).describe('port of /metrics, /healthz, /readyz'),
    LOG_LEVEL: logLevelKey(),
  };
}

/** The local stack's Redis (infra/local/stack.env REDIS_PORT). */
export const REDIS_URL_DEFAULT = 'redis://127.0.0.1:36379';

/** `REDIS_URL`, described by what the service keeps there. */
export function redisUrlKey(description: string) {
  return z.string().default(REDIS_URL_DEFAULT).describe(description);
}
