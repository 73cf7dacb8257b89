/**
 * perpflow compact --once [--json]
 *
 * One compaction scan of the dataset under S3_PREFIX (same S3_* and REDIS_URL /
 * COMPACTION_* variables as the windower), then the month jobs it needed run to the
 * end by this process's worker (or by a windower's, whichever takes them): one line
 * per month, then a summary. Exit codes: 0 done, 1 a job failed or S3/Redis failure,
 * 2 bad usage, 3 integrity failure (a day object did not match its manifest).
 */
import { parseArgs } from 'node:util';
import { createLogger } from '@perpflow/runtime';
import type { Queue } from 'bullmq';
import { createS3Client, S3ObjectStore } from '../adapters/s3.js';
import { loadCompactConfig } from '../config.js';
import { createWindowerMetrics } from '../metrics.js';
import { openCompaction } from './open.js';
import type { MonthJobResult, ScannedMonth } from './queue.js';

const USAGE = `usage: perpflow compact --once [--json]
  Runs one compaction scan (closed months of 1m/5m day files → one object per month under
  <S3_PREFIX>/aligned_compacted/v1/) and waits for the month jobs it needed.
  S3: S3_ENDPOINT, S3_BUCKET, S3_PREFIX, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY; queue: REDIS_URL,
  COMPACTION_QUEUE (see docs/CONFIGURATION.md).`;

/** Failed reasons of errors that mean the data does not match its manifest (exit code 3). */
const INTEGRITY = /OBJECT_INTEGRITY|COMPACTION_SOURCE_CHANGED|does not match|sha256/;

export interface CompactSummary {
  series: number;
  stale: number;
  months: (
    | MonthJobResult
    | { jobId: string; month: string; failed: string }
    /** The job was finished by another worker and is gone from the queue (its retention). */
    | { jobId: string; month: string; gone: true }
  )[];
}

export async function runCompactCli(argv: string[]): Promise<number> {
  let json = false;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        once: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.once) throw new Error('--once is required (the windower runs compaction continuously)');
    json = values.json;
  } catch (err) {
    console.error(`perpflow compact: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadCompactConfig>;
  try {
    config = loadCompactConfig();
  } catch (err) {
    console.error(`perpflow compact: ${(err as Error).message}`);
    return 2;
  }
  const logger = createLogger({ service: 'perpflow-compact', level: config.LOG_LEVEL });
  const store = new S3ObjectStore(createS3Client(config), config.S3_BUCKET);
  const { compaction, redis } = openCompaction(config, {
    store,
    metrics: createWindowerMetrics(),
    logger,
    now: Date.now,
  });
  try {
    compaction.startWorker();
    const scan = await compaction.scan();
    const summary: CompactSummary = { series: scan.series, stale: scan.stale, months: [] };
    if (!json)
      console.log(
        `scanned ${scan.series} series: ${scan.months.length} month(s) to compact, ${scan.stale} stale`,
      );
    await waitForMonths(compaction.queue, scan.months, (r) => {
      summary.months.push(r);
      if (!json) console.log(describeMonth(r));
    });
    const failed = summary.months.filter((m): m is Extract<typeof m, { failed: string }> => 'failed' in m);
    if (json) console.log(JSON.stringify(summary));
    else console.log(describeSummary(summary));
    if (failed.some((f) => INTEGRITY.test(f.failed))) return 3;
    return failed.length > 0 ? 1 : 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    console.error(`perpflow compact: ${e.message}`);
    if (e.code === 'SINK_UNAVAILABLE')
      console.error(
        `Cannot read s3://${config.S3_BUCKET} at ${config.S3_ENDPOINT || 'AWS'}: check S3_ENDPOINT and the credentials`,
      );
    return 1;
  } finally {
    await compaction.close().catch(() => undefined);
    redis.disconnect();
  }
}

/** Polls each month job until it completed or failed for good (every attempt spent), reporting each as it ends. */
async function waitForMonths(
  queue: Queue,
  months: readonly ScannedMonth[],
  onMonth: (r: CompactSummary['months'][number]) => void,
): Promise<void> {
  const pending = new Map(months.map((m) => [m.jobId, m]));
  const out = { push: onMonth };
  while (pending.size > 0) {
    for (const [id, m] of pending) {
      const job = await queue.getJob(id);
      if (!job) {
        // Removed by the retention of finished jobs: done by another worker long ago.
        out.push({ jobId: id, month: m.month, gone: true });
        pending.delete(id);
        continue;
      }
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') continue;
      // Read again: the job may have finished between the fetch above and getState.
      const done = await queue.getJob(id);
      if (state === 'completed' && done?.returnvalue) {
        out.push(done.returnvalue as MonthJobResult);
        pending.delete(id);
      } else if (state === 'failed') {
        out.push({ jobId: id, month: m.month, failed: done?.failedReason ?? 'failed' });
        pending.delete(id);
      }
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
  }
}

function describeMonth(r: CompactSummary['months'][number]): string {
  if ('failed' in r) return `failed ${r.jobId}: ${r.failed}`;
  if ('gone' in r) return `${r.jobId}: finished by another worker (no longer in the queue)`;
  const id = `${r.series.exchange} ${r.series.symbol} ${r.series.timeframe} ${r.month}`;
  if (r.outcome === 'skipped') return `${id}: skipped (${r.status})`;
  return `${id}: ${r.outcome}, ${r.days} days, ${r.rows} rows, ${r.bytes} bytes`;
}

function describeSummary(s: CompactSummary): string {
  let months = 0;
  let rows = 0;
  let days = 0;
  let bytes = 0;
  let skipped = 0;
  let failed = 0;
  for (const m of s.months) {
    if ('failed' in m) failed++;
    else if ('gone' in m) skipped++;
    else if (m.outcome === 'skipped') skipped++;
    else {
      months++;
      rows += m.rows;
      days += m.days;
      bytes += m.bytes;
    }
  }
  return (
    `compacted ${months} month(s) of ${s.series} series: ${days} day objects, ${rows} rows, ${bytes} bytes; ` +
    `${skipped} skipped, ${failed} failed; ${s.stale} stale month(s) found`
  );
}
