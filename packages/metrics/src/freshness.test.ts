import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FreshnessTracker } from './freshness.js';
import { createRegistry } from './registry.js';

describe('FreshnessTracker', () => {
  it('keeps rising while a feed is silent and only moves forward', async () => {
    let now = 1_700_000_100_000;
    const registry = createRegistry('unit');
    const f = new FreshnessTracker(registry, 'ingest', () => now);
    const labels = { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', feed: 'ohlcv' };
    f.observe(labels, 1_700_000_040_000);
    f.observe(labels, 1_700_000_000_000); // older: ignored
    const value = async () =>
      (await registry.getSingleMetric('perpflow_feed_freshness_seconds')!.get()).values.find(
        (v) => v.labels.symbol === 'BTC/USDT:USDT',
      )?.value;
    assert.equal(await value(), 60);
    now += 30_000;
    assert.equal(await value(), 90);
    assert.match(
      await registry.metrics(),
      /perpflow_feed_freshness_seconds\{stage="ingest",exchange="binanceusdm",symbol="BTC\/USDT:USDT",feed="ohlcv",service="unit"\} 90/,
    );
  });
});
