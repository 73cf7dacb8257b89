import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlignedBar, AlignedBarSchema } from '@perpflow/contracts';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import { ParquetFile, readParquet, Table as WasmTable, writeParquet } from 'parquet-wasm';
import { sha256Hex } from '../hash.js';
import { makeBars, prng } from '../test-support/bars.js';
import { ALIGNED_BAR_COLUMNS, LAYOUT_1_COLUMNS } from './columns.js';
import { ParquetLayoutMismatch, readBarsParquet } from './decode.js';
import {
  ALIGNED_BAR_SCHEMA_HASH,
  compareBarsForFile,
  LAYOUT_1_SCHEMA_HASH,
  encodeBarsToParquet,
  encodeBarsToParquetStream,
  type StreamEncodeOptions,
} from './encode.js';

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
    // The same file without the layout 2 columns, as the writer before them made it.
    const full = tableFromIPC(readParquet(encodeBarsToParquet(bars)).intoIPCStream());
    const old = full.select(LAYOUT_1_COLUMNS.map((c) => c.name));
    const bytes = writeParquet(WasmTable.fromIPCStream(tableToIPC(old, 'stream')));
    const { bars: back, schemaHash } = readBarsParquet(bytes);
    assert.equal(schemaHash, LAYOUT_1_SCHEMA_HASH);
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
