import { PerpflowError } from '@perpflow/contracts';
import {
  Binary,
  type Data,
  type DataType,
  type Vector,
  Field,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  tableFromIPC,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import {
  Compression,
  EnabledStatistics,
  readParquet,
  Table as WasmTable,
  type WriterProperties,
  WriterPropertiesBuilder,
  wasmMemory,
  writeParquet,
} from 'parquet-wasm';
import { parseTable } from 'arrow-js-ffi';
import type { ArchiveHeader, ArchiveRow } from './record.js';

/** Parquet `created_by` and the `perpflow` metadata's writer of archive objects. */
export const ARCHIVE_WRITER_VERSION = 'perpflow-archive/1';
export const ARCHIVE_SCHEMA = 'raw_archive/v1';
const METADATA_KEY = 'perpflow';

const headerType = new Struct([new Field('name', new Utf8(), false), new Field('value', new Binary(), true)]);

/**
 * The archive's row layout, one place: Kafka identity and original bytes first, then
 * the pruning columns parsed from the value (null when the value does not carry them).
 */
export const ARCHIVE_SCHEMA_FIELDS = [
  new Field('topic', new Utf8(), false),
  new Field('partition', new Int32(), false),
  new Field('offset', new Int64(), false),
  new Field('kafka_time', new TimestampMillisecond('UTC'), false),
  new Field('key', new Binary(), true),
  new Field('value', new Binary(), true),
  new Field('headers', new List(new Field('item', headerType, false)), false),
  new Field('exchange', new Utf8(), true),
  new Field('symbol', new Utf8(), true),
  new Field('event_time', new TimestampMillisecond('UTC'), true),
  new Field('received_at', new TimestampMillisecond('UTC'), true),
  new Field('contract_error', new Utf8(), true),
  new Field('rule_id', new Utf8(), true),
] as const;

const ARCHIVE_ARROW_SCHEMA = new Schema([...ARCHIVE_SCHEMA_FIELDS]);
const typeOf = (name: string): DataType => {
  const f = ARCHIVE_SCHEMA_FIELDS.find((x) => x.name === name);
  if (!f) throw new Error(`no archive field ${name}`);
  return f.type;
};

/** A validity bitmap (Arrow's: bit i of byte i >> 3, least significant first) and its null count. */
function validityOf(
  n: number,
  isNull: (i: number) => boolean,
): { nullBitmap: Uint8Array; nullCount: number } {
  const nullBitmap = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < n; i++)
    if (isNull(i)) nullCount++;
    else nullBitmap[i >> 3]! |= 1 << (i & 7);
  return { nullBitmap, nullCount };
}

const utf8Encoder = new TextEncoder();

/** A Utf8 or Binary column (null entries allowed) from texts or bytes. */
function variableData(type: DataType, values: readonly (string | Uint8Array | null)[]): Data {
  const n = values.length;
  const parts: Uint8Array[] = [];
  const valueOffsets = new Int32Array(n + 1);
  let at = 0;
  // A column's texts repeat (topic, exchange, symbol, rule, header names): each is encoded once.
  const encoded = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) {
      let bytes: Uint8Array;
      if (typeof v !== 'string') bytes = v;
      else {
        const known = encoded.get(v);
        if (known !== undefined) bytes = known;
        else {
          bytes = utf8Encoder.encode(v);
          if (encoded.size < 4_096) encoded.set(v, bytes);
        }
      }
      parts.push(bytes);
      at += bytes.byteLength;
    }
    valueOffsets[i + 1] = at;
  }
  const data = new Uint8Array(at);
  let to = 0;
  for (const p of parts) {
    data.set(p, to);
    to += p.byteLength;
  }
  return nullableData(type, values, { valueOffsets, data });
}

/** A column's Data: its buffers, and a validity bitmap when a value is null (or undefined). */
function nullableData(
  type: DataType,
  values: readonly unknown[],
  buffers: { valueOffsets?: Int32Array; data: ArrayBufferView },
): Data {
  const { nullBitmap, nullCount } = validityOf(
    values.length,
    (i) => values[i] === null || values[i] === undefined,
  );
  return makeData({
    type,
    length: values.length,
    nullCount,
    nullBitmap: nullCount > 0 ? nullBitmap : undefined,
    ...buffers,
  } as never);
}

/** An Int64 or millisecond Timestamp column (null entries allowed) from integers. */
function int64Data(type: DataType, values: readonly (number | bigint | null)[]): Data {
  const n = values.length;
  const data = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) data[i] = typeof v === 'bigint' ? v : BigInt(v);
  }
  return nullableData(type, values, { data });
}

/**
 * The rows as one Arrow record batch of the archive's schema, each column's buffers
 * written directly (apache-arrow's builders, `vectorFromArray`, were three quarters of the
 * encoder and most of the archiver's busy time).
 */
function archiveBatch(rows: readonly ArchiveRow[]): RecordBatch {
  const n = rows.length;
  const headerOffsets = new Int32Array(n + 1);
  const names: string[] = [];
  const values: (Uint8Array | null)[] = [];
  for (let i = 0; i < n; i++) {
    for (const h of rows[i]!.headers) {
      names.push(h.name);
      values.push(h.value);
    }
    headerOffsets[i + 1] = names.length;
  }
  const headerStruct = (typeOf('headers') as List).valueType as Struct;
  const items = makeData({
    type: headerStruct,
    length: names.length,
    nullCount: 0,
    children: [variableData(new Utf8(), names), variableData(new Binary(), values)],
  });
  // A column of texts or bytes, of integers: the field's type, each row's value.
  const bytes = (name: string, fn: (r: ArchiveRow) => string | Uint8Array | null) =>
    variableData(typeOf(name), rows.map(fn));
  const ints = (name: string, fn: (r: ArchiveRow) => number | bigint | null) =>
    int64Data(typeOf(name), rows.map(fn));
  const children = [
    bytes('topic', (r) => r.topic),
    makeData({ type: new Int32(), length: n, nullCount: 0, data: Int32Array.from(rows, (r) => r.partition) }),
    ints('offset', (r) => BigInt(r.offset)),
    ints('kafka_time', (r) => r.kafkaTimestampMs),
    bytes('key', (r) => r.key),
    bytes('value', (r) => r.value),
    makeData({
      type: typeOf('headers') as List,
      length: n,
      nullCount: 0,
      valueOffsets: headerOffsets,
      child: items,
    }),
    bytes('exchange', (r) => r.exchange),
    bytes('symbol', (r) => r.symbol),
    ints('event_time', (r) => r.eventTimeMs),
    ints('received_at', (r) => r.receivedAtMs),
    bytes('contract_error', (r) => r.contractError),
    bytes('rule_id', (r) => r.ruleId),
  ];
  const struct = makeData({
    type: new Struct(ARCHIVE_ARROW_SCHEMA.fields),
    length: n,
    nullCount: 0,
    children,
  });
  return new RecordBatch(ARCHIVE_ARROW_SCHEMA, struct);
}

/** The Parquet writer's settings of archive objects (ZSTD, dictionaries and statistics per column, metadata). */
export function archiveWriterProperties(): WriterProperties {
  return new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setColumnDictionaryEnabled('topic', true)
    .setColumnDictionaryEnabled('exchange', true)
    .setColumnDictionaryEnabled('symbol', true)
    .setColumnDictionaryEnabled('rule_id', true)
    .setColumnStatisticsEnabled('key', EnabledStatistics.None)
    .setColumnStatisticsEnabled('value', EnabledStatistics.None)
    .setColumnStatisticsEnabled('headers.list.item.name', EnabledStatistics.None)
    .setColumnStatisticsEnabled('headers.list.item.value', EnabledStatistics.None)
    .setColumnStatisticsEnabled('contract_error', EnabledStatistics.None)
    .setCreatedBy(ARCHIVE_WRITER_VERSION)
    .setMaxRowGroupSize(1_000_000)
    .setKeyValueMetadata(
      new Map([[METADATA_KEY, JSON.stringify({ schema: ARCHIVE_SCHEMA, writer: ARCHIVE_WRITER_VERSION })]]),
    )
    .build();
}

/**
 * Rows (one topic-partition, in offset order) → one ZSTD Parquet file. Deterministic:
 * the same rows give the same bytes, so a rewrite after a crash reproduces the object
 * and its sha256. The caller keeps the rows in offset order; nothing is reordered here.
 */
export function encodeArchiveParquet(rows: readonly ArchiveRow[]): Uint8Array {
  const table = new Table([archiveBatch(rows)]);
  const props = archiveWriterProperties();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props);
}

export class ArchiveLayoutMismatch extends PerpflowError {
  readonly code = 'ARCHIVE_LAYOUT_MISMATCH';
  readonly retriable = false;
}

const bytesOf = (v: unknown): Uint8Array | null => (v == null ? null : new Uint8Array(v as Uint8Array));
const msOf = (v: unknown): number | null => (v == null ? null : Number(v));

/** Reads an archive object back into rows, in file order (readers and tests). */
export function decodeArchiveParquet(bytes: Uint8Array): ArchiveRow[] {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const meta = table.schema.metadata.get(METADATA_KEY);
  if (!meta || (JSON.parse(meta) as { schema?: string }).schema !== ARCHIVE_SCHEMA)
    throw new ArchiveLayoutMismatch(`not a ${ARCHIVE_SCHEMA} file (metadata ${meta ?? 'missing'})`);
  const col = (name: string) => {
    const v = table.getChild(name);
    if (!v) throw new ArchiveLayoutMismatch(`no column ${name}`);
    return v;
  };
  const c = Object.fromEntries(ARCHIVE_SCHEMA_FIELDS.map((f) => [f.name, col(f.name)]));
  const out: ArchiveRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const headers = c.headers!.get(i) as { toArray(): { name: string; value: unknown }[] } | null;
    out.push({
      topic: c.topic!.get(i) as string,
      partition: c.partition!.get(i) as number,
      offset: String(c.offset!.get(i)),
      kafkaTimestampMs: Number(c.kafka_time!.get(i)),
      key: bytesOf(c.key!.get(i)),
      value: bytesOf(c.value!.get(i)),
      headers: (headers?.toArray() ?? []).map(
        (h): ArchiveHeader => ({ name: String(h.name), value: bytesOf(h.value) }),
      ),
      exchange: (c.exchange!.get(i) as string | null) ?? null,
      symbol: (c.symbol!.get(i) as string | null) ?? null,
      eventTimeMs: msOf(c.event_time!.get(i)),
      receivedAtMs: msOf(c.received_at!.get(i)),
      contractError: (c.contract_error!.get(i) as string | null) ?? null,
      ruleId: (c.rule_id!.get(i) as string | null) ?? null,
    });
  }
  return out;
}

/** The columns a rebuild reads: the record's place, arrival, bytes and pruning columns (not headers). */
const REPLAY_COLUMNS = [
  'partition',
  'offset',
  'kafka_time',
  'key',
  'value',
  'exchange',
  'symbol',
  'event_time',
];

/** A row of an object as a rebuild reads it (headers and parsed receive time are not read). */
export interface ReplayRow {
  partition: number;
  offset: string;
  kafkaTimestampMs: number;
  /** Views into one buffer of the object's kept keys and values (Buffers, as Kafka clients give them). */
  key: Buffer | null;
  value: Buffer | null;
  exchange: string | null;
  symbol: string | null;
  eventTimeMs: number | null;
}

/**
 * Reads an archive object's rows for a rebuild: the columns it needs (REPLAY_COLUMNS), and
 * only rows `keep` accepts by their pruning columns, checked before anything else of the row
 * is built. Returns the rows kept and the object's row count (to check against its index).
 * `keep` must not call into parquet-wasm (the columns are views into its memory).
 */
export function decodeArchiveForReplay(
  bytes: Uint8Array,
  keep: (exchange: string | null, symbol: string | null, eventTimeMs: number | null) => boolean,
): { rows: ReplayRow[]; rowCount: number } {
  // The decoded columns are read where parquet-wasm decoded them, in its memory, through the
  // Arrow C data interface (arrow-js-ffi's views), and only the kept rows' bytes copied out:
  // before, each object went through an Arrow IPC copy of all its columns (3.2 MB for a
  // 200 kB object of candles). The views are valid until the next call into parquet-wasm
  // (its memory may grow and move) and the FFI table's free: nothing between them calls it.
  // readParquet decodes every column: its sync reader ignores a `columns` option (parquet-wasm
  // 0.8.0, src/reader.rs applies batch size, row groups, limit and offset only).
  const ffi = readParquet(bytes).intoFFI();
  try {
    const addrs = ffi.arrayAddrs();
    const table: Table = parseTable(wasmMemory().buffer, addrs, ffi.schemaAddr(), false);
    if (!viewsReadable(table)) return replayOf(tableFromIPC(readParquet(bytes).intoIPCStream()), keep);
    return replayOf(table, keep);
  } finally {
    ffi.free();
  }
}

/**
 * False when a batch or column starts at a non-zero offset into its buffers: arrow-js-ffi
 * 0.4.3 views such an array from its buffers' start (not one parquet-wasm's reader gives
 * today; the caller then reads the object through an IPC copy).
 */
export function viewsReadable(table: Table): boolean {
  return table.batches.every((b) => b.data.offset === 0 && b.data.children.every((c) => c.offset === 0));
}

/** The kept rows of a decoded table, their keys and values copied out of it. */
function replayOf(table: Table, keep: Keep): { rows: ReplayRow[]; rowCount: number } {
  const meta = table.schema.metadata.get(METADATA_KEY);
  if (!meta || (JSON.parse(meta) as { schema?: string }).schema !== ARCHIVE_SCHEMA)
    throw new ArchiveLayoutMismatch(`not a ${ARCHIVE_SCHEMA} file (metadata ${meta ?? 'missing'})`);
  const col = (name: string) => {
    const v = table.getChild(name);
    if (!v) throw new ArchiveLayoutMismatch(`no column ${name}`);
    return v;
  };
  const columns = REPLAY_COLUMNS.map(col);
  const rows = replayRowsOfChunks(columns, keep) ?? replayRowsOf(columns, table.numRows, keep);
  return { rows, rowCount: table.numRows };
}

type Keep = Parameters<typeof decodeArchiveForReplay>[1];

/**
 * The kept rows through Arrow's per-value `get` (any column types); their keys and values
 * copied together into one buffer.
 */
function replayRowsOf(columns: Vector[], numRows: number, keep: Keep): ReplayRow[] {
  const [partition, offset, kafkaTime, key, value, exchange, symbol, eventTime] = columns;
  const rows: ReplayRow[] = [];
  const views: (Uint8Array | null)[] = [];
  for (let i = 0; i < numRows; i++) {
    const ex = (exchange!.get(i) as string | null) ?? null;
    const sym = (symbol!.get(i) as string | null) ?? null;
    const et = msOf(eventTime!.get(i));
    if (!keep(ex, sym, et)) continue;
    views.push((key!.get(i) as Uint8Array | null) ?? null, (value!.get(i) as Uint8Array | null) ?? null);
    rows.push({
      partition: partition!.get(i) as number,
      offset: String(offset!.get(i)),
      kafkaTimestampMs: Number(kafkaTime!.get(i)),
      key: null,
      value: null,
      exchange: ex,
      symbol: sym,
      eventTimeMs: et,
    });
  }
  let bytes = 0;
  for (const v of views) bytes += v?.byteLength ?? 0;
  const own = Buffer.allocUnsafeSlow(bytes);
  let at = 0;
  const copy = (v: Uint8Array | null): Buffer | null => {
    if (v === null) return null;
    own.set(v, at);
    at += v.byteLength;
    return own.subarray(at - v.byteLength, at);
  };
  rows.forEach((r, k) => {
    r.key = copy(views[2 * k]!);
    r.value = copy(views[2 * k + 1]!);
  });
  return rows;
}

/** The column types the archive writes, as Arrow reads them back (REPLAY_COLUMNS order). */
const REPLAY_TYPES = [
  'Int32',
  'Int64',
  'Timestamp<MILLISECOND, UTC>',
  'Binary',
  'Binary',
  'Utf8',
  'Utf8',
  'Timestamp<MILLISECOND, UTC>',
];

/**
 * The same rows as replayRowsOf, read from each record batch's buffers directly: Arrow's
 * `get` goes through a chunk search and a type visitor per value, and decodes every
 * exchange and symbol anew (together 4 % of the rebuild's profile). Each value is read
 * as that `get` reads it (validity bitmap, offsets, Number of an int64 that must be
 * safe); an exchange or symbol is decoded once per distinct bytes, compared in place. The
 * kept rows' keys and values are copied straight from the columns into one buffer, each a
 * view of it: no view of the columns per value (seven typed arrays a row were 10 % of the
 * bytes a rebuild allocated). Null when a column is not of the type the archive writes or
 * the columns' batches do not line up: the caller then takes the general path.
 */
function replayRowsOfChunks(columns: Vector[], keep: Keep): ReplayRow[] | null {
  const chunks = columns[0]!.data.length;
  for (const [j, c] of columns.entries())
    if (String(c.type) !== REPLAY_TYPES[j] || c.data.length !== chunks) return null;
  for (let b = 0; b < chunks; b++) {
    const n = (columns[0]!.data[b] as Data).length;
    if (columns.some((c) => (c.data[b] as Data).length !== n)) return null;
  }
  const rows: ReplayRow[] = [];
  /** Per kept row: its batch and index in it. */
  const at: number[] = [];
  let bytes = 0;
  const texts = new Utf8Texts();
  const batches = Array.from({ length: chunks }, (_, b) => columns.map((c) => c.data[b] as Data));
  for (let b = 0; b < chunks; b++) {
    const [partition, offset, kafkaTime, key, value, exchange, symbol, eventTime] = batches[b]!;
    for (let i = 0; i < partition!.length; i++) {
      const ex = valid(exchange!, i) ? textAt(texts, exchange!, i) : null;
      const sym = valid(symbol!, i) ? textAt(texts, symbol!, i) : null;
      const et = valid(eventTime!, i) ? safeNumber((eventTime!.values as BigInt64Array)[i]!) : null;
      if (!keep(ex, sym, et)) continue;
      rows.push({
        partition: valid(partition!, i) ? (partition!.values as Int32Array)[i]! : (null as unknown as number),
        offset: valid(offset!, i) ? String((offset!.values as BigInt64Array)[i]) : 'null',
        kafkaTimestampMs: valid(kafkaTime!, i) ? safeNumber((kafkaTime!.values as BigInt64Array)[i]!) : 0,
        key: null,
        value: null,
        exchange: ex,
        symbol: sym,
        eventTimeMs: et,
      });
      at.push(b, i);
      bytes += byteLengthAt(key!, i) + byteLengthAt(value!, i);
    }
  }
  const own = Buffer.allocUnsafeSlow(bytes);
  let to = 0;
  const copy = (d: Data, from: Buffer, i: number): Buffer | null => {
    if (!valid(d, i)) return null;
    const offsets = d.valueOffsets as Int32Array;
    const start = to;
    to += from.copy(own, to, offsets[i]!, offsets[i + 1]!);
    return own.subarray(start, to);
  };
  const asBuffer = (d: Data) => {
    const v = d.values as Uint8Array;
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  };
  const keys = batches.map((c) => asBuffer(c[3]!));
  const values = batches.map((c) => asBuffer(c[4]!));
  for (let k = 0; k < rows.length; k++) {
    const b = at[2 * k]!;
    const i = at[2 * k + 1]!;
    const r = rows[k]!;
    r.key = copy(batches[b]![3]!, keys[b]!, i);
    r.value = copy(batches[b]![4]!, values[b]!, i);
  }
  return rows;
}

/** A variable-width value's byte length, 0 when null. */
function byteLengthAt(d: Data, i: number): number {
  if (!valid(d, i)) return 0;
  const offsets = d.valueOffsets as Int32Array;
  return offsets[i + 1]! - offsets[i]!;
}

/** The text of a Utf8 column's value, through `texts`, without a view of it. */
function textAt(texts: Utf8Texts, d: Data, i: number): string {
  const offsets = d.valueOffsets as Int32Array;
  return texts.textIn(d.values as Uint8Array, offsets[i]!, offsets[i + 1]!);
}

/** Data.getValid for a non-union column: its bit in the validity bitmap, when it has nulls. */
function valid(d: Data, i: number): boolean {
  if (!d.nullable || d.nullCount <= 0) return true;
  const pos = d.offset + i;
  return ((d.nullBitmap as Uint8Array)[pos >> 3]! & (1 << (pos % 8))) !== 0;
}

/** Number(x), refusing an int64 beyond 2^53 as Arrow's `get` of a timestamp does. */
function safeNumber(x: bigint): number {
  if (x < MIN_SAFE || x > MAX_SAFE) throw new TypeError(`${x} is not safe to convert to a number.`);
  return Number(x);
}
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * UTF-8 text of byte strings that repeat (message keys, exchanges, symbols): each
 * distinct value is decoded once, and its text reused when the bytes are equal. Holds at
 * most 64 values; the rest are decoded every time.
 */
export class Utf8Texts {
  private readonly bytes: Uint8Array[] = [];
  private readonly texts: string[] = [];

  textOf(b: Uint8Array): string {
    return this.textIn(b, 0, b.byteLength);
  }

  /** The text of bytes [start, end) of `b`. */
  textIn(b: Uint8Array, start: number, end: number): string {
    const n = end - start;
    next: for (let j = 0; j < this.bytes.length; j++) {
      const known = this.bytes[j] as Uint8Array;
      if (known.byteLength !== n) continue;
      for (let i = 0; i < n; i++) if (known[i] !== b[start + i]) continue next;
      return this.texts[j] as string;
    }
    const text = utf8.decode(b.subarray(start, end));
    if (this.bytes.length < 64) {
      this.bytes.push(b.slice(start, end));
      this.texts.push(text);
    }
    return text;
  }
}
const utf8 = new TextDecoder('utf-8');
