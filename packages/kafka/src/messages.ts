import { HEADERS, type RecordKind, schemaHeader, streamKey } from '@perpflow/contracts';
import type { IHeaders, Message } from 'kafkajs';

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

/** Header values as strings (kafkajs gives Buffers). */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out;
}
