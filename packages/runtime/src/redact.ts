/**
 * Redaction by pattern, at any depth: values under secret-looking keys, and
 * credentials inside any string (URL userinfo, `Bearer …`). Used by the logger
 * for every line and by config errors for the value they show.
 */
export const REDACTED = '[redacted]';

/**
 * Key names whose values are secrets, compared without case, `-` or `_`
 * (`KAFKA_SASL_PASSWORD`, `secretAccessKey`, `Authorization`, `x-api-key`).
 */
const SECRET_KEY =
  /pass(word|wd|phrase)|secret|token|authorization|credential|apikey|accesskey|privatekey|cookie/;

export function isSecretKeyName(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[-_]/g, ''));
}

/** `scheme://user:pass@host` → `scheme://[redacted]@host`; `Bearer x` → `Bearer [redacted]`. */
export function redactString(s: string): string {
  return s
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, `$1${REDACTED}@`)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`);
}

/** A copy of `value` with every secret redacted; the input is not changed. */
export function redactDeep(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactDeep(v, seen));
    if (value instanceof Error) {
      // Keeps the prototype, so the logger's error serializer still sees an Error.
      const copy = Object.create(Object.getPrototypeOf(value)) as Error & Record<string, unknown>;
      copy.message = redactString(value.message);
      if (value.stack !== undefined) copy.stack = redactString(value.stack);
      if (value.cause !== undefined) copy.cause = redactDeep(value.cause, seen);
      for (const [k, v] of Object.entries(value))
        copy[k] = isSecretKeyName(k) ? REDACTED : redactDeep(v, seen);
      return copy;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return redactDeep(toJSON.call(value), seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretKeyName(k) ? REDACTED : redactDeep(v, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}
