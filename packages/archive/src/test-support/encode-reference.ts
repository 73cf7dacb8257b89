import { type Field, Schema, Table, tableToIPC, type Vector, vectorFromArray } from 'apache-arrow';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { ARCHIVE_SCHEMA_FIELDS, archiveWriterProperties } from '../parquet.js';
import type { ArchiveRow } from '../record.js';

function column(f: Field, values: unknown[]): Vector {
  return vectorFromArray(values as never, f.type);
}

/** The encoder of perpflow-archive/1 up to 74ca714, through apache-arrow's builders (`vectorFromArray`). */
export function encodeArchiveParquetReference(rows: readonly ArchiveRow[]): Uint8Array {
  const pick = <T>(fn: (r: ArchiveRow) => T) => rows.map(fn);
  const values: Record<string, unknown[]> = {
    topic: pick((r) => r.topic),
    partition: pick((r) => r.partition),
    offset: pick((r) => BigInt(r.offset)),
    kafka_time: pick((r) => r.kafkaTimestampMs),
    key: pick((r) => r.key),
    value: pick((r) => r.value),
    headers: pick((r) => r.headers.map((h) => ({ name: h.name, value: h.value }))),
    exchange: pick((r) => r.exchange),
    symbol: pick((r) => r.symbol),
    event_time: pick((r) => r.eventTimeMs),
    received_at: pick((r) => r.receivedAtMs),
    contract_error: pick((r) => r.contractError),
    rule_id: pick((r) => r.ruleId),
  };
  const schema = new Schema([...ARCHIVE_SCHEMA_FIELDS]);
  const vectors: Record<string, Vector> = {};
  for (const f of ARCHIVE_SCHEMA_FIELDS) vectors[f.name] = column(f, values[f.name] ?? []);
  const table = new Table(schema, vectors);
  const props = archiveWriterProperties();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props);
}
