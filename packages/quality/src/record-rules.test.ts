import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  SAMPLE_T0_MS,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from '@perpflow/contracts';
import { DEFAULT_QUALITY_CONFIG as CONFIG, parseQualityConfig } from './config.js';
import { type RecordContext, validateRecord } from './record-rules.js';
import { decisiveHit, verdictOf } from './rules.js';

const NOW = SAMPLE_T0_MS + 120_000;
const ctx: RecordContext = { nowMs: NOW, config: CONFIG };

function ruleIds(hits: { ruleId: string }[]): string[] {
  return hits.map((h) => h.ruleId);
}

describe('contract rules', () => {
  it('rejects a contract violation with the contract rule id prefixed', () => {
    const hits = validateRecord('candle', sampleCandle({ high: 1, low: 2, open: 1.5, close: 1.5 }), ctx);
    assert.deepEqual(ruleIds(hits), ['contract.ohlc.high_below_low']);
    assert.equal(verdictOf(hits), 'reject');
    assert.match(hits[0]!.message, /candle\.high: must be ≥ low/);
  });

  it('accepts the contract samples with no hits', () => {
    assert.deepEqual(validateRecord('candle', sampleCandle(), ctx), []);
    assert.deepEqual(validateRecord('open_interest', sampleOpenInterest(), ctx), []);
    assert.deepEqual(validateRecord('funding', sampleFunding(), ctx), []);
    assert.deepEqual(validateRecord('liquidation', sampleLiquidation(), ctx), []);
  });

  it('rejects an invalid liquidation side and a zero amount through the contract', () => {
    const hits = validateRecord('liquidation', { ...sampleLiquidation(), side: 'long', amount: 0 }, ctx);
    assert.deepEqual(ruleIds(hits).sort(), ['contract.enum', 'contract.positive']);
  });
});

describe('candle.off_boundary', () => {
  it('rejects a 1m candle that opens 30 s past the minute', () => {
    const t = SAMPLE_T0_MS + 30_000;
    const hits = validateRecord(
      'candle',
      sampleCandle({ openTimeMs: t, eventTimeMs: t, receivedAtMs: t + 60_500 }),
      ctx,
    );
    assert.deepEqual(ruleIds(hits), ['candle.off_boundary']);
    assert.match(
      hits[0]!.message,
      /openTimeMs 1709251230000 is 30000 ms past the 1m UTC boundary 1709251200000/,
    );
  });

  it('accepts a 1h candle on the hour', () => {
    const hits = validateRecord(
      'candle',
      sampleCandle({ timeframe: '1h', receivedAtMs: SAMPLE_T0_MS + 3_600_100 }),
      {
        ...ctx,
        nowMs: SAMPLE_T0_MS + 3_700_000,
      },
    );
    assert.deepEqual(hits, []);
  });
});

describe('candle.closed_early', () => {
  it('flags a candle marked closed before its bar ends', () => {
    const hits = validateRecord('candle', sampleCandle({ receivedAtMs: SAMPLE_T0_MS + 20_000 }), ctx);
    assert.deepEqual(ruleIds(hits), ['candle.closed_early']);
    assert.equal(hits[0]!.action, 'flag');
  });

  it('accepts a provisional candle received mid-bar', () => {
    const hits = validateRecord(
      'candle',
      sampleCandle({ receivedAtMs: SAMPLE_T0_MS + 20_000, closed: false }),
      ctx,
    );
    assert.deepEqual(hits, []);
  });
});

describe('time.future', () => {
  it('rejects an event time beyond receivedAtMs plus the clock skew', () => {
    const hits = validateRecord(
      'open_interest',
      sampleOpenInterest({ eventTimeMs: SAMPLE_T0_MS + 40_000, receivedAtMs: SAMPLE_T0_MS + 34_999 }),
      ctx,
    );
    assert.deepEqual(ruleIds(hits), ['time.future']);
    assert.match(
      hits[0]!.message,
      /eventTimeMs 1709251240000 is 5001 ms after receivedAtMs .*clockSkewMs 5000/,
    );
  });

  it('accepts an event time exactly at the skew bound', () => {
    const hits = validateRecord(
      'open_interest',
      sampleOpenInterest({ eventTimeMs: SAMPLE_T0_MS + 40_000, receivedAtMs: SAMPLE_T0_MS + 35_000 }),
      ctx,
    );
    assert.deepEqual(hits, []);
  });

  it('rejects an event time and a receive time ahead of now', () => {
    const later = NOW + 10_000;
    const hits = validateRecord(
      'liquidation',
      sampleLiquidation({ eventTimeMs: later, receivedAtMs: later }),
      ctx,
    );
    assert.deepEqual(ruleIds(hits), ['time.future', 'time.future']);
    assert.match(hits[0]!.message, /eventTimeMs .* is 10000 ms after now/);
    assert.match(hits[1]!.message, /receivedAtMs .* is 10000 ms after now/);
  });

  it('rejects a settled funding rate whose settlement is after its event time', () => {
    const hits = validateRecord(
      'funding',
      sampleFunding({ kind: 'settled', fundingTimeMs: SAMPLE_T0_MS + 8 * 3_600_000 }),
      ctx,
    );
    assert.deepEqual(ruleIds(hits), ['time.future']);
    assert.match(hits[0]!.message, /fundingTimeMs .* of a settled rate/);
  });

  it('accepts a predicted funding rate for the next settlement', () => {
    const hits = validateRecord(
      'funding',
      sampleFunding({ kind: 'predicted', fundingTimeMs: SAMPLE_T0_MS + 8 * 3_600_000 }),
      ctx,
    );
    assert.deepEqual(hits, []);
  });
});

describe('time.too_old', () => {
  const old = { eventTimeMs: SAMPLE_T0_MS - 7 * 3_600_000, receivedAtMs: SAMPLE_T0_MS };

  it('rejects a live record received long after its event time', () => {
    const hits = validateRecord('liquidation', sampleLiquidation({ ...old, source: 'live' }), ctx);
    assert.deepEqual(ruleIds(hits), ['time.too_old']);
    assert.match(hits[0]!.message, /25200000 ms before receivedAtMs .*maxAgeMs\.liquidation 21600000/);
  });

  it('exempts backfill records from the maximum age', () => {
    const hits = validateRecord('liquidation', sampleLiquidation({ ...old, source: 'backfill' }), ctx);
    assert.deepEqual(hits, []);
  });

  it('measures a candle age from its close, not its open', () => {
    const open = SAMPLE_T0_MS - 6 * 3_600_000 - 30_000;
    const hits = validateRecord(
      'candle',
      sampleCandle({
        timeframe: '1m',
        openTimeMs: open - (open % 60_000),
        eventTimeMs: open - (open % 60_000),
      }),
      { ...ctx, config: { ...CONFIG, maxAgeMs: { ...CONFIG.maxAgeMs, candle: 6 * 3_600_000 - 60_000 } } },
    );
    assert.deepEqual(ruleIds(hits), ['time.too_old']);
    assert.match(hits[0]!.message, /openTimeMs \+ timeframe/);
  });
});

describe('funding.out_of_bounds', () => {
  it('rejects a funding rate beyond ±3% per interval', () => {
    const hits = validateRecord('funding', sampleFunding({ fundingRate: -0.0301 }), ctx);
    assert.deepEqual(ruleIds(hits), ['funding.out_of_bounds']);
    assert.match(hits[0]!.message, /fundingRate -0\.0301 \(settled\) is outside ±0\.03/);
  });

  it('accepts a rate at the cap', () => {
    assert.deepEqual(validateRecord('funding', sampleFunding({ fundingRate: 0.03 }), ctx), []);
  });
});

describe('liquidation.price_band', () => {
  const lastClose = { close: 61_000, closeTimeMs: SAMPLE_T0_MS };

  it('flags a liquidation price more than 10% from the last close', () => {
    const hits = validateRecord('liquidation', sampleLiquidation({ price: 70_000 }), { ...ctx, lastClose });
    assert.deepEqual(ruleIds(hits), ['liquidation.price_band']);
    assert.equal(verdictOf(hits), 'accept');
    assert.match(hits[0]!.message, /price 70000 is 14\.75% from the last close 61000/);
  });

  it('accepts a liquidation inside the band', () => {
    assert.deepEqual(
      validateRecord('liquidation', sampleLiquidation({ price: 58_000 }), { ...ctx, lastClose }),
      [],
    );
  });

  it('skips the band when the last close is unknown or too far away in time', () => {
    assert.deepEqual(validateRecord('liquidation', sampleLiquidation({ price: 90_000 }), ctx), []);
    const stale = { close: 61_000, closeTimeMs: SAMPLE_T0_MS - 2 * 3_600_000 };
    assert.deepEqual(
      validateRecord('liquidation', sampleLiquidation({ price: 90_000 }), { ...ctx, lastClose: stale }),
      [],
    );
  });
});

describe('rule actions', () => {
  it('switches a rule off and turns a flag into a reject by config', () => {
    const config = parseQualityConfig({
      actions: { 'funding.out_of_bounds': 'off', 'candle.closed_early': 'reject' },
    });
    assert.deepEqual(validateRecord('funding', sampleFunding({ fundingRate: 0.5 }), { ...ctx, config }), []);
    const hits = validateRecord('candle', sampleCandle({ receivedAtMs: SAMPLE_T0_MS + 1_000 }), {
      ...ctx,
      config,
    });
    assert.equal(verdictOf(hits), 'reject');
    assert.equal(decisiveHit(hits)?.ruleId, 'candle.closed_early');
  });
});

describe('parseQualityConfig', () => {
  it('fills every default from an empty object', () => {
    const c = parseQualityConfig({});
    assert.equal(c.clockSkewMs, 5_000);
    assert.equal(c.priceJump.maxRelativeChange['1m'], 0.2);
    assert.equal(c.outlier.window, 60);
    assert.equal(c.outlier.madThreshold, 10);
  });

  it('keeps defaults beside an override in the same object', () => {
    const c = parseQualityConfig({ priceJump: { maxRelativeChange: { '1d': 1.5 } } });
    assert.equal(c.priceJump.maxRelativeChange['1d'], 1.5);
    assert.equal(c.priceJump.maxRelativeChange['1m'], 0.2);
  });

  it('fails naming the key of a bad value', () => {
    assert.throws(
      () => parseQualityConfig({ outlier: { window: 'sixty' } }),
      (e: unknown) => e instanceof ConfigError && e.key === 'quality.outlier.window',
    );
  });

  it('fails naming a misspelt key', () => {
    assert.throws(
      () => parseQualityConfig({ frozen: { candleClosRun: 3 } }),
      (e: unknown) => e instanceof ConfigError && e.key === 'quality.frozen.candleClosRun',
    );
  });

  it('fails naming an unknown rule id in actions', () => {
    assert.throws(
      () => parseQualityConfig({ actions: { 'price.jumps': 'off' } }),
      (e: unknown) => e instanceof ConfigError && e.key.startsWith('quality.actions'),
    );
  });
});
