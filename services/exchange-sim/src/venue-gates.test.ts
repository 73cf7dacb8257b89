import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type SimServer, startSimServer } from './server.js';
import { VENUE_IDS, VENUES } from './venues/index.js';

/** The server knows venues only through their modules: routing, limits, injected refusals. */
describe('venue modules in the server', () => {
  let sim: SimServer;
  before(async () => {
    sim = await startSimServer({ port: 0, market: { seed: 3, symbolCount: 20 } });
  });
  after(async () => sim.close());
  const get = (venuePath: string) => fetch(`${sim.url}/${venuePath}`);

  it('lists one module per venue id, each routed by its own host', async () => {
    assert.deepEqual(Object.keys(VENUES).sort(), [...VENUE_IDS].sort());
    const hosts = Object.values(VENUES).map((v) => v.restHost);
    assert.equal(new Set(hosts).size, hosts.length, `REST hosts ${hosts.join(', ')} must differ`);
    const binance = await get('fapi.binance.com/fapi/v1/time');
    assert.equal(binance.status, 200);
    assert.equal(binance.headers.get('x-mbx-used-weight-1m'), '1');
    const bybit = await get('api.bybit.com/v5/market/time');
    assert.equal(bybit.status, 200);
    assert.equal(bybit.headers.get('x-bapi-limit'), '600');
    const state = sim.state() as { limits: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(state.limits).sort(), [...VENUE_IDS].sort());
    assert.equal(state.limits.binanceusdm?.weightPerMinute, 2400);
    assert.equal(state.limits.bybit?.requestsPerSecond, 120);
  });

  it('answers a POST to a GET-only venue 405 naming the venue, and an unknown host 404', async () => {
    const post = await fetch(`${sim.url}/fapi.binance.com/fapi/v1/time`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.match(((await post.json()) as { error: string }).error, /binanceusdm .* GET only/);
    const unknown = await get('api.example.com/v1/time');
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: string }).error, /unknown venue host 'api.example.com'/);
  });

  it('bans the venue a fault names, each in its own way; without a venue, Binance only', async () => {
    sim.applyFaults({ banMs: 30_000, venue: 'bybit' });
    const bybitBanned = await get('api.bybit.com/v5/market/time');
    assert.equal(bybitBanned.status, 403);
    assert.equal(await bybitBanned.text(), 'access too frequent');
    assert.equal((await get('fapi.binance.com/fapi/v1/time')).status, 200, 'Binance is not banned');

    sim.applyFaults({ banMs: 30_000 });
    const binanceBanned = await get('fapi.binance.com/fapi/v1/time');
    assert.equal(binanceBanned.status, 418);
    const retryAfter = Number(binanceBanned.headers.get('retry-after'));
    assert.ok(retryAfter >= 29 && retryAfter <= 30, `Retry-After ${retryAfter}`);
    assert.equal(((await binanceBanned.json()) as { code: number }).code, -1003);
    assert.equal((await get('api.bybit.com/v5/market/time')).status, 200, 'Bybit is not banned');

    sim.applyFaults({ banMs: 0 });
    assert.equal((await get('fapi.binance.com/fapi/v1/time')).status, 200);
    const counts = sim.state() as { faultCounts: Record<string, number> };
    assert.equal(counts.faultCounts.bybit_ip_ban_403, 1);
    assert.equal(counts.faultCounts.banned_418, 1);
  });

  it("answers an injected 429 storm in each venue's own way", async () => {
    sim.applyFaults({ venue: 'all', rateLimitedRate: 1, retryAfterS: 7 });
    try {
      const binance = await get('fapi.binance.com/fapi/v1/time');
      assert.equal(binance.status, 429);
      assert.equal(binance.headers.get('retry-after'), '7');
      assert.ok(binance.headers.get('x-mbx-used-weight-1m') !== null, 'weight header on a 429');
      const bybit = await get('api.bybit.com/v5/market/time');
      assert.equal(bybit.status, 200);
      assert.equal(((await bybit.json()) as { retCode: number }).retCode, 10006);
    } finally {
      sim.applyFaults({ rateLimitedRate: 0 });
    }
  });

  it('leaves no venue id or host outside src/venues', () => {
    const src = fileURLToPath(new URL('.', import.meta.url));
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? files(join(dir, e.name))
          : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
            ? [join(dir, e.name)]
            : [],
      );
    const named = files(src)
      .filter((f) => !relative(src, f).startsWith('venues/'))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .filter((line) =>
            /['"`](binanceusdm|bybit|okx|hyperliquid)['"`]|\.binance\.com|\.bybit\.com/.test(line),
          )
          .map((line) => `${relative(src, f)}: ${line.trim()}`),
      );
    assert.deepEqual(named, []);
  });
});
