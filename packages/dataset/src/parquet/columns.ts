import type { AlignedBar } from '@perpflow/contracts';

/**
 * The Parquet row layout of AlignedBar: one place maps each contract field to its
 * column (snake_case), its type and whether it is dictionary-encoded. encode.ts,
 * decode.ts, the README table and the read-back tests all follow this list.
 */
export type ColumnKind = 'utf8' | 'timestamp_ms' | 'float64' | 'int32' | 'bool';

export interface ColumnSpec {
  /** Parquet / Arrow column name. */
  readonly name: string;
  /** The AlignedBar field it holds. */
  readonly field: keyof AlignedBar;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  /**
   * Dictionary-encode only low-cardinality columns: random doubles fall back from
   * the dictionary after filling it and end larger than plain encoding.
   */
  readonly dictionary: boolean;
  /**
   * DELTA_BINARY_PACKED instead of PLAIN for the timestamp columns: bar times step by a
   * fixed interval, so a day's 1,440 values take a few dozen bytes instead of 11.5 kB,
   * and ZSTD has 40 % less input (the writer's most expensive step). Read by pyarrow
   * and DuckDB (tested).
   */
  readonly deltaEncoded: boolean;
  /**
   * The layout the column first appeared in: 1 for the original 23 columns, 2 for the
   * funding interval, the 8 h rate, mark, index and basis, and the liquidation
   * semantics (issue #14), 3 for `open_interest_missing`. Files of layouts 1 and 2 stay
   * readable: the added fields are then filled as `columnsToBars` says.
   */
  readonly since: Layout;
  /**
   * The layout from which the column may hold nulls (when `nullable`): 3 for the
   * liquidation figures and price kind, null since layout 3 where a venue has no
   * liquidation source. Older layouts declared them required, and their schema hashes
   * say so.
   */
  readonly nullableSince: Layout;
}

/** The Parquet layouts: 1 (original), 2 (funding interval, mark/index, liquidation semantics), 3 (this one). */
export type Layout = 1 | 2 | 3;

const c = (
  name: string,
  field: keyof AlignedBar,
  kind: ColumnKind,
  opts: { nullable?: boolean; dictionary?: boolean; since?: Layout; nullableSince?: Layout } = {},
): ColumnSpec => ({
  name,
  field,
  kind,
  nullable: opts.nullable ?? false,
  dictionary: opts.dictionary ?? false,
  deltaEncoded: kind === 'timestamp_ms',
  since: opts.since ?? 1,
  nullableSince: opts.nullableSince ?? opts.since ?? 1,
});

export const ALIGNED_BAR_COLUMNS: readonly ColumnSpec[] = [
  c('exchange', 'exchange', 'utf8', { dictionary: true }),
  c('symbol', 'symbol', 'utf8', { dictionary: true }),
  c('timeframe', 'timeframe', 'utf8', { dictionary: true }),
  c('ts', 'eventTimeMs', 'timestamp_ms'),
  c('open', 'open', 'float64'),
  c('high', 'high', 'float64'),
  c('low', 'low', 'float64'),
  c('close', 'close', 'float64'),
  c('volume', 'volume', 'float64'),
  c('open_interest', 'openInterest', 'float64', { nullable: true }),
  c('open_interest_ts', 'openInterestTimeMs', 'timestamp_ms', { nullable: true }),
  c('open_interest_missing', 'openInterestMissing', 'utf8', { nullable: true, dictionary: true, since: 3 }),
  c('funding_rate', 'fundingRate', 'float64', { nullable: true }),
  c('funding_ts', 'fundingTimeMs', 'timestamp_ms', { nullable: true }),
  c('predicted_funding_rate', 'predictedFundingRate', 'float64', { nullable: true }),
  c('predicted_funding_ts', 'predictedFundingTimeMs', 'timestamp_ms', { nullable: true }),
  c('funding_interval_ms', 'fundingIntervalMs', 'int32', { nullable: true, dictionary: true, since: 2 }),
  c('funding_rate_8h', 'fundingRate8h', 'float64', { nullable: true, since: 2 }),
  c('mark_price', 'markPrice', 'float64', { nullable: true, since: 2 }),
  c('mark_price_ts', 'markPriceTimeMs', 'timestamp_ms', { nullable: true, since: 2 }),
  c('index_price', 'indexPrice', 'float64', { nullable: true, since: 2 }),
  c('index_price_ts', 'indexPriceTimeMs', 'timestamp_ms', { nullable: true, since: 2 }),
  c('basis', 'basis', 'float64', { nullable: true, since: 2 }),
  c('liq_long_notional', 'liqLongNotional', 'float64', { nullable: true, nullableSince: 3 }),
  c('liq_short_notional', 'liqShortNotional', 'float64', { nullable: true, nullableSince: 3 }),
  c('liq_count', 'liqCount', 'int32', { nullable: true, dictionary: true, nullableSince: 3 }),
  c('liq_price_kind', 'liqPriceKind', 'utf8', {
    nullable: true,
    dictionary: true,
    since: 2,
    nullableSince: 3,
  }),
  c('liq_completeness', 'liqCompleteness', 'utf8', { dictionary: true, since: 2 }),
  c('known_at', 'knownAtMs', 'timestamp_ms'),
  c('revision', 'revision', 'int32', { dictionary: true }),
  c('candle_filled', 'candleFilled', 'bool'),
  c('open_interest_stale', 'openInterestStale', 'bool'),
  c('funding_stale', 'fundingStale', 'bool'),
];

/** The columns of an older layout as its files declare them (its columns, their nullability then). */
function layoutColumns(layout: Layout): readonly ColumnSpec[] {
  return ALIGNED_BAR_COLUMNS.filter((s) => s.since <= layout).map((s) =>
    s.nullable && s.nullableSince > layout ? { ...s, nullable: false } : s,
  );
}

/** The columns of layout 1 (files written before the funding interval and liquidation semantics). */
export const LAYOUT_1_COLUMNS: readonly ColumnSpec[] = layoutColumns(1);
/** The columns of layout 2 (files written before open_interest_missing and nullable liquidation figures). */
export const LAYOUT_2_COLUMNS: readonly ColumnSpec[] = layoutColumns(2);

/**
 * The one key-value metadata entry of every file, `perpflow`, holds canonical JSON
 * (see FileMetadata). One key, not three: parquet-wasm writes several keys in an
 * order that changes from call to call, and the same rows must give the same bytes
 * (same sha256) so that a replayed rewrite of a window is byte-identical.
 */
export const PARQUET_METADATA_KEY = 'perpflow';

export interface FileMetadata {
  /** `aligned_bar/v<SCHEMA_VERSION>`: the contract version of the rows. */
  schema: string;
  /** Stable hash of the column layout (schemaHashOf). */
  schemaHash: string;
  /** The writer that produced the file, e.g. `@perpflow/dataset 0.2.0` (also Parquet `created_by`). */
  writer: string;
}

/** Canonical JSON (fixed key order) of the file metadata. */
export function fileMetadataJson(m: FileMetadata): string {
  return JSON.stringify({ schema: m.schema, schemaHash: m.schemaHash, writer: m.writer });
}
