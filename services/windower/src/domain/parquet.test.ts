import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlignedBarSchema } from '@perpflow/contracts';
import { readParquet } from 'parquet-wasm';
import { tableFromIPC } from 'apache-arrow';
import { decodeAlignedBars, encodeAlignedBars, PARQUET_METADATA_KEYS } from './parquet.js';
import { sampleBar } from './test-bars.js';

describe('Parquet encoding of aligned bars', () => {
  it('round-trips every field, nulls included, with rows sorted by ts', () => {
    const bars = Array.from({ length: 300 }, (_, i) => sampleBar(i));
    bars[7] = {
      ...bars[7]!,
      predictedFundingRate: -0.0002,
      predictedFundingTimeMs: bars[7]!.eventTimeMs + 1,
    };
    const shuffled = [...bars].reverse();
    const { bars: back, metadata } = decodeAlignedBars(encodeAlignedBars(shuffled));
    assert.deepEqual(back, bars);
    for (const b of back) AlignedBarSchema.parse(b);
    assert.equal(metadata[PARQUET_METADATA_KEYS.schemaVersion], 'aligned_bar/v1');
  });

  it('uses snake_case columns, UTC millisecond timestamps, int32 and nullable float64', () => {
    const table = tableFromIPC(readParquet(encodeAlignedBars([sampleBar(0), sampleBar(1)])).intoIPCStream());
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, `${f.type}|${f.nullable}`]));
    assert.equal(types.ts, 'Timestamp<MILLISECOND, UTC>|false');
    assert.equal(types.known_at, 'Timestamp<MILLISECOND, UTC>|false');
    assert.equal(types.open_interest, 'Float64|true');
    assert.equal(types.funding_rate, 'Float64|true');
    assert.equal(types.liq_count, 'Int32|false');
    assert.equal(types.revision, 'Int32|false');
    assert.equal(types.candle_filled, 'Bool|false');
  });

  it('is deterministic: the same rows give the same bytes', () => {
    const bars = Array.from({ length: 50 }, (_, i) => sampleBar(i));
    assert.deepEqual(encodeAlignedBars(bars), encodeAlignedBars([...bars].reverse()));
  });

  it('writes an empty window', () => {
    assert.deepEqual(decodeAlignedBars(encodeAlignedBars([])).bars, []);
  });
});
