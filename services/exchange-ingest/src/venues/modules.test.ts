import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXCHANGES, LIQUIDATION_SEMANTICS, OPEN_INTEREST_HISTORY } from '@perpflow/contracts';
import { pageLimits } from '../domain/paging.js';
import { planLiveRequests } from '../domain/request-plan.js';
import { INGEST_VENUES, ingestVenue, SUPPORTED_EXCHANGES } from './index.js';

const SRC = fileURLToPath(new URL('..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('one module per venue', () => {
  it('keys each module by its own id, every id one of the contract', () => {
    for (const [id, venue] of Object.entries(INGEST_VENUES)) {
      assert.equal(venue?.id, id);
      assert.ok((EXCHANGES as readonly string[]).includes(id), `${id} is not in the contract's EXCHANGES`);
    }
    assert.deepEqual(SUPPORTED_EXCHANGES, ['binanceusdm', 'bybit', 'okx', 'hyperliquid']);
  });

  it("agrees with the contract's venue facts the bars carry: open-interest history and a liquidation source", () => {
    for (const id of SUPPORTED_EXCHANGES) {
      const venue = ingestVenue(id);
      assert.equal(
        venue.pageLimits.openInterestHistory > 0,
        OPEN_INTEREST_HISTORY[id],
        `${id}: pages open-interest history iff the contract says the venue has it`,
      );
      assert.equal(
        venue.liquidations.subscription === 'none',
        LIQUIDATION_SEMANTICS[id].completeness === 'none',
        `${id}: subscribes no liquidations iff the contract says the venue has none`,
      );
    }
  });

  it('is what the paging, the request plan and the errors read', () => {
    assert.deepEqual(pageLimits('bybit'), { ohlcv: 1000, openInterestHistory: 200, fundingHistory: 200 });
    assert.equal(pageLimits('binanceusdm').ohlcv, 499);
    const plan = planLiveRequests({
      exchange: 'bybit',
      symbols: 10,
      feeds: new Set(['open_interest']),
      candleSource: 'websocket',
      timeframeMs: 60_000,
      oiPollMs: 60_000,
      fundingPollMs: 60_000,
      fundingHistoryPollMs: 3_600_000,
      budgetShare: 0.5,
    });
    assert.equal(plan.budgetUnitsPerMinute, 36_000);
    assert.equal(plan.lines.find((l) => l.call === 'fetchOpenInterest')?.unitsPerMinute, 50);
    assert.throws(
      () => ingestVenue('kraken'),
      /'kraken' has no ingest venue module .*supported: binanceusdm, bybit, okx, hyperliquid/,
    );
  });

  it('leaves no venue id in the ingest code outside src/venues but the configured default', () => {
    const named: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = relative(SRC, file);
      if (rel.startsWith('venues/')) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line) => {
          if (/['"`](binanceusdm|bybit|okx|hyperliquid)['"`]/.test(line))
            named.push(`${rel}: ${line.trim()}`);
        });
    }
    assert.deepEqual(named, [
      "cli.ts: const exchange = f.get('--exchange') ?? 'binanceusdm';",
      "config.ts: .list(['binanceusdm'])",
    ]);
  });
});
