import { type AlignedBar, SCHEMA_VERSION } from '@perpflow/contracts';
import {
  Bool,
  type Data,
  type DataType,
  Field,
  Float64,
  Int32,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimeUnit,
  Timestamp,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { sha256Hex } from '../hash.js';
import { DATASET_WRITER_VERSION } from '../version.js';
import { type BarColumns, barsToColumns } from './transpose.js';
import {
  ALIGNED_BAR_COLUMNS,
  type ColumnKind,
  type ColumnSpec,
  fileMetadataJson,
  PARQUET_METADATA_KEY,
} from './columns.js';

export interface EncodeOptions {
  /** Parquet `created_by` and the metadata's `writer`. Default DATASET_WRITER_VERSION. */
  writerVersion?: string;
  /** Rows per row group. Default 1,000,000 (a 1m-bar day is 1,440 rows: one group per file). */
  maxRowGroupRows?: number;
}

function arrowType(kind: ColumnKind): DataType {
  switch (kind) {
    case 'utf8':
      return new Utf8();
    case 'timestamp_ms':
      return new Timestamp(TimeUnit.MILLISECOND, 'UTC');
    case 'float64':
      return new Float64();
    case 'int32':
      return new Int32();
    case 'bool':
      return new Bool();
  }
}

/** The Arrow schema of the files (without metadata). */
export function alignedBarArrowSchema(): Schema {
  return new Schema(ALIGNED_BAR_COLUMNS.map((s) => new Field(s.name, arrowType(s.kind), s.nullable)));
}

/**
 * A stable hash of a column layout: names, Arrow types and nullability in order.
 * Equal for the schema we write and the schema read back from any of our files.
 */
export function schemaHashOf(schema: Schema): string {
  const canonical = schema.fields.map((f) => `${f.name}:${String(f.type)}:${f.nullable ? 'null' : 'req'}`);
  return sha256Hex(canonical.join('\n'));
}

/** The schema hash of files written by this version. */
export const ALIGNED_BAR_SCHEMA_HASH = schemaHashOf(alignedBarArrowSchema());

function validityOf(spec: ColumnSpec, cols: BarColumns): { bitmap?: Uint8Array; nulls: number } {
  if (!spec.nullable) return { nulls: 0 };
  const valid = cols.valid[spec.field]!;
  const n = cols.length;
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    if (valid[i] === 1) bitmap[i >> 3]! |= 1 << (i & 7);
    else nulls++;
  }
  return nulls === 0 ? { nulls } : { bitmap, nulls };
}

/** Few distinct strings (exchange, symbol, timeframe): encode each once, then copy bytes. */
function utf8Data(strings: readonly string[], type: Utf8): Data<Utf8> {
  const n = strings.length;
  const encoder = new TextEncoder();
  const encoded = new Map<string, Uint8Array>();
  const perRow: Uint8Array[] = new Array(n);
  const valueOffsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const s = strings[i]!;
    let bytes = encoded.get(s);
    if (bytes === undefined) {
      bytes = encoder.encode(s);
      encoded.set(s, bytes);
    }
    perRow[i] = bytes;
    total += bytes.length;
    valueOffsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  for (let i = 0; i < n; i++) data.set(perRow[i]!, valueOffsets[i]!);
  return makeData({ type, length: n, nullCount: 0, valueOffsets, data });
}

function columnData(spec: ColumnSpec, cols: BarColumns): Data {
  const n = cols.length;
  const type = arrowType(spec.kind);
  const { bitmap, nulls } = validityOf(spec, cols);
  const common = { length: n, nullCount: nulls, ...(bitmap ? { nullBitmap: bitmap } : {}) };
  switch (spec.kind) {
    case 'utf8':
      return utf8Data(cols.str[spec.field]!, type as Utf8);
    case 'timestamp_ms': {
      // int64 written as two int32 halves (little-endian): BigInt(v) per row costs seconds of GC at 1M rows.
      const src = cols.num[spec.field]!;
      const data = new BigInt64Array(n);
      const halves = new Int32Array(data.buffer);
      for (let i = 0; i < n; i++) {
        const v = src[i]!;
        const high = Math.floor(v / 4_294_967_296);
        halves[2 * i] = v - high * 4_294_967_296;
        halves[2 * i + 1] = high;
      }
      return makeData({ ...common, type: type as Timestamp, data });
    }
    case 'float64':
      return makeData({ ...common, type: type as Float64, data: cols.num[spec.field]! });
    case 'int32':
      return makeData({ ...common, type: type as Int32, data: Int32Array.from(cols.num[spec.field]!) });
    case 'bool': {
      const src = cols.bool[spec.field]!;
      const data = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) if (src[i] === 1) data[i >> 3]! |= 1 << (i & 7);
      return makeData({ ...common, type: type as Bool, data });
    }
  }
}

/** Rows in file order: by ts, then revision (history files hold several revisions per ts). */
export function compareBarsForFile(a: AlignedBar, b: AlignedBar): number {
  return a.eventTimeMs - b.eventTimeMs || a.revision - b.revision;
}

/**
 * Encodes aligned bars as one ZSTD Parquet file, rows sorted by (ts, revision).
 * The caller decides which rows belong together (one window); nothing is deduplicated here.
 * Deterministic: the same rows and options give the same bytes.
 */
export function encodeBarsToParquet(bars: readonly AlignedBar[], options: EncodeOptions = {}): Uint8Array {
  const rows = isSortedForFile(bars) ? bars : [...bars].sort(compareBarsForFile);
  const writer = options.writerVersion ?? DATASET_WRITER_VERSION;
  const schema = alignedBarArrowSchema();
  const cols = barsToColumns(rows);
  const children = ALIGNED_BAR_COLUMNS.map((s) => columnData(s, cols));
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }),
  );
  const ipc = tableToIPC(new Table(schema, [batch]), 'stream');
  let props = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setCreatedBy(writer)
    .setMaxRowGroupSize(options.maxRowGroupRows ?? 1_000_000)
    .setKeyValueMetadata(
      new Map([
        [
          PARQUET_METADATA_KEY,
          fileMetadataJson({
            schema: `aligned_bar/v${SCHEMA_VERSION}`,
            schemaHash: ALIGNED_BAR_SCHEMA_HASH,
            writer,
          }),
        ],
      ]),
    );
  for (const s of ALIGNED_BAR_COLUMNS)
    if (s.dictionary) props = props.setColumnDictionaryEnabled(s.name, true);
  return writeParquet(WasmTable.fromIPCStream(ipc), props.build());
}

function isSortedForFile(bars: readonly AlignedBar[]): boolean {
  for (let i = 1; i < bars.length; i++) if (compareBarsForFile(bars[i - 1]!, bars[i]!) > 0) return false;
  return true;
}
