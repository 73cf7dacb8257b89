import { createHash } from 'node:crypto';
import { type DeadLetter, HEADERS, SCHEMA_VERSION, schemaHeader } from '@perpflow/contracts';
import type { Message } from 'kafkajs';

/** Original bytes kept in a dead letter, at most; larger payloads are truncated and flagged. */
export const MAX_DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024;
/** Key bytes kept; a longer key is cut (its size and sha256 in `truncated.key`). */
export const MAX_DEAD_LETTER_KEY_BYTES = 1024;
/** Header bytes (names + values) kept; headers past it are dropped (`truncated.headers`). */
export const MAX_DEAD_LETTER_HEADER_BYTES = 16 * 1024;
/** Exchange and symbol kept (they come from the record's key, which is not trusted). */
const MAX_LABEL_CHARS = 128;
/**
 * The largest dead-letter message `deadLetterToMessage` can make: every bounded part at its
 * limit, each byte JSON-escaped as `\u00XX` (6 bytes), plus the fixed fields. Under the
 * broker's default message.max.bytes (1 MiB) with room for the record batch overhead.
 */
export const MAX_DEAD_LETTER_MESSAGE_BYTES =
  6 * (MAX_DEAD_LETTER_PAYLOAD_BYTES + 2 * MAX_DEAD_LETTER_KEY_BYTES + MAX_DEAD_LETTER_HEADER_BYTES) +
  6 * (4096 + 128 + 2 * MAX_LABEL_CHARS) +
  4096;

/** The record being quarantined, as read from Kafka. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface DeadLetterReason {
  /** Stable rule id, e.g. `contract.type`, `windower.key`. */
  ruleId: string;
  message: string;
  exchange?: string | null;
  symbol?: string | null;
}

type Truncation = NonNullable<DeadLetter['truncated']>;

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** The first `max` bytes of `s` as a string, never splitting a UTF-8 character. */
function utf8Prefix(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // back off a continuation byte
  return b.subarray(0, end).toString('utf8');
}

function boundHeaders(headers: Record<string, string>): {
  kept: Record<string, string>;
  cut?: Truncation['headers'];
} {
  const entries = Object.entries(headers);
  let bytes = 0;
  for (const [k, v] of entries) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (bytes <= MAX_DEAD_LETTER_HEADER_BYTES) return { kept: headers };
  const kept: Record<string, string> = {};
  let used = 0;
  for (const [k, v] of entries) {
    const n = Buffer.byteLength(k) + Buffer.byteLength(v);
    if (used + n > MAX_DEAD_LETTER_HEADER_BYTES) continue; // whole headers only: a cut value would lie
    kept[k] = v;
    used += n;
  }
  return { kept, cut: { bytes, count: entries.length, sha256: sha256(JSON.stringify(entries)) } };
}

/**
 * Wraps a rejected record with the rule that rejected it, the stage and where it came from:
 * the original value byte for byte, key and headers as they were, unless a part is over its
 * bound (then cut, with the original's size and sha256 in `truncated`), so that a dead letter
 * always fits in one Kafka message whatever the record held.
 */
export function buildDeadLetter(
  src: DeadLetterSource,
  reason: DeadLetterReason,
  stage: DeadLetter['stage'],
  nowMs: number,
): DeadLetter {
  const bytes = src.value ?? Buffer.alloc(0);
  const payloadCut = bytes.length > MAX_DEAD_LETTER_PAYLOAD_BYTES;
  const kept = payloadCut ? bytes.subarray(0, MAX_DEAD_LETTER_PAYLOAD_BYTES) : bytes;
  const utf8 = kept.toString('utf8');
  const isUtf8 = Buffer.from(utf8, 'utf8').equals(kept);
  const truncated: Truncation = {};
  if (payloadCut) truncated.payload = { bytes: bytes.length, sha256: sha256(bytes) };
  let key = src.key;
  if (key !== null && Buffer.byteLength(key) > MAX_DEAD_LETTER_KEY_BYTES) {
    truncated.key = { bytes: Buffer.byteLength(key), sha256: sha256(key) };
    key = utf8Prefix(key, MAX_DEAD_LETTER_KEY_BYTES);
  }
  const headers = boundHeaders(src.headers);
  if (headers.cut) truncated.headers = headers.cut;
  const letter: DeadLetter = {
    schemaVersion: SCHEMA_VERSION,
    ruleId: reason.ruleId.slice(0, 128),
    message: reason.message.slice(0, 4096),
    stage,
    source: { topic: src.topic, partition: src.partition, offset: src.offset },
    key,
    payload: isUtf8 ? utf8 : kept.toString('base64'),
    payloadEncoding: isUtf8 ? 'utf8' : 'base64',
    payloadBytes: bytes.length,
    payloadTruncated: payloadCut,
    headers: headers.kept,
    exchange: reason.exchange?.slice(0, MAX_LABEL_CHARS) ?? null,
    symbol: reason.symbol?.slice(0, MAX_LABEL_CHARS) ?? null,
    deadLetteredAtMs: nowMs,
  };
  if (Object.keys(truncated).length > 0) letter.truncated = truncated;
  return letter;
}

/** A dead letter as a Kafka message (same key as the original record). */
export function deadLetterToMessage(letter: DeadLetter, producer: string): Message {
  return {
    key: letter.key,
    value: JSON.stringify(letter),
    headers: { [HEADERS.schema]: schemaHeader('dead_letter'), [HEADERS.producer]: producer },
  };
}
