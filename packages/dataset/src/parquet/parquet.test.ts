import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlignedBar, AlignedBarSchema } from '@perpflow/contracts';
import { RecordBatch, Schema, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { ParquetFile, readParquet, Table as WasmTable, writeParquet } from 'parquet-wasm';
import { sha256Hex } from '../hash.js';
import { makeBars, prng } from '../test-support/bars.js';
import { ALIGNED_BAR_COLUMNS, type ColumnSpec, LAYOUT_1_COLUMNS, LAYOUT_2_COLUMNS } from './columns.js';
import { ParquetLayoutMismatch, readBarsParquet } from './decode.js';
import {
  ALIGNED_BAR_SCHEMA_HASH,
  alignedBarArrowSchema,
  compareBarsForFile,
  LAYOUT_1_SCHEMA_HASH,
  LAYOUT_2_SCHEMA_HASH,
  encodeBarsToParquet,
  encodeBarsToParquetStream,
  type StreamEncodeOptions,
} from './encode.js';

/**
 * The same bars as a writer of an older layout made them: only that layout's columns,
 * declared with that layout's nullability (the bars must have no null where it had none).
 */
function writeAsLayout(bars: readonly AlignedBar[], columns: readonly ColumnSpec[]): Uint8Array {
  const full = tableFromIPC(readParquet(encodeBarsToParquet(bars)).intoIPCStream());
  const selected = full.select(columns.map((c) => c.name));
  const schema = new Schema(alignedBarArrowSchema(columns).fields, full.schema.metadata);
  const old = new Table(
    schema,
    selected.batches.map((b) => new RecordBatch(schema, b.data)),
  );
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(old, 'stream')));
}

async function streamed(bars: readonly AlignedBar[], options?: StreamEncodeOptions): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of await encodeBarsToParquetStream(bars, options)) parts.push(part);
  return new Uint8Array(Buffer.concat(parts));
}

/** Rows of each row group, from the file's footer. */
async function rowGroupRows(bytes: Uint8Array): Promise<number[]> {
  const file = await ParquetFile.fromFile(new Blob([bytes]));
  return file
    .metadata()
    .rowGroups()
    .map((g) => g.numRows());
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const rnd = prng(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('Parquet encoding of aligned bars', () => {
  it('round-trips every field of every row, nulls included, sorted by ts', () => {
    const bars = makeBars({ count: 1440, seed: 7 });
    const nulls = bars.filter((b) => b.openInterest === null).length;
    assert.ok(nulls > 50, 'the fixture has null open interest');
    const { bars: back, metadata } = readBarsParquet(encodeBarsToParquet(shuffled(bars, 3)));
    assert.equal(back.length, bars.length);
    assert.deepEqual(back, bars);
    for (const b of back) AlignedBarSchema.parse(b);
    assert.equal(metadata.schema, 'aligned_bar/v1');
    assert.equal(metadata.schemaHash, ALIGNED_BAR_SCHEMA_HASH);
    assert.match(metadata.writer, /^@perpflow\/dataset /);
  });

  it('keeps several revisions of one bar time, ordered by revision', () => {
    const [a] = makeBars({ count: 1 }) as [AlignedBar];
    const revs = [2, 0, 1].map((revision) => ({ ...a, revision, knownAtMs: a.knownAtMs + revision * 1000 }));
    const back = readBarsParquet(encodeBarsToParquet(revs)).bars;
    assert.deepEqual(
      back.map((b) => b.revision),
      [0, 1, 2],
    );
  });

  it('writes the same bytes for the same rows (a replayed rewrite is byte-identical)', () => {
    const bars = makeBars({ count: 500, seed: 11 });
    assert.equal(sha256Hex(encodeBarsToParquet(bars)), sha256Hex(encodeBarsToParquet(shuffled(bars, 5))));
  });

  it('round-trips symbols with multi-byte UTF-8 and every exchange', () => {
    const bars = [
      ...makeBars({ count: 3, exchange: 'okx', symbol: 'ÄÖ/€:USDT' }),
      ...makeBars({
        count: 3,
        exchange: 'bybit',
        symbol: 'ETH/USDT:USDT-240329',
        startMs: 1_709_251_380_000,
      }),
    ];
    assert.deepEqual(readBarsParquet(encodeBarsToParquet(bars)).bars, bars);
  });

  it('encodes an empty window as a valid file with zero rows', () => {
    assert.deepEqual(readBarsParquet(encodeBarsToParquet([])).bars, []);
  });

  it('reads a layout 1 file (before the funding interval and liquidation semantics) with those fields filled', () => {
    const bars = [
      ...makeBars({ count: 30, seed: 5 }),
      ...makeBars({ count: 30, seed: 6, exchange: 'bybit', symbol: 'ETH/USDT:USDT' }),
    ];
    // The same file without the layout 2 and 3 columns, as the writer before them made it.
    const { bars: back, schemaHash } = readBarsParquet(writeAsLayout(bars, LAYOUT_1_COLUMNS));
    assert.equal(schemaHash, LAYOUT_1_SCHEMA_HASH);
    // The hash layout 1 files were written with (recorded before layout 3).
    assert.equal(LAYOUT_1_SCHEMA_HASH, '7f40b90138e80544c3162dc05264efce209fbe09e8f8da804b5eca320823707f');
    assert.notEqual(LAYOUT_1_SCHEMA_HASH, ALIGNED_BAR_SCHEMA_HASH);
    const expected = [...bars].sort(compareBarsForFile).map((b) => ({
      ...b,
      fundingIntervalMs: null,
      fundingRate8h: null,
      markPrice: null,
      markPriceTimeMs: null,
      indexPrice: null,
      indexPriceTimeMs: null,
      basis: null,
      openInterestMissing: b.openInterest === null ? ('not_observed' as const) : null,
      ...(b.exchange === 'bybit'
        ? { liqPriceKind: 'bankruptcy' as const, liqCompleteness: 'all' as const }
        : { liqPriceKind: 'average_fill' as const, liqCompleteness: 'snapshot_1s' as const }),
    }));
    assert.deepEqual(back, expected);
    assert.ok(
      bars.some((b) => b.fundingIntervalMs !== null),
      'the new file had intervals to lose',
    );
  });

  it('reads a layout 2 file (required liquidation figures, no open_interest_missing) with the reason filled', () => {
    const bars = [
      ...makeBars({ count: 30, seed: 7 }),
      ...makeBars({ count: 30, seed: 8, exchange: 'okx', symbol: 'ETH/USDT:USDT' }),
    ];
    const { bars: back, schemaHash } = readBarsParquet(writeAsLayout(bars, LAYOUT_2_COLUMNS));
    assert.equal(schemaHash, LAYOUT_2_SCHEMA_HASH);
    // The hash layout 2 files were written with (recorded before layout 3).
    assert.equal(LAYOUT_2_SCHEMA_HASH, '743f9f4ae8e8ec09f4eed33e1445a4547009b39c1e0e5302b571508f6ce6d948');
    assert.notEqual(LAYOUT_2_SCHEMA_HASH, ALIGNED_BAR_SCHEMA_HASH);
    // Every bar of these venues has a reason exactly where open interest is null: as before.
    assert.ok(back.some((b) => b.openInterest === null));
    assert.deepEqual(back, [...bars].sort(compareBarsForFile));
    for (const b of back) assert.equal(AlignedBarSchema.safeParse(b).success, true);
  });

  it('writes and reads layout 3: null liquidations and price kind of a venue without a source, and the open-interest reason', () => {
    const bars = [
      ...makeBars({ count: 40, seed: 9, exchange: 'hyperliquid', symbol: 'BTC/USDC:USDC' }),
      ...makeBars({ count: 40, seed: 10 }),
    ];
    const { bars: back, schemaHash } = readBarsParquet(encodeBarsToParquet(bars));
    assert.equal(schemaHash, ALIGNED_BAR_SCHEMA_HASH);
    assert.deepEqual(back, [...bars].sort(compareBarsForFile));
    const hl = back.filter((b) => b.exchange === 'hyperliquid');
    assert.ok(hl.every((b) => b.liqLongNotional === null && b.liqCount === null && b.liqPriceKind === null));
    assert.ok(hl.some((b) => b.openInterestMissing === 'no_history'));
    const binance = back.filter((b) => b.exchange === 'binanceusdm');
    assert.ok(
      binance.some((b) => b.liqCount === 0 && b.liqLongNotional === 0),
      'zero stays zero',
    );
    assert.ok(binance.some((b) => b.openInterestMissing === 'not_observed'));
    for (const b of back) assert.equal(AlignedBarSchema.safeParse(b).success, true);
  });

  it('refuses a Parquet file that is not an aligned-bar file', () => {
    const bytes = encodeBarsToParquet(makeBars({ count: 2 }));
    // Same file with the metadata key renamed: no longer ours.
    const text = Buffer.from(bytes);
    const at = text.indexOf('perpflow');
    assert.ok(at > 0);
    text.write('perpflox', at);
    assert.throws(() => readBarsParquet(new Uint8Array(text)), ParquetLayoutMismatch);
  });

  it('writes big files one row group at a time, with the same rows and metadata', async () => {
    const bars = [
      ...makeBars({ count: 1_000, seed: 31 }),
      ...makeBars({ count: 1_000, seed: 32, exchange: 'okx', symbol: 'ETH/USDT:USDT' }),
    ];
    const bytes = await streamed(shuffled(bars, 9), { rowGroupRows: 300 });
    const { bars: back, metadata } = readBarsParquet(bytes);
    assert.equal(back.length, 2_000);
    for (let i = 1; i < back.length; i++) assert.ok(compareBarsForFile(back[i - 1]!, back[i]!) <= 0);
    // Rows of one time keep their input order; compare as sets of rows.
    const bySeries = (a: AlignedBar, b: AlignedBar) =>
      compareBarsForFile(a, b) || a.exchange.localeCompare(b.exchange);
    assert.deepEqual([...back].sort(bySeries), [...bars].sort(bySeries));
    assert.equal(metadata.schemaHash, ALIGNED_BAR_SCHEMA_HASH);
    assert.deepEqual(await rowGroupRows(bytes), [300, 300, 300, 300, 300, 300, 200]);
  });

  it('streams a one-group file byte-identical to encodeBarsToParquet, and an empty one', async () => {
    const bars = makeBars({ count: 1_440, seed: 33 });
    const one = await streamed(bars, { rowGroupRows: 2_000 });
    assert.equal(sha256Hex(one), sha256Hex(encodeBarsToParquet(bars, { maxRowGroupRows: 2_000 })));
    assert.deepEqual(readBarsParquet(await streamed([])).bars, []);
  });

  it('maps every AlignedBar field to exactly one column', () => {
    const fields = Object.keys(makeBars({ count: 1 })[0]!).filter((k) => k !== 'schemaVersion');
    assert.deepEqual(ALIGNED_BAR_COLUMNS.map((c) => c.field).sort(), fields.sort());
    assert.deepEqual(
      ALIGNED_BAR_COLUMNS.filter((c) => c.dictionary).map((c) => c.name),
      [
        'exchange',
        'symbol',
        'timeframe',
        'open_interest_missing',
        'funding_interval_ms',
        'liq_count',
        'liq_price_kind',
        'liq_completeness',
        'revision',
      ],
    );
    assert.deepEqual(
      ALIGNED_BAR_COLUMNS.filter((c) => c.deltaEncoded).map((c) => c.name),
      [
        'ts',
        'open_interest_ts',
        'funding_ts',
        'predicted_funding_ts',
        'mark_price_ts',
        'index_price_ts',
        'known_at',
      ],
    );
  });
});
