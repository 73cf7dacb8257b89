import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { env, parseConfig } from '@perpflow/runtime';
import { z } from 'zod';

export const SECTIONS = [
  'publish',
  'aligner',
  'windower',
  'backfill',
  'live',
  'archiver',
  'reprocess',
  'pull',
] as const;
export type SectionName = (typeof SECTIONS)[number];

/** Sizes of each scale; every one can be overridden by its BENCH_* variable. */
const SCALES = {
  quick: {
    publishRecords: 50_000,
    alignerSymbols: 50,
    alignerMinutes: 720,
    windowerSymbols: 50,
    windowerDays: 1,
    baselineRows: 20_000,
    backfillSymbols: 10,
    backfillDays: 1,
    liveSymbols: 100,
    liveBarCloses: 1,
    archiverSymbols: 100,
    reprocessSymbols: 100,
    reprocessDays: 6,
    pullSymbols: 20,
    pullDays: 10,
  },
  full: {
    publishRecords: 500_000,
    alignerSymbols: 500,
    alignerMinutes: 1_440,
    windowerSymbols: 500,
    windowerDays: 2,
    baselineRows: 100_000,
    backfillSymbols: 100,
    backfillDays: 3,
    liveSymbols: 500,
    liveBarCloses: 3,
    archiverSymbols: 300,
    reprocessSymbols: 200,
    reprocessDays: 6,
    pullSymbols: 100,
    pullDays: 10,
  },
} as const;

/** bench configuration: one zod schema over environment variables, parsed at start-up. */
export const BenchConfigSchema = z.object({
  BENCH_SCALE: z
    .enum(['quick', 'full'])
    .default('quick')
    .describe('sizes: quick (~2 min) or full (≤ 15 min)'),
  BENCH_SECTIONS: env
    .list([...SECTIONS])
    .pipe(z.array(z.enum(SECTIONS)))
    .describe('sections to run, comma-separated'),
  BENCH_RESULTS_DIR: z.string().default('results').describe('where <iso-time>.json and latest.json go'),
  BENCH_STACK_KIND: z.enum(['own', 'shared']).default('own').describe('set by scripts/bench.sh'),
  BENCH_PUBLISH_RECORDS: z.coerce.number().int().positive().optional(),
  BENCH_PUBLISH_CONCURRENCY: env.int(2, { min: 1 }).describe('sends in flight (the backfill concurrency)'),
  BENCH_ALIGNER_SYMBOLS: z.coerce.number().int().positive().optional(),
  BENCH_ALIGNER_MINUTES: z.coerce.number().int().positive().optional(),
  BENCH_WINDOWER_SYMBOLS: z.coerce.number().int().positive().optional(),
  BENCH_WINDOWER_DAYS: z.coerce.number().int().positive().optional(),
  BENCH_BASELINE_ROWS: z.coerce.number().int().positive().optional(),
  BENCH_BACKFILL_SYMBOLS: z.coerce.number().int().positive().optional(),
  BENCH_BACKFILL_DAYS: z.coerce.number().int().positive().optional(),
  BENCH_LIVE_SYMBOLS: z.coerce.number().int().positive().optional(),
  BENCH_LIVE_BAR_CLOSES: z.coerce.number().int().positive().optional(),
  BENCH_ARCHIVER_SYMBOLS: z.coerce.number().int().positive().optional(),
  BENCH_REPROCESS_SYMBOLS: z.coerce.number().int().positive().optional(),
  BENCH_REPROCESS_DAYS: z.coerce.number().int().positive().optional(),
  BENCH_PULL_SYMBOLS: z.coerce.number().int().positive().optional(),
  BENCH_PULL_DAYS: z.coerce.number().int().positive().optional(),
  BENCH_REPROCESS_WORKER_HEAP_MB: env
    .int(0, { min: 0 })
    .describe("reprocess: V8's old-space cap of each worker process, --max-old-space-size (0: V8's default)"),
  BENCH_REPROCESS_OTHER_FLAGS: z
    .string()
    .trim()
    .regex(/^(--[a-z][a-z-]*(=\d+)?( +|$))*$/, 'Node/V8 flags separated by spaces, each --name or --name=N')
    .optional()
    .describe(
      "reprocess: REPROCESS_WORKER_NODE_FLAGS of the comparison 2-worker run (default --max-semi-space-size=4: the young generation's cap alone)",
    ),
  BENCH_LIVE_SIM_PUSH_MS: z.coerce
    .number()
    .int()
    .min(50)
    .default(250)
    .describe(
      "live: the simulator's websocket push interval (PUSH_INTERVAL_MS); 250 ms is Binance USD-M's documented kline update speed, the simulator's own default (1 s) adds up to 1 s to every bar",
    ),
  BENCH_SERVICE_NODE_FLAGS: z
    .string()
    .trim()
    .regex(/^(--[a-z][a-z-]*(=\d+)?( +|$))*$/, 'Node/V8 flags separated by spaces, each --name or --name=N')
    .default('')
    .describe(
      'Node/V8 flags added to every service the bench starts (after SERVICE_NODE_FLAGS), to measure what a flag costs and saves',
    ),
  BENCH_S3_LATENCY_MS: env
    .int(0, { min: 0, max: 10_000 })
    .describe(
      "own stack: milliseconds the S3 server waits before answering each object request (S3's own latency for small objects is tens of milliseconds)",
    ),
  BENCH_PROFILE: env
    .bool(false)
    .describe('run the services under node --cpu-prof; profiles in <results>/profiles'),
  BENCH_ALT_CLIENT: env
    .bool(true)
    .describe('also measure @platformatic/kafka (the proposed alternative client)'),
  KAFKA_BROKERS: z.string().default('127.0.0.1:39092'),
  REDIS_URL: z.string().default('redis://127.0.0.1:36379'),
  S3_ENDPOINT: z.string().default('http://127.0.0.1:39000'),
  S3_BUCKET: z.string().default('perpflow'),
});

export interface BenchConfig {
  scale: 'quick' | 'full';
  sections: readonly SectionName[];
  resultsDir: string;
  stackKind: 'own' | 'shared';
  publishRecords: number;
  publishConcurrency: number;
  alignerSymbols: number;
  alignerMinutes: number;
  windowerSymbols: number;
  windowerDays: number;
  baselineRows: number;
  backfillSymbols: number;
  backfillDays: number;
  liveSymbols: number;
  liveBarCloses: number;
  liveSimPushMs: number;
  archiverSymbols: number;
  reprocessSymbols: number;
  reprocessDays: number;
  reprocessWorkerHeapMb: number;
  pullSymbols: number;
  pullDays: number;
  /** Flags of the comparison worker run; undefined: OTHER_WORKER_FLAGS. */
  reprocessOtherFlags: string | undefined;
  altClient: boolean;
  /** BENCH_SERVICE_NODE_FLAGS, split. */
  serviceNodeFlags: readonly string[];
  profile: boolean;
  /** BENCH_S3_LATENCY_MS (scripts/bench.sh hands it to the own stack's S3 server). */
  s3LatencyMs: number;
  kafkaBrokers: string;
  redisUrl: string;
  s3Endpoint: string;
  s3Bucket: string;
}

export function loadBenchConfig(environment: Record<string, string | undefined> = process.env): BenchConfig {
  const c = parseConfig(BenchConfigSchema, environment);
  const s = SCALES[c.BENCH_SCALE];
  return {
    scale: c.BENCH_SCALE,
    sections: c.BENCH_SECTIONS,
    resultsDir: c.BENCH_RESULTS_DIR,
    stackKind: c.BENCH_STACK_KIND,
    publishRecords: c.BENCH_PUBLISH_RECORDS ?? s.publishRecords,
    publishConcurrency: c.BENCH_PUBLISH_CONCURRENCY,
    alignerSymbols: c.BENCH_ALIGNER_SYMBOLS ?? s.alignerSymbols,
    alignerMinutes: c.BENCH_ALIGNER_MINUTES ?? s.alignerMinutes,
    windowerSymbols: c.BENCH_WINDOWER_SYMBOLS ?? s.windowerSymbols,
    windowerDays: c.BENCH_WINDOWER_DAYS ?? s.windowerDays,
    baselineRows: c.BENCH_BASELINE_ROWS ?? s.baselineRows,
    backfillSymbols: c.BENCH_BACKFILL_SYMBOLS ?? s.backfillSymbols,
    backfillDays: c.BENCH_BACKFILL_DAYS ?? s.backfillDays,
    liveSymbols: c.BENCH_LIVE_SYMBOLS ?? s.liveSymbols,
    liveBarCloses: c.BENCH_LIVE_BAR_CLOSES ?? s.liveBarCloses,
    liveSimPushMs: c.BENCH_LIVE_SIM_PUSH_MS,
    archiverSymbols: c.BENCH_ARCHIVER_SYMBOLS ?? s.archiverSymbols,
    reprocessSymbols: c.BENCH_REPROCESS_SYMBOLS ?? s.reprocessSymbols,
    reprocessDays: c.BENCH_REPROCESS_DAYS ?? s.reprocessDays,
    reprocessWorkerHeapMb: c.BENCH_REPROCESS_WORKER_HEAP_MB,
    pullSymbols: c.BENCH_PULL_SYMBOLS ?? s.pullSymbols,
    pullDays: c.BENCH_PULL_DAYS ?? s.pullDays,
    reprocessOtherFlags: c.BENCH_REPROCESS_OTHER_FLAGS,
    altClient: c.BENCH_ALT_CLIENT,
    serviceNodeFlags: c.BENCH_SERVICE_NODE_FLAGS === '' ? [] : c.BENCH_SERVICE_NODE_FLAGS.split(/ +/),
    profile: c.BENCH_PROFILE,
    s3LatencyMs: c.BENCH_S3_LATENCY_MS,
    kafkaBrokers: c.KAFKA_BROKERS,
    redisUrl: c.REDIS_URL,
    s3Endpoint: c.S3_ENDPOINT,
    s3Bucket: c.S3_BUCKET,
  };
}

/**
 * A service's extra Node flags: BENCH_SERVICE_NODE_FLAGS, and with BENCH_PROFILE=1 those
 * that make it write a CPU profile when it exits (flags, not NODE_OPTIONS: Node 20
 * refused --cpu-prof there).
 */
export function serviceNodeArgs(c: BenchConfig, name: string): string[] {
  if (!c.profile) return [...c.serviceNodeFlags];
  const dir = resolve(c.resultsDir, 'profiles', name);
  mkdirSync(dir, { recursive: true });
  return [...c.serviceNodeFlags, '--cpu-prof', `--cpu-prof-dir=${dir}`];
}
