import { createHash } from 'node:crypto';
import type { AlignConfig } from '@perpflow/align';
import { type Timeframe, timeframeMs } from '@perpflow/contracts';
import {
  DEFAULT_WINDOW_POLICY,
  encodeSymbol,
  normalizePrefix,
  type WindowUnit,
  windowEndOf,
  windowStartOf,
  windowStartsCovering,
} from '@perpflow/dataset';
import type { EngineConfig } from '../domain/engine.js';

/**
 * What one reprocess job rebuilds: the windows in [fromMs, toMs) of the series of one
 * exchange whose records are in one raw partition (all of them, or `symbols`), a whole
 * number of windows inside one period (a UTC month, or a year for timeframes whose window
 * is a year). A partition is the live aligner's own unit: one engine holds every series of
 * partition p of the four raw topics (they share a key, so a partition number). The job
 * reads each archive object of its partition once; a job per series would read every
 * object of a partition once per series in it. The engine config travels with the job, so
 * a worker on any host runs the coordinator's config, not its own environment's.
 */
export interface ReprocessJobData {
  version: string;
  engine: Pick<EngineConfig, 'quality' | 'align'>;
  exchange: string;
  partition: number;
  /** Null: every series of the partition. */
  symbols: string[] | null;
  fromMs: number;
  toMs: number;
}

export interface ReprocessRange {
  fromMs: number;
  toMs: number;
  exchange: string;
  /** Raw partitions holding records of the exchange in the range (from the archive's day indexes). */
  partitions: readonly number[];
  /** Null: every series. */
  symbols: readonly string[] | null;
}

/** A job's period: months for day and month windows, years for year windows. */
export function periodUnitOf(tf: Timeframe): WindowUnit {
  return DEFAULT_WINDOW_POLICY[tf] === 'year' ? 'year' : 'month';
}

/**
 * The range widened to whole windows ([from, to) touching part of a window rebuilds it
 * whole: a window object is never written with part of its bars).
 */
export function windowAlignedRange(fromMs: number, toMs: number, tf: Timeframe): [number, number] {
  const unit = DEFAULT_WINDOW_POLICY[tf];
  const from = windowStartOf(fromMs, unit);
  const to = windowEndOf(windowStartOf(toMs - 1, unit), unit);
  return [from, to];
}

/** One job per partition and period, in partition then time order. */
export function planReprocessJobs(
  range: ReprocessRange,
  version: string,
  engine: Pick<EngineConfig, 'quality' | 'align'>,
): ReprocessJobData[] {
  if (!Number.isSafeInteger(range.fromMs) || !Number.isSafeInteger(range.toMs) || range.toMs <= range.fromMs)
    throw new RangeError(`need integer ms with from < to, got [${range.fromMs}, ${range.toMs})`);
  const tf = engine.align.timeframe;
  const [from, to] = windowAlignedRange(range.fromMs, range.toMs, tf);
  const unit = periodUnitOf(tf);
  const symbols = range.symbols === null ? null : [...new Set(range.symbols)].sort();
  const jobs: ReprocessJobData[] = [];
  for (const partition of [...new Set(range.partitions)].sort((a, b) => a - b))
    for (const p of windowStartsCovering(from, to, unit))
      jobs.push({
        version,
        engine,
        exchange: range.exchange,
        partition,
        symbols,
        fromMs: Math.max(p, from),
        toMs: Math.min(windowEndOf(p, unit), to),
      });
  return jobs;
}

/**
 * Deterministic job id: the same request names the same jobs, which BullMQ keeps once, so
 * a second run (after a crash, or by another host) redoes none that finished. BullMQ ids
 * may not contain `:`; a symbol filter is named by a hash of its symbols.
 */
export function reprocessJobId(d: ReprocessJobData): string {
  const series =
    d.symbols === null
      ? 'all'
      : `s${createHash('sha256').update(d.symbols.map(encodeSymbol).join(',')).digest('hex').slice(0, 16)}`;
  return [
    'rp',
    d.version,
    d.engine.align.timeframe,
    d.exchange,
    `p${d.partition}`,
    series,
    d.fromMs,
    d.toMs,
  ].join('.');
}

/** Redis key prefix of a dataset's reprocess queue (as the compaction queue's: one per bucket and prefix). */
export function reprocessKeyPrefix(bucket: string, prefix: string): string {
  return `bull:${bucket}/${normalizePrefix(prefix)}`;
}

/**
 * Archive time read around a job's windows. Lead-in: the longest any input stays in use
 * (a funding settlement for its interval and grace, open interest for its staleness), so
 * the first bars see the funding and open interest the live aligner had. Tail: the records
 * after the range that move the watermark, so the last bars are emitted and late records
 * are judged against the same watermark as live (the revision horizon, plus a bar).
 */
export function readMarginsMs(align: AlignConfig): { leadInMs: number; tailMs: number } {
  const tf = timeframeMs(align.timeframe);
  return {
    leadInMs: Math.max(align.fundingIntervalMs + align.fundingGraceMs, align.maxOpenInterestStalenessMs) + tf,
    tailMs: align.revisionHorizonMs + align.allowedLatenessMs + tf,
  };
}
