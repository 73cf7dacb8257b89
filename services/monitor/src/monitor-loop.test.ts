import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleAlignedBar } from '@perpflow/contracts';
import { createLogger } from '@perpflow/runtime';
import { DriftBook } from './domain/drift-book.js';
import { DailyDriftReport } from './domain/drift-report.js';
import { createMonitorMetrics } from './metrics.js';
import { MonitorLoop } from './monitor-loop.js';

const TF = 60_000;
const T0 = Date.UTC(2026, 0, 5);

/** A JSON store that fails its first `failures` puts. */
class MemoryJsonStore {
  readonly puts = new Map<string, unknown>();
  constructor(private failures = 0) {}
  async putJson(key: string, value: unknown): Promise<void> {
    if (this.failures-- > 0) throw new Error('S3 put failed (HTTP 503)');
    this.puts.set(key, value);
  }
  async getJson(): Promise<unknown | null> {
    return null;
  }
}

function loop(store: MemoryJsonStore, readLag = async () => [{ group: 'g', topic: 't', messages: 7 }]) {
  const metrics = createMonitorMetrics();
  const book = new DriftBook({
    exchanges: ['binanceusdm'],
    symbols: ['BTC/USDT:USDT'],
    timeframe: '1m',
    features: ['log_return', 'range', 'volume'],
    crossVenue: false,
    recentMs: 30 * TF,
    referenceMs: 60 * TF,
    minSamples: 20,
    compare: {},
  });
  const report = new DailyDriftReport({
    recentWindowMs: 30 * TF,
    referenceWindowMs: 60 * TF,
    reference: 'trailing',
    baselineKey: null,
    thresholds: { psiSignificant: 0.2 },
  });
  const l = new MonitorLoop({
    book,
    report,
    baseline: undefined,
    store,
    readLag,
    metrics,
    logger: createLogger({ service: 'monitor-test', level: 'fatal' }),
    now: () => T0 + 100 * TF,
    prefix: 'ds',
  });
  return { l, metrics };
}

const value = (i: number) =>
  Buffer.from(
    JSON.stringify(
      sampleAlignedBar({
        eventTimeMs: T0 + i * TF,
        knownAtMs: T0 + (i + 1) * TF,
        close: 100 + Math.sin(i),
        open: 100 + Math.sin(i - 1),
        high: 102,
        low: 98,
        volume: 5 + (i % 7),
      }),
    ),
  );

describe('MonitorLoop', () => {
  it('keeps valid bars and counts the rest by why; a report reaches the store under the day', async () => {
    const store = new MemoryJsonStore();
    const { l, metrics } = loop(store);
    l.handleMessages([...Array.from({ length: 95 }, (_, i) => value(i)), Buffer.from('not json'), null]);
    const bars = await metrics.barsIn.get();
    const by = Object.fromEntries(bars.values.map((v) => [v.labels.outcome, v.value]));
    assert.deepEqual(by, { kept: 95, invalid: 2 });
    l.evaluate();
    await l.writeReport();
    assert.deepEqual([...store.puts.keys()], ['ds/drift/v1/date=2026-01-05/drift-report.json']);
    assert.equal((await metrics.reportsWritten.get()).values[0]?.value, 1);
  });

  it('a failed report write is counted and retried next round; a failed lag read leaves the loop running', async () => {
    const store = new MemoryJsonStore(1);
    const { l, metrics } = loop(store, async () => {
      throw new Error('admin: broker down');
    });
    l.handleMessages(Array.from({ length: 95 }, (_, i) => value(i)));
    l.evaluate();
    await l.writeReport();
    assert.equal((await metrics.reportErrors.get()).values[0]?.value, 1);
    assert.equal(store.puts.size, 0);
    await l.writeReport();
    assert.equal(store.puts.size, 1);
    await l.readLag();
    assert.deepEqual((await metrics.consumerLag.get()).values, []);
  });

  it('publishes the lag of each watched group', async () => {
    const { l, metrics } = loop(new MemoryJsonStore());
    await l.readLag();
    const v = (await metrics.consumerLag.get()).values;
    assert.deepEqual(
      v.map((x) => [x.labels.group, x.labels.topic, x.value]),
      [['g', 't', 7]],
    );
  });
});
