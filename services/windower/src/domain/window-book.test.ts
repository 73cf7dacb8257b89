import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY_MS } from './keys.js';
import { sampleBar } from './test-bars.js';
import { mergeOffsetRanges, sortedRows, WindowBook } from './window-book.js';

const src = (offset: number, partition = 0) => ({ topic: 't', partition, offset: String(offset) });

describe('window book', () => {
  it('groups bars per exchange, symbol, timeframe and UTC day', () => {
    const book = new WindowBook();
    book.add(sampleBar(0), src(0), 1);
    book.add(sampleBar(1439), src(1), 1); // 23:59 same day
    book.add(sampleBar(1440), src(2), 1); // next day
    book.add(sampleBar(0, { symbol: 'ETH/USDT:USDT' }), src(3), 1);
    book.add(sampleBar(0, { timeframe: '5m' }), src(4), 1);
    book.add(sampleBar(0, { exchange: 'bybit' }), src(5), 1);
    assert.equal(book.size, 5);
    const first = book
      .dirtyWindows()
      .find(
        (w) =>
          w.id.symbol === 'BTC/USDT:USDT' &&
          w.id.timeframe === '1m' &&
          w.id.exchange === 'binanceusdm' &&
          w.rows.size === 2,
      );
    assert.ok(first);
    assert.equal(first.id.windowStartMs % DAY_MS, 0);
  });

  it('keeps the highest revision per bar time, whatever the arrival order', () => {
    const book = new WindowBook();
    const w = book.add(sampleBar(5, { revision: 2, close: 3 }), src(10), 1);
    book.add(sampleBar(5, { revision: 1, close: 2 }), src(11), 1);
    book.add(sampleBar(5, { revision: 0, close: 1 }), src(12), 1);
    assert.equal(w.rows.size, 1);
    assert.equal(w.rows.get(sampleBar(5).eventTimeMs)?.close, 3);
  });

  it('a re-delivered bar replaces its own row (one row, no duplicate)', () => {
    const book = new WindowBook();
    const w = book.add(sampleBar(5, { revision: 1, knownAtMs: 1 }), src(1), 1);
    book.add(sampleBar(5, { revision: 1, knownAtMs: 2 }), src(2), 1);
    assert.equal(w.rows.size, 1);
    assert.equal(w.rows.get(sampleBar(5).eventTimeMs)?.knownAtMs, 2);
    assert.deepEqual(sortedRows(w.rows).length, 1);
  });

  it('records the offset range per topic-partition', () => {
    const book = new WindowBook();
    const w = book.add(sampleBar(0), src(7, 3), 1);
    book.add(sampleBar(1), src(4, 3), 1);
    book.add(sampleBar(2), src(9, 1), 1);
    assert.deepEqual(w.offsets, [
      { topic: 't', partition: 1, fromOffset: '9', toOffset: '9' },
      { topic: 't', partition: 3, fromOffset: '4', toOffset: '7' },
    ]);
    assert.deepEqual(
      mergeOffsetRanges(
        [{ topic: 't', partition: 1, fromOffset: '9', toOffset: '9' }],
        [{ topic: 't', partition: 1, fromOffset: '2', toOffset: '20' }],
      ),
      [{ topic: 't', partition: 1, fromOffset: '2', toOffset: '20' }],
    );
  });

  it('evicts only clean idle windows', () => {
    const book = new WindowBook();
    const a = book.add(sampleBar(0), src(0), 0);
    book.add(sampleBar(1440), src(1), 0);
    a.dirty = false;
    assert.equal(book.evictIdle(1_000, 1_000), 1);
    assert.equal(book.size, 1);
    assert.equal(book.bufferedRows(), 1);
  });
});
