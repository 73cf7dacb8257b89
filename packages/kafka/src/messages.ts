import { HEADERS, type RecordKind, schemaHeader, streamKey } from '@perpflow/contracts';
import type { IHeaders, Message } from 'kafkajs';
import { sameBytes } from './kafkajs-fast-paths.js';

export interface MessageMeta {
  kind: RecordKind;
  /** Producing service, e.g. `exchange-ingest`. */
  producer: string;
  /** Our wall clock at produce time (ms); passed in, never read here. */
  producedAtMs: number;
  source?: 'live' | 'backfill';
}

/** A contract record as a Kafka message: key `<exchange>|<symbol>`, JSON value, standard headers. */
export function toMessage(record: { exchange: string; symbol: string }, meta: MessageMeta): Message {
  const headers: IHeaders = {
    [HEADERS.schema]: schemaHeader(meta.kind),
    [HEADERS.producer]: meta.producer,
    [HEADERS.producedAtMs]: String(meta.producedAtMs),
  };
  if (meta.source) headers[HEADERS.source] = meta.source;
  return { key: streamKey(record.exchange, record.symbol), value: JSON.stringify(record), headers };
}

/** Header values as strings (kafkajs gives Buffers; a repeated header's values joined by commas). */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const k of Object.keys(headers)) {
    const v = headers[k];
    if (v === undefined) continue;
    out[k] = Buffer.isBuffer(v) ? textOf(k, v) : Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out;
}

/**
 * Each header name's last value, as bytes and text: most values repeat from record to record
 * (schema, producer, source; the produce time within a batch), so their text is made once.
 * Bounded: values up to 64 bytes, the first 64 names.
 */
const lastValues = new Map<string, { bytes: Buffer; text: string }>();

function textOf(name: string, v: Buffer): string {
  const n = v.length;
  if (n > 64) return v.toString('utf8');
  const last = lastValues.get(name);
  if (last !== undefined && sameBytes(v, 0, n, last.bytes)) return last.text;
  const text = v.toString('utf8');
  if (last !== undefined || lastValues.size < 64) lastValues.set(name, { bytes: Buffer.from(v), text });
  return text;
}
