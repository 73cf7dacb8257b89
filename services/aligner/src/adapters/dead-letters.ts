import { type DeadLetter, SCHEMA_VERSION, TOPICS } from '@perpflow/contracts';
import type { Message } from 'kafkajs';

/** Original bytes kept in a dead letter, at most; larger payloads are truncated and flagged. */
export const MAX_DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024;

export interface SourceRef {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Wraps a rejected record, byte for byte, with the rule that rejected it and where it came from. */
export function toDeadLetter(
  src: SourceRef,
  reason: { ruleId: string; message: string; exchange?: string | null; symbol?: string | null },
  nowMs: number,
): DeadLetter {
  const bytes = src.value ?? Buffer.alloc(0);
  const truncated = bytes.length > MAX_DEAD_LETTER_PAYLOAD_BYTES;
  const kept = truncated ? bytes.subarray(0, MAX_DEAD_LETTER_PAYLOAD_BYTES) : bytes;
  const utf8 = kept.toString('utf8');
  const isUtf8 = Buffer.from(utf8, 'utf8').equals(kept);
  return {
    schemaVersion: SCHEMA_VERSION,
    ruleId: reason.ruleId.slice(0, 128),
    message: reason.message.slice(0, 4096),
    stage: 'aligner',
    source: { topic: src.topic, partition: src.partition, offset: src.offset },
    key: src.key,
    payload: isUtf8 ? utf8 : kept.toString('base64'),
    payloadEncoding: isUtf8 ? 'utf8' : 'base64',
    payloadBytes: bytes.length,
    payloadTruncated: truncated,
    headers: src.headers,
    exchange: reason.exchange ?? null,
    symbol: reason.symbol ?? null,
    deadLetteredAtMs: nowMs,
  };
}

export function deadLetterMessage(letter: DeadLetter): Message {
  return {
    key: letter.key,
    value: JSON.stringify(letter),
    headers: { 'perpflow-schema': `dead_letter/v${SCHEMA_VERSION}`, 'perpflow-producer': 'aligner' },
  };
}

export const DEAD_LETTER_TOPIC = TOPICS.deadLetter;
