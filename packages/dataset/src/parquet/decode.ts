import { type AlignedBar, PerpflowError, SCHEMA_VERSION } from '@perpflow/contracts';
import { type Data, type Schema, tableFromIPC, type Vector } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import {
  ALIGNED_BAR_COLUMNS,
  type ColumnSpec,
  type FileMetadata,
  LAYOUT_1_COLUMNS,
  LAYOUT_2_COLUMNS,
  PARQUET_METADATA_KEY,
} from './columns.js';
import { type BarColumns, columnsToBars } from './transpose.js';
import {
  ALIGNED_BAR_SCHEMA_HASH,
  LAYOUT_1_SCHEMA_HASH,
  LAYOUT_2_SCHEMA_HASH,
  schemaHashOf,
} from './encode.js';

/** The file is not an aligned-bar Parquet file this version can read. Not retriable. */
export class ParquetLayoutMismatch extends PerpflowError {
  readonly code = 'PARQUET_LAYOUT_MISMATCH';
  readonly retriable = false;
}

export interface DecodedParquet {
  bars: AlignedBar[];
  /** The file's `perpflow` metadata entry. */
  metadata: FileMetadata;
  /** schemaHashOf the schema read back: ALIGNED_BAR_SCHEMA_HASH, or LAYOUT_2/LAYOUT_1_SCHEMA_HASH for older files. */
  schemaHash: string;
}

/** Reads a file written by encodeBarsToParquet back into contract records, in file order. */
export function readBarsParquet(bytes: Uint8Array): DecodedParquet {
  let table: ReturnType<typeof tableFromIPC>;
  try {
    table = tableFromIPC(readParquet(bytes).intoIPCStream());
  } catch (err) {
    // parquet-wasm's own errors ("EOF: Parquet file too small") name no file: say what it is.
    throw new ParquetLayoutMismatch(
      `not a readable Parquet file (${bytes.byteLength} bytes): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const metadata = parseFileMetadata(table.schema.metadata.get(PARQUET_METADATA_KEY));
  const schemaHash = schemaHashOf(table.schema as Schema);
  const expectedSchema = `aligned_bar/v${SCHEMA_VERSION}`;
  if (metadata.schema !== expectedSchema)
    throw new ParquetLayoutMismatch(`file holds ${metadata.schema}, expected ${expectedSchema}`);
  const columns =
    schemaHash === ALIGNED_BAR_SCHEMA_HASH
      ? ALIGNED_BAR_COLUMNS
      : schemaHash === LAYOUT_2_SCHEMA_HASH
        ? LAYOUT_2_COLUMNS
        : schemaHash === LAYOUT_1_SCHEMA_HASH
          ? LAYOUT_1_COLUMNS
          : null;
  if (columns === null)
    throw new ParquetLayoutMismatch(`column layout hash ${schemaHash} ≠ ${ALIGNED_BAR_SCHEMA_HASH}`);

  const n = table.numRows;
  const cols: BarColumns = { length: n, num: {}, valid: {}, bool: {}, str: {} };
  for (const spec of columns) {
    const vec = table.getChild(spec.name) as Vector | null;
    if (!vec) throw new ParquetLayoutMismatch(`no column ${spec.name}`);
    readColumn(spec, vec.data as Data[], n, cols);
  }
  return { bars: columnsToBars(cols), metadata, schemaHash };
}

const bit = (bitmap: Uint8Array, i: number) => (bitmap[i >> 3]! >> (i & 7)) & 1;

/** Copies one Arrow column (possibly several chunks) into BarColumns, without per-row boxing. */
function readColumn(spec: ColumnSpec, chunks: readonly Data[], n: number, cols: BarColumns): void {
  const valid = spec.nullable ? new Uint8Array(n) : null;
  const num =
    spec.kind === 'float64' || spec.kind === 'int32' || spec.kind === 'timestamp_ms'
      ? new Float64Array(n)
      : null;
  const bool = spec.kind === 'bool' ? new Uint8Array(n) : null;
  const str: string[] | null = spec.kind === 'utf8' ? new Array(n) : null;
  const decoder = new TextDecoder();
  let at = 0;
  for (const d of chunks) {
    const off = d.offset;
    const nulls = d.nullBitmap && d.nullBitmap.length > 0 && d.nullCount > 0 ? d.nullBitmap : null;
    for (let i = 0; i < d.length; i++) {
      const ok = nulls === null || bit(nulls, off + i) === 1;
      if (valid) valid[at + i] = ok ? 1 : 0;
      else if (!ok) throw new ParquetLayoutMismatch(`null in required column ${spec.name}, row ${at + i}`);
    }
    if (spec.kind === 'timestamp_ms') {
      const v = d.values as BigInt64Array;
      const halves = new Int32Array(v.buffer, v.byteOffset, v.length * 2);
      for (let i = 0; i < d.length; i++)
        num![at + i] = halves[2 * (off + i) + 1]! * 4_294_967_296 + (halves[2 * (off + i)]! >>> 0);
    } else if (spec.kind === 'float64' || spec.kind === 'int32') {
      const v = d.values as Float64Array | Int32Array;
      for (let i = 0; i < d.length; i++) num![at + i] = v[off + i]!;
    } else if (spec.kind === 'bool') {
      const v = d.values as Uint8Array;
      for (let i = 0; i < d.length; i++) bool![at + i] = bit(v, off + i);
    } else {
      // Few distinct values: reuse the previous string when the bytes repeat.
      const offsets = d.valueOffsets as Int32Array;
      const bytes = d.values as Uint8Array;
      let prev: string | null = null;
      let prevStart = -1;
      let prevEnd = -1;
      for (let i = 0; i < d.length; i++) {
        const s = offsets[off + i]!;
        const e = offsets[off + i + 1]!;
        if (prev === null || !sameBytes(bytes, s, e, prevStart, prevEnd)) {
          prev = decoder.decode(bytes.subarray(s, e));
          prevStart = s;
          prevEnd = e;
        }
        str![at + i] = prev;
      }
    }
    at += d.length;
  }
  if (valid) cols.valid[spec.field] = valid;
  if (num) cols.num[spec.field] = num;
  if (bool) cols.bool[spec.field] = bool;
  if (str) cols.str[spec.field] = str;
}

function sameBytes(b: Uint8Array, s: number, e: number, ps: number, pe: number): boolean {
  if (e - s !== pe - ps) return false;
  for (let k = 0; k < e - s; k++) if (b[s + k] !== b[ps + k]) return false;
  return true;
}

function parseFileMetadata(raw: string | undefined): FileMetadata {
  if (raw === undefined)
    throw new ParquetLayoutMismatch(`no '${PARQUET_METADATA_KEY}' metadata: not our file`);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (cause) {
    throw new ParquetLayoutMismatch(`'${PARQUET_METADATA_KEY}' metadata is not JSON`, { cause });
  }
  const m = v as Partial<FileMetadata> | null;
  if (
    typeof m !== 'object' ||
    m === null ||
    typeof m.schema !== 'string' ||
    typeof m.schemaHash !== 'string' ||
    typeof m.writer !== 'string'
  )
    throw new ParquetLayoutMismatch(`'${PARQUET_METADATA_KEY}' metadata lacks schema, schemaHash or writer`);
  return { schema: m.schema, schemaHash: m.schemaHash, writer: m.writer };
}

/** The bars of a file written by encodeBarsToParquet (tests, merge on rewrite, the pull client). */
export function decodeParquetToBars(bytes: Uint8Array): AlignedBar[] {
  return readBarsParquet(bytes).bars;
}
