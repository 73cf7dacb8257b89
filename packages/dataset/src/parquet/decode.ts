import { type AlignedBar, SCHEMA_VERSION } from '@perpflow/contracts';
import { type Schema, tableFromIPC, type Vector } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { ALIGNED_BAR_COLUMNS, type FileMetadata, PARQUET_METADATA_KEY } from './columns.js';
import { ALIGNED_BAR_SCHEMA_HASH, schemaHashOf } from './encode.js';

/** The file is not an aligned-bar Parquet file this version can read. Not retriable. */
export class ParquetLayoutMismatch extends Error {
  readonly code = 'PARQUET_LAYOUT_MISMATCH';
  readonly retriable = false;
}

export interface DecodedParquet {
  bars: AlignedBar[];
  /** The file's `perpflow` metadata entry. */
  metadata: FileMetadata;
  /** schemaHashOf the schema read back; equals ALIGNED_BAR_SCHEMA_HASH for our files. */
  schemaHash: string;
}

/** Reads a file written by encodeBarsToParquet back into contract records, in file order. */
export function readBarsParquet(bytes: Uint8Array): DecodedParquet {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const metadata = parseFileMetadata(table.schema.metadata.get(PARQUET_METADATA_KEY));
  const schemaHash = schemaHashOf(table.schema as Schema);
  const expectedSchema = `aligned_bar/v${SCHEMA_VERSION}`;
  if (metadata.schema !== expectedSchema)
    throw new ParquetLayoutMismatch(`file holds ${metadata.schema}, expected ${expectedSchema}`);
  if (schemaHash !== ALIGNED_BAR_SCHEMA_HASH)
    throw new ParquetLayoutMismatch(`column layout hash ${schemaHash} ≠ ${ALIGNED_BAR_SCHEMA_HASH}`);

  const n = table.numRows;
  const rows: Record<string, unknown>[] = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = { schemaVersion: SCHEMA_VERSION };
  for (const spec of ALIGNED_BAR_COLUMNS) {
    const vec = table.getChild(spec.name) as Vector | null;
    if (!vec) throw new ParquetLayoutMismatch(`no column ${spec.name}`);
    for (let i = 0; i < n; i++) {
      const v: unknown = vec.get(i);
      rows[i]![spec.field] =
        v === null || v === undefined
          ? null
          : spec.kind === 'timestamp_ms' || spec.kind === 'int32'
            ? Number(v)
            : v;
    }
  }
  return { bars: rows as unknown as AlignedBar[], metadata, schemaHash };
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
