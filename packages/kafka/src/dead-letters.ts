import { type DeadLetter, HEADERS, SCHEMA_VERSION, schemaHeader } from '@perpflow/contracts';
import type { Message } from 'kafkajs';

/** Original bytes kept in a dead letter, at most; larger payloads are truncated and flagged. */
export const MAX_DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024;

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

/** Wraps a rejected record, byte for byte, with the rule that rejected it, the stage and where it came from. */
export function buildDeadLetter(
  src: DeadLetterSource,
  reason: DeadLetterReason,
  stage: DeadLetter['stage'],
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
    stage,
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

/** A dead letter as a Kafka message (same key as the original record). */
export function deadLetterToMessage(letter: DeadLetter, producer: string): Message {
  return {
    key: letter.key,
    value: JSON.stringify(letter),
    headers: { [HEADERS.schema]: schemaHeader('dead_letter'), [HEADERS.producer]: producer },
  };
}
