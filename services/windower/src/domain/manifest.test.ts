import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildManifest, sha256Hex } from './manifest.js';
import { sampleBar } from './test-bars.js';

describe('manifest', () => {
  it('counts rows, times and quality flags and hashes the body', () => {
    const rows = [sampleBar(0), sampleBar(1, { revision: 2 }), sampleBar(2)];
    const body = new Uint8Array([1, 2, 3]);
    const m = buildManifest({
      key: 'k',
      window: { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m', windowStartMs: 0 },
      schemaVersion: 1,
      rows,
      body,
      kafkaOffsets: [],
      writerVersion: 'w',
      writtenAtMs: 5,
    });
    assert.equal(m.rowCount, 3);
    assert.equal(m.minTsMs, rows[0]!.eventTimeMs);
    assert.equal(m.maxTsMs, rows[2]!.eventTimeMs);
    assert.equal(m.bytes, 3);
    assert.equal(m.sha256, '039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81');
    assert.equal(m.sha256, sha256Hex(body));
    assert.equal(m.quality.revised, 1);
    assert.equal(m.quality.candleFilled, 1); // i=0: 0 % 17 === 0
    assert.equal(m.quality.openInterestMissing, 1);
  });
});
