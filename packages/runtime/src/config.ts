import { readFileSync } from 'node:fs';
import { ConfigError } from '@perpflow/contracts';
import { z } from 'zod';

/**
 * Config is parsed from an env-like record by ONE zod schema per service, at
 * start-up, by a function call (never at import time). The schema's keys ARE
 * the environment variable names, so errors and docs name exactly what to set.
 *
 * Secrets may come from a file: `<KEY>_FILE=/run/secrets/x` sets `<KEY>` to the
 * file's trimmed content (the Docker/Kubernetes secrets convention).
 */
export function parseConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const resolved: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const fileKey = `${key}_FILE`;
    if (env[key] === undefined && env[fileKey] !== undefined) {
      try {
        resolved[key] = readFileSync(env[fileKey] as string, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(fileKey, `cannot read secret file ${env[fileKey]}: ${(err as Error).message}`);
      }
    } else {
      resolved[key] = env[key] === '' ? undefined : env[key];
    }
  }
  const res = schema.safeParse(resolved);
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const key = issue.path.map(String).join('.') || '(config)';
  const raw = resolved[String(issue.path[0])];
  const shown = raw === undefined ? 'unset' : isSecretKey(key) ? '[redacted]' : JSON.stringify(raw);
  throw new ConfigError(key, `${issue.message} (got ${shown})`);
}

export function isSecretKey(key: string): boolean {
  return /SECRET|PASSWORD|TOKEN|API_KEY|ACCESS_KEY/i.test(key);
}

/** Helpers for env-typed fields: every env value is a string. */
export const env = {
  int: (def: number, opts: { min?: number; max?: number } = {}) =>
    z.coerce
      .number()
      .int()
      .min(opts.min ?? Number.MIN_SAFE_INTEGER)
      .max(opts.max ?? Number.MAX_SAFE_INTEGER)
      .default(def),
  port: (def: number) => z.coerce.number().int().min(0).max(65_535).default(def),
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
