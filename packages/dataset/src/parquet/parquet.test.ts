import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlignedBar, AlignedBarSchema } from '@perpflow/contracts';
import { sha256Hex } from '../hash.js';
import { makeBars, prng } from '../test-support/bars.js';
import { ALIGNED_BAR_COLUMNS } from './columns.js';
import { ParquetLayoutMismatch, readBarsParquet } from './decode.js';
import { ALIGNED_BAR_SCHEMA_HASH, encodeBarsToParquet } from './encode.js';

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

  it('refuses a Parquet file that is not an aligned-bar file', () => {
    const bytes = encodeBarsToParquet(makeBars({ count: 2 }));
    // Same file with the metadata key renamed: no longer ours.
    const text = Buffer.from(bytes);
    const at = text.indexOf('perpflow');
    assert.ok(at > 0);
    text.write('perpflox', at);
    assert.throws(() => readBarsParquet(new Uint8Array(text)), ParquetLayoutMismatch);
  });

  it('maps every AlignedBar field to exactly one column', () => {
    const fields = Object.keys(makeBars({ count: 1 })[0]!).filter((k) => k !== 'schemaVersion');
    assert.deepEqual(ALIGNED_BAR_COLUMNS.map((c) => c.field).sort(), fields.sort());
    assert.deepEqual(
      ALIGNED_BAR_COLUMNS.filter((c) => c.dictionary).map((c) => c.name),
      ['exchange', 'symbol', 'timeframe', 'liq_count', 'revision'],
    );
  });
});
