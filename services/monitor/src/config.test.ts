import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.js';

describe('monitor config', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.MONITOR_RECENT_WINDOW_MS, 6 * 3_600_000);
    assert.equal(c.MONITOR_REFERENCE_WINDOW_MS, 48 * 3_600_000);
    assert.deepEqual(c.MONITOR_FEATURES, [
      'log_return',
      'range',
      'volume',
      'open_interest_change',
      'funding_rate',
      'liquidation_notional',
      'basis',
    ]);
    assert.equal(c.MONITOR_PSI_SIGNIFICANT, 0.2);
    assert.equal(c.MONITOR_KS_ALPHA, 0.05);
    assert.equal(c.MONITOR_WASSERSTEIN_THRESHOLD, 0.1);
    assert.equal(c.MONITOR_SLA_FUNDING_SECONDS, 30_600);
    assert.equal(c.METRICS_PORT, 39104);
  });

  it('fails naming the key', () => {
    assert.throws(() => loadConfig({ MONITOR_FEATURES: 'volume,vibes' }), /MONITOR_FEATURES/);
    assert.throws(() => loadConfig({ MONITOR_BASELINE: 's3' }), /MONITOR_BASELINE_KEY/);
    assert.throws(() => loadConfig({ MONITOR_PSI_MODERATE: '0.5' }), /MONITOR_PSI_MODERATE/);
  });

  it('refuses misspelt keys, non-decimal numbers, half an S3 key pair and SASL without TLS, naming the key', () => {
    assert.throws(
      () => loadConfig({ MONITOR_KS_ALHPA: '0.1' }),
      /MONITOR_KS_ALHPA.*did you mean MONITOR_KS_ALPHA\?/,
    );
    assert.throws(() => loadConfig({ MONITOR_PSI_BINS: '0x10' }), /MONITOR_PSI_BINS.*decimal integer/);
    assert.throws(() => loadConfig({ MONITOR_KS_ALPHA: ' ' }), /MONITOR_KS_ALPHA.*decimal number/);
    assert.throws(() => loadConfig({ S3_SECRET_ACCESS_KEY: 'x' }), /S3_ACCESS_KEY_ID/);
    assert.throws(
      () => loadConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }),
      /KAFKA_SSL/,
    );
  });
});
