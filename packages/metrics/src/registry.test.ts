import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRegistry, EVENT_LOOP_MONITOR_RESOLUTION_MS } from './registry.js';

/** A gauge's value in the registry's exposition (a scrape: the lag gauges are set when scraped). */
function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  assert.ok(line, `${name} is exposed`);
  assert.match(line, /service="unit"/);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('createRegistry', () => {
  it('measures a blocked event loop at the coarser monitor interval', async () => {
    const registry = createRegistry('unit');
    // Let the monitor take a sample or two at its interval, then block the loop 400 ms.
    await sleep(3 * EVENT_LOOP_MONITOR_RESOLUTION_MS);
    const until = performance.now() + 400;
    while (performance.now() < until) {
      // busy: no timer can fire
    }
    await sleep(2 * EVENT_LOOP_MONITOR_RESOLUTION_MS);
    const text = await registry.metrics();
    const max = gauge(text, 'perpflow_nodejs_eventloop_lag_max_seconds');
    assert.ok(max >= 0.3 && max < 5, `lag max ${max} s after a 400 ms block`);
    const p50 = gauge(text, 'perpflow_nodejs_eventloop_lag_p50_seconds');
    assert.ok(p50 < max, `p50 ${p50} s below the block's ${max} s`);
  });
});
