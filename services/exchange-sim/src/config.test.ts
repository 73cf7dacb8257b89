import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@perpflow/contracts';
import { loadConfig } from './config.js';

const names = (key: string, text: RegExp) => (e: unknown) =>
  e instanceof ConfigError && e.key === key && text.test(e.message);

describe('exchange-sim config', () => {
  it('refuses a misspelt BINANCE_ key, naming the nearest known key', () => {
    assert.throws(
      () => loadConfig({ BINANCE_WEIGHT_PER_MINUT: '10' }),
      names('BINANCE_WEIGHT_PER_MINUT', /did you mean BINANCE_WEIGHT_PER_MINUTE\?/),
    );
  });
  it('takes integers and decimals in decimal notation only, naming the key', () => {
    assert.throws(() => loadConfig({ SEED: '0x10' }), names('SEED', /decimal integer/));
    assert.throws(() => loadConfig({ SYMBOLS: ' ' }), names('SYMBOLS', /decimal integer/));
    assert.throws(() => loadConfig({ SPEED: ' ' }), names('SPEED', /decimal number/));
    assert.throws(
      () => loadConfig({ MISSING_CANDLE_RATE: '0x0' }),
      names('MISSING_CANDLE_RATE', /decimal number/),
    );
    const c = loadConfig({ SEED: '16', SPEED: '2.5', MISSING_CANDLE_RATE: '0.01' });
    assert.deepEqual(
      [c.SEED, c.SPEED, c.MISSING_CANDLE_RATE, c.LIQUIDATION_BURSTS_PER_HOUR],
      [16, 2.5, 0.01, 1],
    );
  });
});
