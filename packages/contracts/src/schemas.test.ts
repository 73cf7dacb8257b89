import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContractViolation } from './errors.js';
import { decodeRecord, MAX_RECORD_BYTES, parseRecord } from './parse.js';
import {
  sampleAlignedBar,
  sampleCandle,
  sampleDeadLetter,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from './samples.js';
import type { RecordKind } from './schemas.js';

const VALID: Record<RecordKind, () => Record<string, unknown>> = {
  candle: sampleCandle,
  open_interest: sampleOpenInterest,
  funding: sampleFunding,
  liquidation: sampleLiquidation,
  aligned_bar: sampleAlignedBar,
  dead_letter: sampleDeadLetter,
};

function rejected(kind: RecordKind, input: unknown): ContractViolation {
  const res = parseRecord(kind, input);
  assert.equal(res.ok, false, `expected ${kind} to be rejected: ${JSON.stringify(input)}`);
  if (res.ok) throw new Error('unreachable');
  assert.ok(res.error instanceof ContractViolation);
  assert.equal(res.error.retriable, false);
  return res.error;
}

describe('valid samples', () => {
  for (const [kind, make] of Object.entries(VALID) as [RecordKind, () => Record<string, unknown>][]) {
    it(`accepts a valid ${kind} and returns it unchanged`, () => {
      const input = make();
      const res = parseRecord(kind, input);
      assert.ok(res.ok, res.ok ? '' : res.error.message);
      assert.deepEqual(res.value, input);
    });
  }
});

describe('invalid candles name the field, the rule and the value', () => {
  const cases: {
    name: string;
    input: Record<string, unknown>;
    field: string;
    rule: string;
    value: string;
  }[] = [
    {
      name: 'a missing field',
      input: omit(sampleCandle(), 'close'),
      field: 'close',
      rule: 'required',
      value: 'undefined (missing)',
    },
    {
      name: 'a wrong type',
      input: { ...sampleCandle(), open: '61000' },
      field: 'open',
      rule: 'type',
      value: '"61000"',
    },
    {
      name: 'NaN',
      input: { ...sampleCandle(), volume: Number.NaN },
      field: 'volume',
      rule: 'finite',
      value: 'NaN',
    },
    {
      name: 'Infinity',
      input: { ...sampleCandle(), high: Number.POSITIVE_INFINITY },
      field: 'high',
      rule: 'finite',
      value: 'Infinity',
    },
    {
      name: 'a zero price',
      input: { ...sampleCandle(), low: 0 },
      field: 'low',
      rule: 'positive',
      value: '0',
    },
    {
      name: 'a negative price',
      input: { ...sampleCandle(), open: -5 },
      field: 'open',
      rule: 'positive',
      value: '-5',
    },
    {
      name: 'a negative volume',
      input: { ...sampleCandle(), volume: -1 },
      field: 'volume',
      rule: 'min',
      value: '-1',
    },
    {
      name: 'high below low',
      input: sampleCandle({ high: 60_000, low: 60_100, open: 60_050, close: 60_050 }),
      field: 'high',
      rule: 'ohlc.high_below_low',
      value: '60000',
    },
    {
      name: 'high below the body',
      input: sampleCandle({ high: 61_010 }),
      field: 'high',
      rule: 'ohlc.high_below_body',
      value: '61010',
    },
    {
      name: 'low above the body',
      input: sampleCandle({ low: 61_010 }),
      field: 'low',
      rule: 'ohlc.low_above_body',
      value: '61010',
    },
    {
      name: 'a timestamp in seconds',
      input: sampleCandle({ receivedAtMs: 1_709_251_260 }),
      field: 'receivedAtMs',
      rule: 'epoch_ms',
      value: '1709251260',
    },
    {
      name: 'a timestamp in microseconds',
      input: sampleCandle({ receivedAtMs: 1_709_251_260_000_000 }),
      field: 'receivedAtMs',
      rule: 'epoch_ms',
      value: '1709251260000000',
    },
    {
      name: 'a fractional timestamp',
      input: sampleCandle({ receivedAtMs: 1_709_251_260_000.5 }),
      field: 'receivedAtMs',
      rule: 'epoch_ms',
      value: '1709251260000.5',
    },
    {
      name: 'an unknown exchange',
      input: { ...sampleCandle(), exchange: 'mtgox' },
      field: 'exchange',
      rule: 'enum',
      value: '"mtgox"',
    },
    {
      name: 'an empty symbol',
      input: sampleCandle({ symbol: '' }),
      field: 'symbol',
      rule: 'min',
      value: '""',
    },
    {
      name: 'a path in the symbol',
      input: sampleCandle({ symbol: '../x' }),
      field: 'symbol',
      rule: 'format',
      value: '"../x"',
    },
    {
      name: 'a non-unified symbol',
      input: sampleCandle({ symbol: 'BTCUSDT' }),
      field: 'symbol',
      rule: 'format',
      value: '"BTCUSDT"',
    },
    {
      name: 'a wrong schema version',
      input: { ...sampleCandle(), schemaVersion: 2 },
      field: 'schemaVersion',
      rule: 'enum',
      value: '2',
    },
    {
      name: 'an unknown timeframe',
      input: { ...sampleCandle(), timeframe: '7m' },
      field: 'timeframe',
      rule: 'enum',
      value: '"7m"',
    },
    {
      name: 'event time unlike open time',
      input: sampleCandle({ eventTimeMs: 1_709_251_260_000 }),
      field: 'eventTimeMs',
      rule: 'candle.event_time',
      value: '1709251260000',
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const err = rejected('candle', c.input);
      const issue = err.issues.find((i) => i.field === c.field);
      assert.ok(issue, `no issue for field ${c.field}; got ${err.message}`);
      assert.equal(issue.rule, c.rule);
      assert.equal(issue.value, c.value);
      assert.match(err.message, new RegExp(`^candle: .*${escapeRe(c.field)}: `));
    });
  }

  it('rejects a 300-character symbol with a length message', () => {
    const err = rejected('candle', sampleCandle({ symbol: `${'A'.repeat(296)}/B:C` }));
    assert.equal(err.field, 'symbol');
    assert.ok(err.issues.some((i) => i.rule === 'max' && /at most 64/.test(i.message)));
    assert.match(err.issues[0]!.value, /\(300 chars\)$/);
  });

  it('explains a timestamp in seconds in words', () => {
    const err = rejected('candle', sampleCandle({ receivedAtMs: 1_709_251_260 }));
    assert.match(err.message, /receivedAtMs: looks like seconds, not milliseconds/);
  });
});

describe('other kinds', () => {
  it('rejects a liquidation with an unknown side and a zero amount, naming both', () => {
    const err = rejected('liquidation', { ...sampleLiquidation(), side: 'long', amount: 0 });
    assert.deepEqual(err.issues.map((i) => [i.field, i.rule]).sort(), [
      ['amount', 'positive'],
      ['side', 'enum'],
    ]);
  });
  it('rejects a funding observation whose rate is NaN', () => {
    const err = rejected('funding', { ...sampleFunding(), fundingRate: Number.NaN });
    assert.equal(err.field, 'fundingRate');
    assert.equal(err.rule, 'finite');
  });
  it('rejects an aligned bar with a negative liquidation count', () => {
    const err = rejected('aligned_bar', sampleAlignedBar({ liqCount: -1 }));
    assert.equal(err.field, 'liqCount');
  });
  it('takes a bar of a venue without liquidations, its liquidation figures null', () => {
    const bar = sampleAlignedBar({
      exchange: 'hyperliquid',
      liqLongNotional: null,
      liqShortNotional: null,
      liqCount: null,
      liqPriceKind: null,
      liqCompleteness: 'none',
      openInterest: null,
      openInterestTimeMs: null,
      openInterestMissing: 'no_history',
    });
    const res = parseRecord('aligned_bar', bar);
    assert.ok(res.ok);
    assert.deepEqual(res.value, bar);
  });
  it("rejects 0 liquidations where liqCompleteness is 'none'", () => {
    const err = rejected(
      'aligned_bar',
      sampleAlignedBar({
        liqLongNotional: 0,
        liqShortNotional: null,
        liqCount: null,
        liqPriceKind: null,
        liqCompleteness: 'none',
      }),
    );
    assert.equal(err.field, 'liqLongNotional');
    assert.equal(err.rule, 'liquidation.not_null_without_source');
  });
  it('rejects a null liquidation count where the venue has a liquidation source', () => {
    const err = rejected('aligned_bar', sampleAlignedBar({ liqCount: null }));
    assert.equal(err.field, 'liqCount');
    assert.equal(err.rule, 'liquidation.null_with_source');
  });
  it('rejects a null open interest without a reason, and a reason beside a value', () => {
    for (const overrides of [
      { openInterest: null, openInterestTimeMs: null, openInterestMissing: null },
      { openInterestMissing: 'not_observed' as const },
    ]) {
      const err = rejected('aligned_bar', sampleAlignedBar(overrides));
      assert.equal(err.field, 'openInterestMissing');
      assert.equal(err.rule, 'open_interest.missing_reason_mismatch');
    }
  });
  it('rejects a dead letter whose offset is not a decimal string', () => {
    const err = rejected(
      'dead_letter',
      sampleDeadLetter({ source: { topic: 't', partition: 0, offset: '-1' } }),
    );
    assert.equal(err.field, 'source.offset');
    assert.equal(err.rule, 'format');
  });
});

describe('decodeRecord', () => {
  it('decodes valid JSON bytes', () => {
    const res = decodeRecord('candle', Buffer.from(JSON.stringify(sampleCandle())));
    assert.ok(res.ok);
    assert.equal(res.value.close, 61_020);
  });
  it('rejects invalid JSON with rule json and the offending text', () => {
    const res = decodeRecord('candle', Buffer.from('{"open": 1,'));
    assert.equal(res.ok, false);
    if (res.ok) return;
    assert.equal(res.error.rule, 'json');
    assert.match(res.error.message, /not valid JSON/);
  });
  it('rejects an oversized payload without parsing it', () => {
    const res = decodeRecord('candle', Buffer.alloc(MAX_RECORD_BYTES + 1, 0x20));
    assert.equal(res.ok, false);
    if (res.ok) return;
    assert.equal(res.error.rule, 'size');
  });
  it('rejects a tombstone', () => {
    const res = decodeRecord('candle', null);
    assert.equal(res.ok, false);
  });
  it('rejects a JSON array at the root', () => {
    const res = decodeRecord('candle', '[1,2]');
    assert.equal(res.ok, false);
    if (res.ok) return;
    assert.equal(res.error.field, '(root)');
    assert.equal(res.error.rule, 'type');
  });
});

function omit<T extends object>(o: T, key: keyof T): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...(o as Record<string, unknown>) };
  delete copy[key as string];
  return copy;
}
function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
