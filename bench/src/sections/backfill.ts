/**
 * End-to-end backfill: N symbols × D days of 1m data from the simulator through
 * exchange-ingest's BullMQ backfill (candles, open interest, funding), the aligner
 * and the windower into S3. Wall time from the backfill's start command to the
 * last manifest that completes the full days (its writtenAtMs), bars/s over the
 * N × D × 1440 bars, and peak RSS (VmHWM) of each service.
 */
import { runTool, sleep, uniqueName } from '../../../test/src/harness.js';
import type { BenchConfig } from '../config.js';
import { DAY_MS, recentDays, TF_MS, universe } from '../market-data.js';
import { benchS3, manifestCache, readManifests, startPipeline } from '../pipeline-procs.js';
import type { FigureInput } from '../report.js';
import { CpuSpent, PeakMemory, stackServerPids } from '../system.js';
import type { SectionResult } from './publish.js';

export async function benchBackfill(c: BenchConfig): Promise<SectionResult> {
  const { fromMs, toMs } = recentDays(c.backfillDays);
  const u = universe(c.backfillSymbols, fromMs - DAY_MS);
  const expected = c.backfillSymbols * c.backfillDays * 1_440;
  const p = await startPipeline(c, 'backfill', {
    simSymbols: u.model.symbols.length,
    // The bench measures the pipeline, not the venue's rate limit.
    simEnv: {
      BINANCE_WEIGHT_PER_MINUTE: '100000000',
      BINANCE_FUNDING_RATE_PER_5M: '100000000',
      BINANCE_OI_HIST_PER_5M: '100000000',
    },
    ingestEnv: { INGEST_LIVE: 'false', INGEST_BACKFILL_CONCURRENCY: '4', INGEST_RATE_LIMIT_MS: '1' },
    windowerEnv: { WINDOWER_FLUSH_INTERVAL_MS: '2000' },
  });
  const mem = new PeakMemory(p.pids());
  const s3 = benchS3(c);
  try {
    const id = uniqueName('bench');
    const cpu = new CpuSpent({ ...p.pids(), ...stackServerPids() });
    const startedAtMs = Date.now();
    // Two bars past the last day, so the watermark passes its last bar (close + lateness).
    const cli = runTool(
      'services/exchange-ingest',
      'src/cli.ts',
      [
        'start',
        '--id',
        id,
        '--exchange',
        'binanceusdm',
        '--symbols',
        u.symbols.map((s) => s.unified).join(','),
        '--from',
        String(fromMs),
        '--to',
        String(toMs + 2 * TF_MS),
      ],
      { REDIS_URL: c.redisUrl },
    );
    if (cli.status !== 0) throw new Error(`backfill start failed: ${cli.stderr}`);
    const deadline = Date.now() + 600_000;
    let durable = 0;
    let doneAtMs: number | null = null;
    let manifests = 0;
    const read = manifestCache();
    while (Date.now() < deadline) {
      await sleep(1_000);
      const ms = (await readManifests(s3, c.s3Bucket, p.prefix, undefined, read)).filter(
        (m) => m.windowStartMs !== null && m.windowStartMs < toMs,
      );
      durable = ms.reduce((s, m) => s + m.rowCount, 0);
      manifests = ms.length;
      if (durable >= expected) {
        doneAtMs = Math.max(...ms.map((m) => m.writtenAtMs ?? Date.now()));
        break;
      }
    }
    const peaks = mem.stop();
    const cpuSeconds = cpu.stop();
    const cpuTotal = Object.values(cpuSeconds).reduce((a, b) => a + b, 0);
    const wallSeconds = doneAtMs !== null ? (doneAtMs - startedAtMs) / 1000 : null;
    const figures: FigureInput[] = [
      {
        name: `backfill ${c.backfillSymbols} symbols × ${c.backfillDays} d, sim → S3`,
        value: wallSeconds !== null ? expected / wallSeconds : null,
        unit: 'bars/s',
        target: { op: '>=', value: 50_000 },
        note:
          doneAtMs === null ? `timed out with ${durable} of ${expected} bars durable` : `${expected} bars`,
      },
      { name: 'backfill wall time', value: wallSeconds, unit: 's' },
      {
        name: 'backfill CPU per bar, every process',
        value: doneAtMs !== null ? (cpuTotal / expected) * 1e6 : null,
        unit: 'µs/bar',
        note: `${cpuTotal.toFixed(1)} CPU-s: ${Object.entries(cpuSeconds)
          .sort((a, b) => b[1] - a[1])
          .map(([name, s]) => `${name} ${s.toFixed(1)}`)
          .join(', ')}`,
      },
      ...Object.entries(peaks).map(([svc, mib]) => ({
        name: `backfill peak RSS ${svc}`,
        value: mib,
        unit: 'MiB',
        target: { op: '<=' as const, value: 300 },
      })),
    ];
    return {
      figures,
      details: {
        expectedBars: expected,
        durableBars: durable,
        manifests,
        // The bench's own GETs of manifests while it waited (each new or changed one, once).
        manifestGets: read.gets,
        wallSeconds,
        peakRssMiB: peaks,
        // From the start command to the last manifest seen (the bench's own polling included).
        cpuSeconds,
        fromMs,
        toMs,
        prefix: p.prefix,
        backfillId: id,
      },
    };
  } finally {
    mem.stop();
    s3.destroy();
    await p.stop();
  }
}
