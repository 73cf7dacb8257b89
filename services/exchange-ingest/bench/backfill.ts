/**
 * Backfill at scale with a crash: BACKFILL_DAYS (30) × BACKFILL_SYMBOLS (50) of 1m
 * candles with open-interest (5m) and settled-funding history, from the simulator
 * through one ingest worker into the raw topics.
 *
 *   npm run bench:backfill -w @perpflow/exchange-ingest
 *
 * Starts the shared stack's Kafka and Redis if they are down (never stops them), the
 * simulator and one ingest worker (backfill only); starts the backfill with the CLI;
 * SIGKILLs the worker once BACKFILL_KILL_AT (0.5) of the candles are published,
 * starts it again, waits until every job is done, then reads the three raw topics
 * back (this run's records: its producer header) and checks that every
 * (exchange, symbol, ts) is there — every 1m candle, every 5m open-interest point,
 * every 8h settlement — and that every repeat (from the chunk re-published after
 * the kill) is identical to the first copy but for receivedAtMs: same key, same
 * content, which the aligner's stream.duplicate rule drops. A day of 5 symbols is
 * compared value by value with the simulator.
 * Prints wall time, records/s, requests, 429s, peak RSS; writes JSON
 * (BACKFILL_OUT, default .data/bench/backfill-<time>.json); exits 1 on any miss.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TOPICS } from '@perpflow/contracts';
import { dropKafkajsTimeoutWarning } from '@perpflow/kafka';
import { Kafka, logLevel } from 'kafkajs';
import {
  envNumber,
  freePort,
  loadAverage,
  ROOT,
  rssKiB,
  saveResult,
  scrapeSum as metric,
  stackEnv,
  startNode,
  until,
} from './local-run.js';

const DAYS = envNumber('BACKFILL_DAYS', 30);
const SYMBOLS = envNumber('BACKFILL_SYMBOLS', 50);
const KILL_AT = envNumber('BACKFILL_KILL_AT', 0.5);
const CONCURRENCY = envNumber('BACKFILL_CONCURRENCY', 4);
const DAY = 86_400_000;
const MINUTE = 60_000;

function runCli(args: string[], env: Record<string, string>): string {
  const r = spawnSync(
    process.execPath,
    ['--conditions=@perpflow/source', '--import', 'tsx', 'src/cli.ts', ...args],
    { cwd: join(ROOT, 'services/exchange-ingest'), env: { ...process.env, ...env }, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`perpflow-backfill ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * Reads a topic from the beginning to its current end and folds this run's records
 * (by producer header) into per-(key, event time) entries: first content, copies.
 */
async function foldTopic(
  kafka: Kafka,
  topic: string,
  producer: string,
  timeOf: (r: Record<string, unknown>) => number,
): Promise<{
  records: number;
  repeats: number;
  differing: string[];
  byKey: Map<string, Map<number, string>>;
}> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  const byKey = new Map<string, Map<number, string>>();
  let records = 0;
  let repeats = 0;
  const differing: string[] = [];
  if (remaining.size === 0) return { records, repeats, differing, byKey };
  const consumer = kafka.consumer({
    groupId: `bench-backfill-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    maxBytes: 64 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            if (m.headers?.['perpflow-producer']?.toString() !== producer || !m.value) continue;
            const key = m.key?.toString() ?? '';
            const { receivedAtMs: _r, ...content } = JSON.parse(m.value.toString()) as Record<
              string,
              unknown
            >;
            const t = timeOf(content);
            const text = JSON.stringify(content);
            records++;
            let times = byKey.get(key);
            if (!times) {
              times = new Map();
              byKey.set(key, times);
            }
            const seen = times.get(t);
            if (seen === undefined) times.set(t, text);
            else {
              repeats++;
              if (seen !== text && differing.length < 5) differing.push(`${key} @ ${t}: ${seen} vs ${text}`);
            }
          }
          const end = remaining.get(batch.partition);
          if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition);
          if (remaining.size === 0) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return { records, repeats, differing, byKey };
}

async function main(): Promise<number> {
  const stack = stackEnv();
  const simPort = await freePort();
  const ingestPort = await freePort();
  const sim = `http://127.0.0.1:${simPort}`;
  const ingestUrl = `http://127.0.0.1:${ingestPort}`;
  const producer = `bench-backfill-${Date.now().toString(36)}`;
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  // Its own queues: a worker of another run on the shared Redis must not take these jobs, nor this one theirs.
  const redisEnv = {
    REDIS_URL: stack.REDIS_URL ?? 'redis://127.0.0.1:36379',
    INGEST_BACKFILL_QUEUE: producer,
  };
  try {
    // Open-interest history reaches back OI_RETENTION_DAYS from the simulator's now: keep more than the range.
    children.push(
      startNode('bench-backfill-sim', 'services/exchange-sim', {
        PORT: String(simPort),
        SYMBOLS: String(Math.max(SYMBOLS, 50)),
        OI_RETENTION_DAYS: String(DAYS + 5),
      }),
    );
    await until('the simulator', async () => (await fetch(`${sim}/healthz`)).ok, 60_000);
    const info = (await (await fetch(`${sim}/fapi.binance.com/fapi/v1/exchangeInfo`)).json()) as {
      symbols: { symbol: string; baseAsset: string }[];
    };
    const markets = info.symbols
      .slice(0, SYMBOLS)
      .map((s) => ({ id: s.symbol, unified: `${s.baseAsset}/USDT:USDT` }));
    const toMs = Math.floor(Date.now() / DAY) * DAY;
    const fromMs = toMs - DAYS * DAY;
    const ingestEnv = {
      KAFKA_BROKERS: stack.KAFKA_BROKERS ?? '127.0.0.1:39092',
      ...redisEnv,
      KAFKA_CLIENT_ID: producer,
      // Its own topics (deleted at the end): millions of records would slow every reader of the shared ones.
      KAFKA_TOPIC_PREFIX: `${producer}.`,
      INGEST_EXCHANGES: 'binanceusdm',
      INGEST_ENDPOINTS: `binanceusdm=${sim}`,
      INGEST_LIVE: 'false',
      INGEST_BACKFILL_CONCURRENCY: String(CONCURRENCY),
      METRICS_PORT: String(ingestPort),
      LOG_LEVEL: 'warn',
    };
    let peakRss = 0;
    const startIngest = async () => {
      const c = startNode('bench-backfill-ingest', 'services/exchange-ingest', ingestEnv);
      children.push(c);
      await until('the ingest worker', async () => (await fetch(`${ingestUrl}/readyz`)).ok, 120_000);
      return c;
    };
    let ingest = await startIngest();
    const id = producer;
    const t0 = Date.now();
    const started = runCli(
      [
        'start',
        '--id',
        id,
        '--exchange',
        'binanceusdm',
        '--symbols',
        markets.map((m) => m.unified).join(','),
        '--from',
        String(fromMs),
        '--to',
        String(toMs),
      ],
      redisEnv,
    );
    console.log(`backfill ${DAYS} days × ${SYMBOLS} symbols: ${started.trim()}`);
    const expectedCandles = SYMBOLS * DAYS * 1440;
    let beforeKill = { requests: 0, published: 0 };
    await until(
      `${KILL_AT * 100} % of the candles`,
      async () => {
        peakRss = Math.max(peakRss, rssKiB(ingest.pid));
        const n = await metric(ingestUrl, 'perpflow_ingest_records_published_total', { feed: 'ohlcv' });
        beforeKill = {
          requests: await metric(ingestUrl, 'perpflow_ingest_requests_total'),
          published: await metric(ingestUrl, 'perpflow_ingest_records_published_total'),
        };
        return n >= KILL_AT * expectedCandles;
      },
      3_600_000,
      1_000,
    );
    ingest.kill('SIGKILL');
    await new Promise((r) => ingest.once('exit', r));
    const killedAtS = Math.round((Date.now() - t0) / 1000);
    const atKill = runCli(['status', id], redisEnv).trim();
    console.log(`SIGKILL after ${killedAtS} s: ${atKill}`);
    ingest = await startIngest();
    await until(
      'every job done',
      async () => {
        peakRss = Math.max(peakRss, rssKiB(ingest.pid));
        const s = runCli(['status', id], redisEnv);
        const m = /(\d+)\/(\d+) jobs/.exec(s);
        if (/FAILED/.test(s)) throw new Error(`backfill failed: ${s}`);
        return m !== null && m[1] === m[2];
      },
      3_600_000,
      5_000,
    );
    const wallS = (Date.now() - t0) / 1000;
    const afterRestart = {
      requests: await metric(ingestUrl, 'perpflow_ingest_requests_total'),
      published: await metric(ingestUrl, 'perpflow_ingest_records_published_total'),
    };
    const simMetrics = async (kind: string) => metric(sim, 'perpflow_sim_faults_injected_total', { kind });
    const simRequests = await metric(sim, 'perpflow_sim_http_requests_total', { venue: 'binanceusdm' });
    const responses429 = await simMetrics('rate_limited_429');
    const responses418 = await simMetrics('banned_418');
    peakRss = Math.max(peakRss, rssKiB(ingest.pid));
    ingest.kill('SIGTERM');

    console.log('reading the raw topics back…');
    dropKafkajsTimeoutWarning();
    const kafka = new Kafka({
      clientId: `${producer}-verify`,
      brokers: (stack.KAFKA_BROKERS ?? '127.0.0.1:39092').split(','),
      logLevel: logLevel.NOTHING,
    });
    const readStarted = Date.now();
    const [ohlcv, oi, funding] = await Promise.all([
      foldTopic(kafka, `${producer}.${TOPICS.raw.ohlcv}`, producer, (r) => r.openTimeMs as number),
      foldTopic(kafka, `${producer}.${TOPICS.raw.open_interest}`, producer, (r) => r.eventTimeMs as number),
      foldTopic(kafka, `${producer}.${TOPICS.raw.funding}`, producer, (r) => r.eventTimeMs as number),
    ]);
    const readS = Math.round((Date.now() - readStarted) / 1000);
    const failures: string[] = [];
    const grid = (stepMs: number) => {
      const out: number[] = [];
      for (let t = fromMs; t < toMs; t += stepMs) out.push(t);
      return out;
    };
    const check = (name: string, folded: typeof ohlcv, stepMs: number) => {
      let missing = 0;
      let extra = 0;
      const expectedTimes = grid(stepMs);
      for (const m of markets) {
        const times = folded.byKey.get(`binanceusdm|${m.unified}`) ?? new Map();
        for (const t of expectedTimes) if (!times.has(t)) missing++;
        for (const t of times.keys()) if (t < fromMs || t >= toMs || (t - fromMs) % stepMs !== 0) extra++;
      }
      if (missing) failures.push(`${name}: ${missing} (symbol, ts) missing`);
      if (extra) failures.push(`${name}: ${extra} records off the grid`);
      if (folded.differing.length)
        failures.push(`${name}: repeats that differ: ${folded.differing.join('; ')}`);
      return {
        records: folded.records,
        distinct: folded.records - folded.repeats,
        repeats: folded.repeats,
        missing,
        extra,
      };
    };
    const result = {
      startedAt: new Date(t0).toISOString(),
      range: { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() },
      symbols: SYMBOLS,
      days: DAYS,
      concurrency: CONCURRENCY,
      killedAfterS: killedAtS,
      statusAtKill: atKill,
      wallS: Math.round(wallS),
      ohlcv: check('ohlcv', ohlcv, MINUTE),
      openInterest5m: check('open_interest', oi, 5 * MINUTE),
      fundingSettled8h: check('funding', funding, 8 * 3_600_000),
      recordsPublished: beforeKill.published + afterRestart.published,
      recordsPerSecond: Math.round((beforeKill.published + afterRestart.published) / wallS),
      requests: beforeKill.requests + afterRestart.requests,
      simRequests,
      responses429,
      responses418,
      peakRssMiB: Math.round(peakRss / 1024),
      readBackS: readS,
      loadAverage: loadAverage(),
    };
    // A day of 5 symbols, value by value, against the simulator.
    for (const m of markets.slice(0, 5)) {
      const day = fromMs + Math.floor(DAYS / 2) * DAY;
      const rows = (await (
        await fetch(
          `${sim}/fapi.binance.com/fapi/v1/klines?symbol=${m.id}&interval=1m&startTime=${day}&endTime=${day + DAY - 1}&limit=1440`,
        )
      ).json()) as unknown[][];
      const times = ohlcv.byKey.get(`binanceusdm|${m.unified}`) ?? new Map<number, string>();
      for (const r of rows) {
        const c = JSON.parse(times.get(Number(r[0])) ?? '{}') as Record<string, number>;
        const want = [1, 2, 3, 4, 5].map((i) => Number(r[i]));
        if (JSON.stringify([c.open, c.high, c.low, c.close, c.volume]) !== JSON.stringify(want)) {
          failures.push(
            `${m.unified} ${new Date(Number(r[0])).toISOString()}: Kafka has other values than the simulator`,
          );
          break;
        }
      }
    }
    const out = saveResult('backfill', result.startedAt, { ...result, failures }, process.env.BACKFILL_OUT);
    console.log(JSON.stringify({ ...result, failures }, null, 2));
    console.log(failures.length ? `BACKFILL FAILED: ${failures.join('; ')}` : 'BACKFILL PASSED');
    console.log(`saved ${out}`);
    return failures.length ? 1 : 0;
  } finally {
    stopAll();
    await dropTopics(stack.KAFKA_BROKERS ?? '127.0.0.1:39092', `${producer}.`);
  }
}

/** Deletes this run's topics (BACKFILL_KEEP_TOPICS=1 keeps them for a look). */
async function dropTopics(brokers: string, prefix: string): Promise<void> {
  if (process.env.BACKFILL_KEEP_TOPICS === '1') return;
  dropKafkajsTimeoutWarning();
  const admin = new Kafka({
    clientId: `${prefix}drop`,
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine });
    console.log(`deleted ${mine.length} topics ${prefix}*`);
  } catch (err) {
    console.error(`could not delete the topics ${prefix}*: ${(err as Error).message}`);
  } finally {
    await admin.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`backfill bench failed: ${(err as Error).message}`);
    process.exit(2);
  },
);
