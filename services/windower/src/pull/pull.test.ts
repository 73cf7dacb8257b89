import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { type AlignedBar, sampleAlignedBar } from '@perpflow/contracts';
import { parseSeriesIndex, seriesIndexKey } from '@perpflow/dataset';
import { CompactionStore } from '../adapters/compaction-store.js';
import { WindowStore } from '../adapters/window-store.js';
import { SlowStore } from '../test-support/slow-store.js';
import { pullDataset } from './pull.js';

const MIN = 60_000;
const DAY = 86_400_000;
const FEB_27 = Date.UTC(2024, 1, 27);
const FEB = Date.UTC(2024, 1, 1);
const PREFIX = 'pull-unit';

const bar = (symbol: string, t: number, over: Partial<AlignedBar> = {}): AlignedBar =>
  sampleAlignedBar({
    symbol,
    eventTimeMs: t,
    knownAtMs: t + MIN + 500,
    close: 100 + ((t / MIN) % 7),
    ...over,
  });

/** Every file under `dir`, by path relative to it, with its bytes. */
function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe('pullDataset reading objects at once', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('writes the same files and report with any concurrency, reading up to that many objects at once', async () => {
    const store = new SlowStore();
    const windows = new WindowStore(store, PREFIX, 'test');
    const symbols = ['A/USDT:USDT', 'B/USDT:USDT', 'C/USDT:USDT'];
    // Five day windows per symbol (27 Feb – 2 Mar 2024), 30 bars each; one bar revised
    // (a revisions object); February compacted for A and B (one object for its three days).
    for (const symbol of symbols)
      for (let d = 0; d < 5; d++) {
        const start = FEB_27 + d * DAY;
        const latest = Array.from({ length: 30 }, (_, i) => bar(symbol, start + i * MIN));
        const superseded =
          d === 3 ? [bar(symbol, start + 4 * MIN, { close: 1, knownAtMs: start + 5 * MIN })] : [];
        if (d === 3) latest[4] = bar(symbol, start + 4 * MIN, { revision: 1 });
        await windows.write({
          window: { exchange: 'binanceusdm', symbol, timeframe: '1m', unit: 'day', startMs: start },
          latest,
          superseded,
          kafkaOffsets: [],
          watermarkMs: start + DAY,
          closed: true,
          writtenAtMs: start + DAY,
        });
      }
    const compaction = new CompactionStore(store, PREFIX, 'test');
    for (const symbol of symbols.slice(0, 2)) {
      const series = { exchange: 'binanceusdm' as const, symbol, timeframe: '1m' as const };
      const index = parseSeriesIndex(store.objects.get(seriesIndexKey(PREFIX, series))!);
      await compaction.compactMonth(index, FEB, Date.UTC(2024, 2, 10));
    }
    const pull = async (concurrency: number) => {
      const outDir = mkdtempSync(join(tmpdir(), `perpflow-pull-unit-${concurrency}-`));
      dirs.push(outDir);
      store.reset();
      const report = await pullDataset(store, {
        exchanges: ['binanceusdm'],
        symbols: [...symbols, 'D/USDT:USDT'],
        timeframe: '1m',
        fromMs: FEB_27,
        toMs: FEB_27 + 5 * DAY,
        outDir,
        prefix: PREFIX,
        concurrency,
      });
      return { report, outDir, maxInFlight: store.maxInFlight, gets: store.reads };
    };
    const one = await pull(1);
    const six = await pull(6);
    assert.equal(one.maxInFlight, 1);
    assert.equal(six.maxInFlight, 6);
    assert.equal(six.gets, one.gets, 'the same objects read');
    assert.equal(one.report.compactedMonths, 2);
    assert.equal(one.report.rows, 3 * 5 * 30);
    assert.deepEqual(
      one.report.series.map((s) => [s.symbol, s.indexFound, s.rows]),
      [
        ['A/USDT:USDT', true, 150],
        ['B/USDT:USDT', true, 150],
        ['C/USDT:USDT', true, 150],
        ['D/USDT:USDT', false, 0],
      ],
    );
    const strip = (r: typeof one.report) => ({
      ...r,
      request: { ...r.request, outDir: '', concurrency: 0 },
      files: r.files.map((f) => ({ ...f, path: relative(r.request.outDir, f.path) })),
    });
    assert.deepEqual(strip(six.report), strip(one.report));
    const a = filesUnder(one.outDir);
    const b = filesUnder(six.outDir);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    // Two compacted months, three of C's February days, and each symbol's two March days.
    assert.equal([...a.keys()].filter((k) => k.endsWith('.parquet')).length, 2 + 3 + 3 * 2);
    for (const [k, bytes] of a) if (k !== '_pull.json') assert.ok(bytes.equals(b.get(k)!), k);
  });

  it('refuses a concurrency below 1', async () => {
    await assert.rejects(
      pullDataset(new SlowStore(), {
        exchanges: ['binanceusdm'],
        symbols: ['A/USDT:USDT'],
        timeframe: '1m',
        fromMs: FEB_27,
        toMs: FEB_27 + DAY,
        outDir: join(tmpdir(), 'perpflow-pull-unit-never'),
        prefix: PREFIX,
        concurrency: 0,
      }),
      /concurrency must be a positive integer, got 0/,
    );
  });
});
