import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXCHANGES, TIMEFRAMES } from '@perpflow/contracts';
import fc from 'fast-check';
import {
  assertKeyUnderPrefix,
  manifestKey,
  normalizePrefix,
  objectKey,
  parseManifestKey,
  revisionsKey,
  seriesIndexKey,
  type WindowId,
} from './keys.js';
import { decodeSymbol, encodeSymbol, InvalidKeySegment } from './symbol.js';
import {
  DEFAULT_WINDOW_POLICY,
  isWindowStart,
  type WindowUnit,
  windowEndOf,
  windowStartOf,
  windowStartsCovering,
} from './windows.js';

const T0 = 1_709_251_200_000; // 2024-03-01T00:00:00Z
const w = (o: Partial<WindowId> = {}): WindowId => ({
  exchange: 'binanceusdm',
  symbol: 'BTC/USDT:USDT',
  timeframe: '1m',
  unit: 'day',
  startMs: T0,
  ...o,
});

describe('symbol encoding', () => {
  it('percent-encodes everything outside [A-Z0-9]', () => {
    assert.equal(encodeSymbol('BTC/USDT:USDT'), 'BTC%2FUSDT%3AUSDT');
    assert.equal(encodeSymbol('ETH/USDT:USDT-240329'), 'ETH%2FUSDT%3AUSDT%2D240329');
    assert.equal(encodeSymbol('a.b'), '%61%2E%62');
  });

  it('keeps symbols apart that dash-replacement would merge', () => {
    assert.notEqual(encodeSymbol('A/B:C'), encodeSymbol('A-B:C'));
    assert.notEqual(encodeSymbol('A/B:C'), encodeSymbol('A/B-C'));
  });

  it('decodes what it encodes, for any well-formed string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), (s) => {
        const enc = encodeSymbol(s);
        assert.match(enc, /^[A-Z0-9%]+$/);
        assert.equal(decodeSymbol(enc), s);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects empty symbols, lone surrogates and non-canonical encodings', () => {
    assert.throws(() => encodeSymbol(''), InvalidKeySegment);
    assert.throws(() => encodeSymbol('A\uD800B'), InvalidKeySegment);
    for (const bad of ['', 'btc', '%41', '%2f', '%2', 'A/B', '%FF', '..'])
      assert.throws(() => decodeSymbol(bad), InvalidKeySegment, bad);
  });
});

describe('UTC windows', () => {
  it('uses a day for 1m and 5m, a month for 15m and 1h, a year for 4h and 1d by default', () => {
    assert.deepEqual(DEFAULT_WINDOW_POLICY, {
      '1m': 'day',
      '5m': 'day',
      '15m': 'month',
      '1h': 'month',
      '4h': 'year',
      '1d': 'year',
    });
  });

  it('finds calendar boundaries, leap days included', () => {
    const t = Date.UTC(2024, 1, 29, 13, 7); // 2024-02-29T13:07Z
    assert.equal(windowStartOf(t, 'day'), Date.UTC(2024, 1, 29));
    assert.equal(windowEndOf(Date.UTC(2024, 1, 29), 'day'), Date.UTC(2024, 2, 1));
    assert.equal(windowStartOf(t, 'month'), Date.UTC(2024, 1, 1));
    assert.equal(windowEndOf(Date.UTC(2024, 1, 1), 'month'), Date.UTC(2024, 2, 1));
    assert.equal(windowStartOf(t, 'year'), Date.UTC(2024, 0, 1));
    assert.deepEqual(windowStartsCovering(Date.UTC(2024, 0, 31, 23), Date.UTC(2024, 2, 1), 'month'), [
      Date.UTC(2024, 0, 1),
      Date.UTC(2024, 1, 1),
    ]);
  });

  it('puts every instant in exactly one window (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_262_304_000_000, max: 4_102_444_799_999 }),
        fc.constantFrom<WindowUnit>('day', 'month', 'year'),
        (t, unit) => {
          const s = windowStartOf(t, unit);
          assert.ok(s <= t && t < windowEndOf(s, unit));
          assert.ok(isWindowStart(s, unit));
        },
      ),
    );
  });
});

describe('S3 keys', () => {
  it('lays out Hive-style partitions with a deterministic part name per window', () => {
    assert.equal(
      objectKey('data', w()),
      'data/aligned/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/date=2024-03-01/part-1709251200000.parquet',
    );
    assert.equal(
      manifestKey('data/', w()),
      'data/aligned/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/date=2024-03-01/part-1709251200000.manifest.json',
    );
    assert.equal(
      revisionsKey('data', w()),
      'data/aligned_revisions/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/date=2024-03-01/part-1709251200000.parquet',
    );
    assert.equal(
      seriesIndexKey('data', w()),
      'data/aligned/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/_index.json',
    );
    const month = w({ timeframe: '1h', unit: 'month', startMs: Date.UTC(2024, 1, 1) });
    assert.match(objectKey('p', month), /timeframe=1h\/.*\/date=2024-02-01\/part-1706745600000\.parquet$/);
  });

  it('refuses a window start that is not on its unit boundary, unknown exchanges and timeframes', () => {
    assert.throws(() => objectKey('p', w({ startMs: T0 + 60_000 })), InvalidKeySegment);
    assert.throws(() => objectKey('p', w({ unit: 'month', startMs: T0 + 86_400_000 })), InvalidKeySegment);
    assert.throws(() => objectKey('p', w({ exchange: '../x' as never })), InvalidKeySegment);
    assert.throws(() => objectKey('p', w({ timeframe: '1m/..' as never })), InvalidKeySegment);
  });

  it('refuses prefixes with empty, dot or dot-dot segments', () => {
    for (const bad of ['', '/', '/abs', 'a//b', 'a/../b', '..', 'a/./b', 'A', 'a b', 'a\u0000b'])
      assert.throws(() => normalizePrefix(bad), InvalidKeySegment, JSON.stringify(bad));
    assert.equal(normalizePrefix('team-a/perp_flow.v2/'), 'team-a/perp_flow.v2');
  });

  it('keeps every key of any symbol under its prefix and parses it back (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }),
        fc.constantFrom(...EXCHANGES),
        fc.constantFrom(...TIMEFRAMES),
        fc.integer({ min: 0, max: 20_000 }),
        (symbol, exchange, timeframe, day) => {
          const win = w({ symbol, exchange, timeframe, startMs: Date.UTC(2015, 0, 1) + day * 86_400_000 });
          for (const key of [objectKey('a/b', win), manifestKey('a/b', win), revisionsKey('a/b', win)]) {
            assert.equal(assertKeyUnderPrefix('a/b', key), key);
            assert.equal(key.split('/').length, 9, key);
          }
          assert.deepEqual(parseManifestKey('a/b', manifestKey('a/b', win)), {
            exchange,
            symbol,
            timeframe,
            startMs: win.startMs,
            date: new Date(win.startMs).toISOString().slice(0, 10),
          });
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('catches keys that escape or hide segments', () => {
    for (const bad of ['x/y', 'a/b/../c', 'a/b//c', 'a/b/c\n', 'a/b/./c', 'a/bc', 'a/b/c\\d'])
      assert.throws(() => assertKeyUnderPrefix('a/b', bad), InvalidKeySegment, JSON.stringify(bad));
  });

  it('returns null for keys that are not manifests of this layout', () => {
    const good = manifestKey('p', w());
    assert.ok(parseManifestKey('p', good));
    assert.equal(parseManifestKey('q', good), null);
    assert.equal(parseManifestKey('p', good.replace('.manifest.json', '.parquet')), null);
    assert.equal(parseManifestKey('p', good.replace('date=2024-03-01', 'date=2024-03-02')), null);
    assert.equal(parseManifestKey('p', good.replace('exchange=binanceusdm', 'exchange=ftx')), null);
    assert.equal(parseManifestKey('p', good.replace('BTC%2F', 'BTC%2f')), null);
  });
});
