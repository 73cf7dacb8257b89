import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DAY_MS,
  decodeSymbol,
  encodeSymbol,
  manifestKey,
  objectKey,
  parseObjectKey,
  type WindowId,
  windowStartOf,
} from './keys.js';

const W: WindowId = {
  exchange: 'binanceusdm',
  symbol: 'BTC/USDT:USDT',
  timeframe: '1m',
  windowStartMs: Date.UTC(2024, 2, 1),
};

describe('S3 key layout', () => {
  it('lays out timeframe, exchange, encoded symbol, date and window start', () => {
    assert.equal(
      objectKey('datasets', W),
      'datasets/aligned/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/date=2024-03-01/part-1709251200000.parquet',
    );
    assert.equal(
      manifestKey('datasets/', W),
      'datasets/aligned/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/date=2024-03-01/part-1709251200000.manifest.json',
    );
  });

  it('decodes every encoded symbol back to itself, including hostile ones', () => {
    const samples = [
      'BTC/USDT:USDT',
      'ETH/USD:ETH-240628',
      '../../etc/passwd',
      '%2F',
      'a b\\c',
      '₿/€:ü',
      '..',
      '',
      'x'.repeat(200),
    ];
    for (let i = 0; i < 500; i++)
      samples.push(
        String.fromCodePoint(
          ...Array.from({ length: 1 + (i % 9) }, (_, k) => {
            const cp = ((i * 7919 + k * 104_729) % 0x10ffff) + 1;
            return cp >= 0xd800 && cp <= 0xdfff ? 0x41 + k : cp;
          }),
        ),
      );
    for (const s of samples) {
      const enc = encodeSymbol(s);
      assert.match(enc, /^[A-Z0-9%]*$/);
      assert.equal(decodeSymbol(enc), s);
    }
  });

  it('rejects non-canonical and malformed encodings', () => {
    for (const bad of ['%41', 'abc', '%2', '%zz', 'A/B', '%C3']) assert.throws(() => decodeSymbol(bad));
  });

  it('never produces a key outside the prefix', () => {
    for (const symbol of ['../../x', '/abs', '..%2F..', 'A/../../B', '.']) {
      const key = objectKey('datasets/run1', { ...W, symbol });
      assert.ok(key.startsWith('datasets/run1/aligned/v1/'));
      const segments = key.split('/');
      assert.ok(!segments.includes('..') && !segments.includes('.') && !segments.includes(''), key);
      assert.equal(segments.length, 9, key);
      assert.deepEqual(parseObjectKey('datasets/run1', key), { ...W, symbol });
    }
    assert.throws(() => objectKey('../up', W));
    assert.throws(() => objectKey('/abs', W));
  });

  it('parses only keys it could have written', () => {
    assert.deepEqual(parseObjectKey('datasets', objectKey('datasets', W)), W);
    assert.equal(parseObjectKey('other', objectKey('datasets', W)), null);
    assert.equal(parseObjectKey('datasets', manifestKey('datasets', W)), null);
    assert.equal(
      parseObjectKey('datasets', objectKey('datasets', W).replace('2024-03-01', '2024-03-02')),
      null,
    );
  });

  it('windows are UTC days', () => {
    assert.equal(windowStartOf(W.windowStartMs + DAY_MS - 1), W.windowStartMs);
    assert.equal(windowStartOf(W.windowStartMs + DAY_MS), W.windowStartMs + DAY_MS);
    assert.throws(() => objectKey('datasets', { ...W, windowStartMs: W.windowStartMs + 1 }));
  });
});
