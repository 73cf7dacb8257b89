import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter } from 'prom-client';
import { createRegistry } from './registry.js';
import { startMetricsServer } from './server.js';

describe('metrics server', () => {
  it('serves this registry on /metrics with the service label, and health endpoints', async () => {
    const registry = createRegistry('unit');
    const c = new Counter({
      name: 'perpflow_test_things_total',
      help: 'things',
      labelNames: ['feed'],
      registers: [registry],
    });
    c.inc({ feed: 'ohlcv' }, 3);
    let ready = false;
    const server = await startMetricsServer({
      registry,
      port: 0,
      ready: () => ({ ok: ready, details: { kafka: ready } }),
    });
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(text, /perpflow_test_things_total\{feed="ohlcv",service="unit"\} 3/);
      assert.match(text, /perpflow_process_resident_memory_bytes\{service="unit"\}/);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      const notReady = await fetch(`${server.url}/readyz`);
      assert.equal(notReady.status, 503);
      assert.deepEqual(await notReady.json(), { ok: false, details: { kafka: false } });
      ready = true;
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
      assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    } finally {
      await server.close();
    }
  });
});
