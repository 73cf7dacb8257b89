/**
 * Live soak: one ingest worker keeps a whole simulated universe fresh.
 *
 *   npm run soak -w @perpflow/exchange-ingest        (or `npm run soak` at the root)
 *
 * Starts the shared stack's Kafka and Redis if they are down (never stops them),
 * the simulator (SOAK_SYMBOLS perpetuals, Binance USDⓈ-M format and limits) and
 * one ingest worker (live only, all four feeds at 1m), lets it warm up for
 * SOAK_WARMUP_S, then measures for SOAK_DURATION_S (default 600):
 *   - freshness per feed: every SOAK_SCRAPE_S the ingest's
 *     perpflow_feed_freshness_seconds of every (symbol, feed); p50/p99/max over all samples.
 *     Liquidations are events (a symbol has ~1 burst an hour), so their per-symbol
 *     freshness says nothing; the liquidation line reports the stream's freshness
 *     (newest event of any symbol) and the event → receive delay instead;
 *   - 429 and 418 answers (the simulator's counters, over the whole run, warm-up included);
 *   - requests per minute and the weight used per minute window vs the 2400 budget;
 *   - records published (ingest counters) and the worker's peak RSS.
 * Prints a summary, writes it as JSON (SOAK_OUT, default .data/bench/soak-<time>.json) and
 * exits 1 when a target is missed: p99 freshness ≤ 90 s for candles, open interest and
 * funding, and zero 429/418.
 */
import type { ChildProcess } from 'node:child_process';
import {
  envNumber,
  freePort,
  loadAverage,
  parseMetrics,
  rssKiB,
  type Sample,
  saveResult,
  sleep,
  stackEnv,
  startNode,
  sumOf as sum,
  until,
} from './local-run.js';

const DURATION_S = envNumber('SOAK_DURATION_S', 600);
const WARMUP_S = envNumber('SOAK_WARMUP_S', 90);
const SCRAPE_S = envNumber('SOAK_SCRAPE_S', 10);
const SYMBOLS = envNumber('SOAK_SYMBOLS', 500);
/** INGEST_CANDLES for the worker (`websocket` or `rest`); unset: the worker's default. */
const CANDLES = process.env.SOAK_CANDLES ?? '';
const TARGET_P99_S = 90;
const BUDGET = 2400;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}
function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    samples: s.length,
    p50: r(quantile(s, 0.5)),
    p99: r(quantile(s, 0.99)),
    max: r(s.at(-1) ?? Number.NaN),
  };
}
/** Upper bound of the bucket holding quantile q of a histogram's cumulative buckets. */
function histogramQuantile(
  samples: Sample[],
  name: string,
  match: Record<string, string>,
  q: number,
): number {
  const buckets = samples
    .filter((x) => x.name === `${name}_bucket` && Object.entries(match).every(([k, v]) => x.labels[k] === v))
    .map((x) => ({ le: x.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(x.labels.le), n: x.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  if (total === 0) return Number.NaN;
  return buckets.find((b) => b.n >= q * total)?.le ?? Number.NaN;
}

/** last − first, sample by sample (counters and histogram buckets over the measured window). */
function deltaSamples(first: Sample[], last: Sample[]): Sample[] {
  const key = (s: Sample) => `${s.name}${JSON.stringify(s.labels)}`;
  const before = new Map(first.map((s) => [key(s), s.value]));
  return last.map((s) => ({ ...s, value: s.value - (before.get(key(s)) ?? 0) }));
}

async function main(): Promise<number> {
  const stack = stackEnv();
  const simPort = await freePort();
  const ingestPort = await freePort();
  const sim = `http://127.0.0.1:${simPort}`;
  const ingestUrl = `http://127.0.0.1:${ingestPort}`;
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  try {
    children.push(
      startNode('soak-sim', 'services/exchange-sim', { PORT: String(simPort), SYMBOLS: String(SYMBOLS) }),
    );
    await until('the simulator', async () => (await fetch(`${sim}/healthz`)).ok, 60_000);
    const ingest = startNode('soak-ingest', 'services/exchange-ingest', {
      KAFKA_BROKERS: stack.KAFKA_BROKERS ?? '127.0.0.1:39092',
      REDIS_URL: stack.REDIS_URL ?? 'redis://127.0.0.1:36379',
      KAFKA_CLIENT_ID: `soak-${Date.now().toString(36)}`,
      INGEST_EXCHANGES: 'binanceusdm',
      INGEST_ENDPOINTS: `binanceusdm=${sim}`,
      ...(CANDLES ? { INGEST_CANDLES: CANDLES } : {}),
      INGEST_BACKFILL_WORKER: 'false',
      METRICS_PORT: String(ingestPort),
      LOG_LEVEL: 'warn',
    });
    children.push(ingest);
    const exited = new Promise<number | null>((r) => ingest.once('exit', (c) => r(c)));
    let ingestExit: number | null | undefined;
    void exited.then((c) => {
      ingestExit = c;
    });
    await until('the ingest worker', async () => (await fetch(`${ingestUrl}/readyz`)).ok, 120_000);
    const t0 = Date.now();
    console.log(
      `soak: ${SYMBOLS} symbols × 4 feeds (candles: ${CANDLES || 'worker default'}), warm-up ${WARMUP_S} s, measuring ${DURATION_S} s; sim ${sim}, ingest ${ingestUrl}`,
    );

    const fresh: Record<string, number[]> = { ohlcv: [], open_interest: [], funding: [] };
    const liqStream: number[] = [];
    const stale = new Map<string, number>(); // (symbol|feed) → worst freshness seen
    const weightByMinute = new Map<number, number>();
    let peakRss = 0;
    let first: { ingest: Sample[]; sim: Sample[]; state: SimState; at: number } | undefined;
    let last: typeof first;
    const end = t0 + (WARMUP_S + DURATION_S) * 1000;
    let nextScrape = t0 + WARMUP_S * 1000;
    while (Date.now() < end) {
      if (ingestExit !== undefined)
        throw new Error(`the ingest worker exited (${ingestExit}); see .data/logs/soak-ingest.log`);
      const state = (await (await fetch(`${sim}/__sim/state`)).json()) as SimState;
      const used = Math.max(0, ...Object.values(state.limits.binanceusdm.ips).map((i) => i.usedWeight));
      const minute = Math.floor(state.wallMs / 60_000);
      weightByMinute.set(minute, Math.max(weightByMinute.get(minute) ?? 0, used));
      peakRss = Math.max(peakRss, rssKiB(ingest.pid ?? 0, 'VmRSS'));
      if (Date.now() >= nextScrape) {
        nextScrape += SCRAPE_S * 1000;
        const [ingestText, simText] = await Promise.all([
          fetch(`${ingestUrl}/metrics`).then((r) => r.text()),
          fetch(`${sim}/metrics`).then((r) => r.text()),
        ]);
        const ing = parseMetrics(ingestText);
        const snap = { ingest: ing, sim: parseMetrics(simText), state, at: Date.now() };
        if (!first) first = snap;
        last = snap;
        let newestLiq = 0;
        for (const s of ing) {
          if (s.name === 'perpflow_feed_freshness_seconds') {
            const feed = s.labels.feed ?? '';
            fresh[feed]?.push(s.value);
            if (feed in fresh) {
              const k = `${s.labels.symbol}|${feed}`;
              stale.set(k, Math.max(stale.get(k) ?? 0, s.value));
            }
          }
          if (s.name === 'perpflow_feed_newest_event_time_seconds' && s.labels.feed === 'liquidation')
            newestLiq = Math.max(newestLiq, s.value);
        }
        if (newestLiq > 0) liqStream.push(Date.now() / 1000 - newestLiq);
        const elapsed = Math.round((Date.now() - t0) / 1000);
        const cur = stats(fresh.ohlcv ?? []);
        process.stdout.write(
          `  t=${elapsed}s  ohlcv p99 so far ${cur.p99}s  weight this minute ${used}/${BUDGET}  429s ${sum(snap.sim, 'perpflow_sim_faults_injected_total', { kind: 'rate_limited_429' })}  RSS ${(peakRss / 1024).toFixed(0)} MiB\n`,
        );
      }
      await sleep(2_000);
    }
    if (!first || !last) throw new Error('no measurement was taken');
    const hwm = rssKiB(ingest.pid ?? 0, 'VmHWM');
    const minutes = (last.at - first.at) / 60_000;
    const simReq = (s: Sample[], status?: string) =>
      sum(
        s,
        'perpflow_sim_http_requests_total',
        status ? { venue: 'binanceusdm', status } : { venue: 'binanceusdm' },
      );
    const published = (feed: string) =>
      sum(last!.ingest, 'perpflow_ingest_records_published_total', { feed });
    const weights = [...weightByMinute.entries()]
      .sort((a, b) => a[0] - b[0])
      .slice(1, -1) // the first and last minute windows are partial
      .map(([, w]) => w);
    // Histograms over the measured window only (the warm-up's catch-up candles are old by design).
    const window = deltaSamples(first.ingest, last.ingest);
    const delay = (feed: string, q: number) =>
      histogramQuantile(window, 'perpflow_ingest_event_delay_seconds', { feed }, q);
    const feeds = {
      ohlcv: stats(fresh.ohlcv ?? []),
      open_interest: stats(fresh.open_interest ?? []),
      funding: stats(fresh.funding ?? []),
      liquidation: {
        streamFreshness: stats(liqStream),
        eventDelayP50AtMostS: delay('liquidation', 0.5),
        eventDelayP99AtMostS: delay('liquidation', 0.99),
      },
    };
    const candleDelay = { p50AtMostS: delay('ohlcv', 0.5), p99AtMostS: delay('ohlcv', 0.99) };
    const result = {
      startedAt: new Date(t0).toISOString(),
      symbols: SYMBOLS,
      candles: CANDLES || 'worker default',
      warmupS: WARMUP_S,
      measuredS: Math.round((last.at - first.at) / 1000),
      freshnessS: feeds,
      candleCloseToReceiveS: candleDelay,
      stalest: [...stale.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5),
      rateLimit: {
        responses429: sum(last.sim, 'perpflow_sim_faults_injected_total', { kind: 'rate_limited_429' }),
        responses418: sum(last.sim, 'perpflow_sim_faults_injected_total', { kind: 'banned_418' }),
        requestsPerMinute: Math.round((simReq(last.sim) - simReq(first.sim)) / minutes),
        weightPerMinuteWindow: {
          budget: BUDGET,
          max: Math.max(0, ...weights),
          mean: Math.round(weights.reduce((a, b) => a + b, 0) / Math.max(1, weights.length)),
          windows: weights.length,
        },
      },
      recordsPublished: {
        ohlcv: published('ohlcv'),
        open_interest: published('open_interest'),
        funding: published('funding'),
        liquidation: published('liquidation'),
      },
      recordsPublishedPerMinute: Math.round(
        (sum(last.ingest, 'perpflow_ingest_records_published_total') -
          sum(first.ingest, 'perpflow_ingest_records_published_total')) /
          minutes,
      ),
      ingestErrors: Object.fromEntries(
        last.ingest
          .filter((s) => s.name === 'perpflow_ingest_errors_total')
          .map((s) => [s.labels.kind ?? '', s.value]),
      ),
      peakRssMiB: Math.round(Math.max(peakRss, hwm) / 1024),
      loadAverage: loadAverage(),
    };
    const failures: string[] = [];
    for (const feed of ['ohlcv', 'open_interest', 'funding'] as const)
      if (!(feeds[feed].p99 <= TARGET_P99_S))
        failures.push(`${feed} p99 freshness ${feeds[feed].p99} s > ${TARGET_P99_S} s`);
    if (result.rateLimit.responses429 > 0) failures.push(`${result.rateLimit.responses429} responses 429`);
    if (result.rateLimit.responses418 > 0) failures.push(`${result.rateLimit.responses418} responses 418`);
    const out = saveResult('soak', result.startedAt, { ...result, failures }, process.env.SOAK_OUT);
    console.log(JSON.stringify({ ...result, failures }, null, 2));
    console.log(failures.length ? `SOAK FAILED: ${failures.join('; ')}` : 'SOAK PASSED');
    console.log(`saved ${out}`);
    return failures.length ? 1 : 0;
  } finally {
    stopAll();
  }
}

interface SimState {
  wallMs: number;
  limits: { binanceusdm: { ips: Record<string, { usedWeight: number }> } };
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`soak failed: ${(err as Error).message}`);
    process.exit(2);
  },
);
