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
  tableFromIPC,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import {
  Compression,
  readParquet,
  Table as WasmTable,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm';

/**
 * Parquet layout of aligned bars: snake_case columns, times as TIMESTAMP(MILLIS, UTC),
 * rows sorted by ts, ZSTD, the contract's schema version in the key-value metadata.
 * Dictionary encoding only on the low-cardinality columns: random doubles fall back
 * from it and inflate the file (see /work/shared/notes/parquet-and-s3.md).
 */
export const PARQUET_METADATA_KEYS = {
  /** `aligned_bar/v<N>`. One key only: parquet-wasm orders several keys differently per call. */
  schemaVersion: 'perpflow.schema',
} as const;
const DICTIONARY_COLUMNS = ['exchange', 'symbol', 'timeframe', 'liq_count', 'revision'];

type Kind = 'utf8' | 'ts' | 'f64' | 'i32' | 'bool';
interface ColumnSpec {
  name: string;
  kind: Kind;
  nullable: boolean;
  get: (b: AlignedBar) => string | number | boolean | null;
}
const col = (name: string, kind: Kind, get: ColumnSpec['get'], nullable = false): ColumnSpec => ({
  name,
  kind,
  nullable,
  get,
});

/** One place maps contract fields to columns (and back, in decodeAlignedBars). */
export const ALIGNED_BAR_COLUMNS: readonly ColumnSpec[] = [
  col('exchange', 'utf8', (b) => b.exchange),
  col('symbol', 'utf8', (b) => b.symbol),
  col('timeframe', 'utf8', (b) => b.timeframe),
  col('ts', 'ts', (b) => b.eventTimeMs),
  col('open', 'f64', (b) => b.open),
  col('high', 'f64', (b) => b.high),
  col('low', 'f64', (b) => b.low),
  col('close', 'f64', (b) => b.close),
  col('volume', 'f64', (b) => b.volume),
  col('open_interest', 'f64', (b) => b.openInterest, true),
  col('open_interest_ts', 'ts', (b) => b.openInterestTimeMs, true),
  col('funding_rate', 'f64', (b) => b.fundingRate, true),
  col('funding_ts', 'ts', (b) => b.fundingTimeMs, true),
  col('predicted_funding_rate', 'f64', (b) => b.predictedFundingRate, true),
  col('predicted_funding_ts', 'ts', (b) => b.predictedFundingTimeMs, true),
  col('liq_long_notional', 'f64', (b) => b.liqLongNotional),
  col('liq_short_notional', 'f64', (b) => b.liqShortNotional),
  col('liq_count', 'i32', (b) => b.liqCount),
  col('known_at', 'ts', (b) => b.knownAtMs),
  col('revision', 'i32', (b) => b.revision),
  col('candle_filled', 'bool', (b) => b.candleFilled),
  col('open_interest_stale', 'bool', (b) => b.openInterestStale),
  col('funding_stale', 'bool', (b) => b.fundingStale),
];

function arrowType(kind: Kind): DataType {
  switch (kind) {
    case 'utf8':
      return new Utf8();
    case 'ts':
      return new Timestamp(TimeUnit.MILLISECOND, 'UTC');
    case 'f64':
      return new Float64();
    case 'i32':
      return new Int32();
    case 'bool':
      return new Bool();
  }
}

function columnData(spec: ColumnSpec, rows: readonly AlignedBar[]): Data {
  const n = rows.length;
  const type = arrowType(spec.kind);
  let nullBitmap: Uint8Array | undefined;
  let nullCount = 0;
  if (spec.nullable) {
    nullBitmap = new Uint8Array((n + 7) >> 3);
    for (let i = 0; i < n; i++)
      if (spec.get(rows[i]!) === null) nullCount++;
      else nullBitmap[i >> 3]! |= 1 << (i & 7);
  }
  const common = { type, length: n, nullCount, ...(nullBitmap ? { nullBitmap } : {}) };
  switch (spec.kind) {
    case 'utf8': {
      // UTF-8 bytes and offsets written directly: vectorFromArray over many strings is slow.
      const enc = new TextEncoder();
      const cache = new Map<string, Uint8Array>();
      const parts: Uint8Array[] = [];
      const valueOffsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const s = String(spec.get(rows[i]!));
        let b = cache.get(s);
        if (!b) {
          b = enc.encode(s);
          cache.set(s, b);
        }
        parts.push(b);
        total += b.length;
        valueOffsets[i + 1] = total;
      }
      const data = new Uint8Array(total);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
      return makeData({ ...common, type: type as Utf8, valueOffsets, data });
    }
    case 'ts': {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) data[i] = BigInt((spec.get(rows[i]!) as number | null) ?? 0);
      return makeData({ ...common, type: type as Timestamp, data });
    }
    case 'f64': {
      const data = new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = (spec.get(rows[i]!) as number | null) ?? 0;
      return makeData({ ...common, type: type as Float64, data });
    }
    case 'i32': {
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = spec.get(rows[i]!) as number;
      return makeData({ ...common, type: type as Int32, data });
    }
    case 'bool': {
      const data = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) if (spec.get(rows[i]!) === true) data[i >> 3]! |= 1 << (i & 7);
      return makeData({ ...common, type: type as Bool, data });
    }
  }
}

export interface EncodeOptions {
  /** Written as the file's created_by; default `perpflow-windower`. */
  createdBy?: string;
}

/** Encodes bars (sorted here by ts) as one Parquet file. */
export function encodeAlignedBars(bars: readonly AlignedBar[], options: EncodeOptions = {}): Uint8Array {
  const rows = [...bars].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
  const fields = ALIGNED_BAR_COLUMNS.map((c) => new Field(c.name, arrowType(c.kind), c.nullable));
  const schema = new Schema(fields);
  const children = ALIGNED_BAR_COLUMNS.map((c) => columnData(c, rows));
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(fields), length: rows.length, nullCount: 0, children }),
  );
  const ipc = tableToIPC(new Table(schema, [batch]), 'stream');
  let props = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setCreatedBy(options.createdBy ?? 'perpflow-windower')
    .setKeyValueMetadata(new Map([[PARQUET_METADATA_KEYS.schemaVersion, `aligned_bar/v${SCHEMA_VERSION}`]]));
  for (const name of DICTIONARY_COLUMNS) props = props.setColumnDictionaryEnabled(name, true);
  const wasmTable = WasmTable.fromIPCStream(ipc);
  return writeParquet(wasmTable, props.build());
}

export interface DecodedParquet {
  bars: AlignedBar[];
  /** The file's key-value metadata. */
  metadata: Record<string, string>;
}

/** Reads a file written by encodeAlignedBars back into contract records (merge on rewrite, tests). */
export function decodeAlignedBars(parquet: Uint8Array): DecodedParquet {
  const wasm = readParquet(parquet);
  const table = tableFromIPC(wasm.intoIPCStream());
  const metadata = Object.fromEntries(table.schema.metadata);
  const vec = (name: string) => {
    const v = table.getChild(name);
    if (!v) throw new Error(`Parquet file has no column ${name}`);
    return v;
  };
  const cols = Object.fromEntries(ALIGNED_BAR_COLUMNS.map((c) => [c.name, vec(c.name)]));
  const num = (name: string, i: number): number | null => {
    const v = cols[name]!.get(i) as number | bigint | null;
    return v === null ? null : Number(v);
  };
  const req = (name: string, i: number): number => {
    const v = num(name, i);
    if (v === null) throw new Error(`null in required column ${name}, row ${i}`);
    return v;
  };
  const bars: AlignedBar[] = [];
  for (let i = 0; i < table.numRows; i++)
    bars.push({
      schemaVersion: SCHEMA_VERSION,
      exchange: cols.exchange!.get(i) as AlignedBar['exchange'],
      symbol: cols.symbol!.get(i) as string,
      timeframe: cols.timeframe!.get(i) as AlignedBar['timeframe'],
      eventTimeMs: req('ts', i),
      open: req('open', i),
      high: req('high', i),
      low: req('low', i),
      close: req('close', i),
      volume: req('volume', i),
      openInterest: num('open_interest', i),
      openInterestTimeMs: num('open_interest_ts', i),
      fundingRate: num('funding_rate', i),
      fundingTimeMs: num('funding_ts', i),
      predictedFundingRate: num('predicted_funding_rate', i),
      predictedFundingTimeMs: num('predicted_funding_ts', i),
      liqLongNotional: req('liq_long_notional', i),
      liqShortNotional: req('liq_short_notional', i),
      liqCount: req('liq_count', i),
      knownAtMs: req('known_at', i),
      revision: req('revision', i),
      candleFilled: cols.candle_filled!.get(i) as boolean,
      openInterestStale: cols.open_interest_stale!.get(i) as boolean,
      fundingStale: cols.funding_stale!.get(i) as boolean,
    });
  return { bars, metadata };
}
