import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleAlignedBar } from '@perpflow/contracts';
import { CompactionStore, READS_AT_ONCE } from '../adapters/compaction-store.js';
import { WindowStore } from '../adapters/window-store.js';
import { SlowStore } from '../test-support/slow-store.js';
import { listDatasetVersions } from './list.js';

const MIN = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 1);
const PREFIX = 'datasets-unit';

describe('perpflow datasets over many series', () => {
  it('counts every series, row and time span, reading up to READS_AT_ONCE indexes and listings at once', async () => {
    const store = new SlowStore();
    const windows = new WindowStore(store, PREFIX, 'test');
    // 20 symbols on two exchanges, 1m day windows; symbol i holds i + 1 bars from day i % 3.
    const symbols = Array.from({ length: 20 }, (_, i) => ({
      exchange: i % 2 === 0 ? ('binanceusdm' as const) : ('bybit' as const),
      symbol: `S${i}/USDT:USDT`,
      day: T0 + (i % 3) * DAY,
      bars: i + 1,
    }));
    for (const s of symbols)
      await windows.write({
        window: { exchange: s.exchange, symbol: s.symbol, timeframe: '1m', unit: 'day', startMs: s.day },
        latest: Array.from({ length: s.bars }, (_, k) =>
          sampleAlignedBar({ exchange: s.exchange, symbol: s.symbol, eventTimeMs: s.day + k * MIN }),
        ),
        superseded: [],
        kafkaOffsets: [],
        watermarkMs: null,
        closed: false,
        writtenAtMs: s.day,
      });
    store.reset();
    const [live] = await listDatasetVersions(store, PREFIX);
    assert.ok(live);
    assert.equal(live.live, true);
    assert.equal(live.stats.series, 20);
    assert.equal(live.stats.rows, (20 * 21) / 2);
    assert.equal(live.stats.minTsMs, T0);
    // The last bar: symbol 17 (18 bars, day 2) or 14 (15 bars, day 2): 17's.
    assert.equal(live.stats.maxTsMs, T0 + 2 * DAY + 17 * MIN);
    assert.equal(store.most.get, READS_AT_ONCE, 'series indexes read at once');
    assert.equal(store.most.list, READS_AT_ONCE, 'folders listed at once');
    // The listing keeps its order whatever finishes first: series by timeframe, exchange, symbol.
    const series = await new CompactionStore(store, PREFIX, 'test').listSeries();
    assert.deepEqual(
      series.map((s) => `${s.exchange} ${s.symbol}`),
      [...symbols]
        .sort(
          (a, b) =>
            a.exchange.localeCompare(b.exchange) ||
            (encodeURIComponent(a.symbol) < encodeURIComponent(b.symbol) ? -1 : 1),
        )
        .map((s) => `${s.exchange} ${s.symbol}`),
    );
  });
});
