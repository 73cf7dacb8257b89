import type { z } from 'zod';
import { type ContractIssue, ContractViolation } from './errors.js';
import { parseRecordFast } from './record-fast-path.js';
import { RECORD_SCHEMAS, type RecordKind, type RecordOf } from './schemas.js';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ContractViolation };

/** The largest raw record we accept; larger payloads are dead-lettered, never parsed. */
export const MAX_RECORD_BYTES = 64 * 1024;

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

export function renderValue(v: unknown): string {
  if (v === undefined) return 'undefined (missing)';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string')
    return v.length > 76 ? `${JSON.stringify(v.slice(0, 76))}... (${v.length} chars)` : JSON.stringify(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch (err) {
    // A value nested too deep to stringify (String() of it recurses as deep): name it, never throw.
    const what = Array.isArray(v) ? 'array' : typeof v;
    return `(${what} not renderable: ${err instanceof Error ? err.message : 'unknown error'})`;
  }
  return s.length > 80 ? `${s.slice(0, 77)}... (${s.length} chars)` : s;
}

function ruleOf(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'custom':
      return (issue.params as { rule?: string } | undefined)?.rule ?? 'custom';
    case 'invalid_type':
      if (value === undefined) return 'required';
      if (typeof value === 'number' && !Number.isFinite(value)) return 'finite';
      return 'type';
    case 'too_small':
      return issue.minimum === 0 && issue.inclusive === false ? 'positive' : 'min';
    case 'too_big':
      return 'max';
    case 'invalid_value':
      return 'enum';
    case 'invalid_format':
      return 'format';
    case 'not_multiple_of':
      return 'multiple_of';
    case 'unrecognized_keys':
      return 'unknown_key';
    default:
      return issue.code;
  }
}

function messageOf(issue: z.core.$ZodIssue, rule: string, value: unknown): string {
  if (rule === 'required') return 'is required';
  if (rule === 'finite') return 'must be a finite number';
  if (issue.code === 'invalid_type') return `must be of type ${issue.expected} (got ${typeof value})`;
  if (issue.code === 'invalid_value')
    return `must be one of ${issue.values.map((x) => JSON.stringify(x)).join(', ')}`;
  return issue.message;
}

export function toContractIssues(error: z.ZodError, input: unknown): ContractIssue[] {
  return error.issues.map((issue) => {
    const value = valueAt(input, issue.path);
    const rule = ruleOf(issue, value);
    return {
      field: issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.'),
      rule,
      message: messageOf(issue, rule, value),
      value: renderValue(value),
    };
  });
}

/**
 * Validates a decoded value against the contract for `kind`. Never throws. A raw record
 * that satisfies its contract is checked by `parseRecordFast` (same decision and value as
 * zod, property-tested); anything else goes to zod, which words the error.
 */
export function parseRecord<K extends RecordKind>(kind: K, input: unknown): ParseResult<RecordOf<K>> {
  const fast = parseRecordFast(kind, input);
  if (fast !== null) return { ok: true, value: fast };
  const schema = RECORD_SCHEMAS[kind] as unknown as z.ZodType<RecordOf<K>>;
  const res = schema.safeParse(input);
  if (res.success) return { ok: true, value: res.data };
  return { ok: false, error: new ContractViolation(kind, toContractIssues(res.error, input)) };
}

/** Decodes raw bytes (a Kafka value) and validates them. Never throws. */
export function decodeRecord<K extends RecordKind>(
  kind: K,
  raw: Buffer | string | null,
): ParseResult<RecordOf<K>> {
  if (raw === null)
    return fail(kind, {
      field: '(root)',
      rule: 'required',
      message: 'record value is empty (tombstone)',
      value: 'null',
    });
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (bytes > MAX_RECORD_BYTES)
    return fail(kind, {
      field: '(root)',
      rule: 'size',
      message: `record is ${bytes} bytes, over the ${MAX_RECORD_BYTES}-byte limit`,
      value: `${bytes} bytes`,
    });
  let decoded: unknown;
  try {
    decoded = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    return fail(kind, {
      field: '(root)',
      rule: 'json',
      message: `not valid JSON: ${(err as Error).message}`,
      value: renderValue(text),
    });
  }
  try {
    return parseRecord(kind, decoded);
  } catch (err) {
    // Whatever the bytes, a decode ends in a value or a violation: a throw here would stall
    // the partition on one record (e.g. a value nested too deep for the checker's recursion).
    return fail(kind, {
      field: '(root)',
      rule: 'decode',
      message: `could not be checked: ${err instanceof Error ? err.message : String(err)}`,
      value: `${bytes} bytes`,
    });
  }
}

function fail<T>(kind: string, issue: ContractIssue): ParseResult<T> {
  return { ok: false, error: new ContractViolation(kind, [issue]) };
}

/** Encodes a record for Kafka. The caller has validated it. */
export function encodeRecord(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
