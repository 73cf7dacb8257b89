/**
 * exchange-ingest backfill end to end: the simulator (real HTTP, Binance USD-M
 * format) → unmodified ccxt → ingest's BullMQ worker → Kafka raw topics. The
 * worker is SIGKILLed midway and started again; the raw topic must then hold
 * every candle of every (symbol, minute) exactly as the simulator serves it,
 * any repeat being identical but for receivedAtMs.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TOPICS } from '../src/harness.js';
import {
  metricSum,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
  runTool,
  freePort,
} from '../src/harness.js';
import { ensurePipelineTopics, readTopic, testKafka } from '../src/kafka-io.js';
import { simKlines } from '../src/sim-klines.js';

const SIM_PORT = await freePort();
const INGEST_PORT = await freePort();
const SIM = `http://127.0.0.1:${SIM_PORT}`;
// Backfill queues of this run only: workers of other runs on the shared Redis point at other simulators.
const QUEUE = uniqueName('e2e-backfill');
const DAY = 86_400_000;
// A random 2-day range in 2023, so that this run's records are its own.
const FROM = Date.UTC(2023, 0, 1) + Math.floor(Math.random() * 300) * DAY;
const TO = FROM + 2 * DAY;
const SYMBOLS = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'];
const id = (s: string) => s.replace('/USDT:USDT', 'USDT');

describe(`ingest backfill through Kafka, with SIGKILL midway (day ${new Date(FROM).toISOString().slice(0, 10)})`, {
  timeout: 300_000,
}, () => {
  const procs: ServiceProcess[] = [];
  after(async () => {
    for (const p of procs) await stopService(p);
  });

  it('ends with every candle of every (symbol, minute) in the raw topic, resuming from Redis checkpoints', async () => {
    await ensurePipelineTopics();
    procs.push(
      await startService({
        name: 'sim-backfill',
        workspace: 'services/exchange-sim',
        env: { PORT: String(SIM_PORT), SYMBOLS: '5', SEED: '11' },
        readyPort: null,
      }),
    );
    await waitFor('simulator', async () => (await fetch(`${SIM}/fapi.binance.com/fapi/v1/ping`)).ok, 30_000);
    const env = {
      KAFKA_BROKERS: STACK.kafkaBrokers,
      REDIS_URL: STACK.redisUrl,
      INGEST_BACKFILL_QUEUE: QUEUE,
      INGEST_EXCHANGES: 'binanceusdm',
      INGEST_ENDPOINTS: `binanceusdm=${SIM}`,
      INGEST_LIVE: 'false',
      INGEST_BACKFILL_CONCURRENCY: '3',
      // The killed worker's job goes back to the queue 10-20 s after the SIGKILL (default: 30-60 s).
      INGEST_BACKFILL_LOCK_MS: '10000',
      METRICS_PORT: String(INGEST_PORT),
    };
    const start = () =>
      startService({
        name: 'ingest-backfill',
        workspace: 'services/exchange-ingest',
        env,
        readyPort: INGEST_PORT,
        readyTimeoutMs: 90_000,
      });
    let ingest = await start();
    procs.push(ingest);

    const backfillId = uniqueName('e2e');
    const cli = runTool(
      'services/exchange-ingest',
      'src/cli.ts',
      [
        'start',
        '--id',
        backfillId,
        '--exchange',
        'binanceusdm',
        '--symbols',
        SYMBOLS.join(','),
        '--from',
        String(FROM),
        '--to',
        String(TO),
      ],
      { REDIS_URL: STACK.redisUrl, INGEST_BACKFILL_QUEUE: QUEUE },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`started ${backfillId}: 3 jobs`));
    // The venue's ceiling per IP, feed by feed: 3 symbols × 2 days of 1m candles at 9,980/s.
    assert.match(
      cli.stdout,
      /binanceusdm allows one IP: ohlcv 8,640 rows at most 9,980\/s \(weight budget\): at least 0\.9 s; open_interest 1,728 rows at most 1,667\/s \(endpoint limit\)/,
    );

    // Kill the worker once some, not all, candles are in Kafka.
    const published = () =>
      metricSum(`http://127.0.0.1:${INGEST_PORT}`, 'perpflow_ingest_records_published_total', {
        feed: 'ohlcv',
      });
    await waitFor('first candles published', async () => (await published()) >= 1_000, 120_000, 100);
    assert.equal(await stopService(ingest, 'SIGKILL'), 'SIGKILL');
    const atKill = runTool('services/exchange-ingest', 'src/cli.ts', ['status', backfillId], {
      REDIS_URL: STACK.redisUrl,
      INGEST_BACKFILL_QUEUE: QUEUE,
    });
    ingest = await start();
    procs.push(ingest);
    await waitFor(
      'backfill complete',
      async () => {
        const s = runTool('services/exchange-ingest', 'src/cli.ts', ['status', backfillId], {
          REDIS_URL: STACK.redisUrl,
          INGEST_BACKFILL_QUEUE: QUEUE,
        });
        return /3\/3 jobs/.test(s.stdout);
      },
      180_000,
      2_000,
    );
    // `--follow` off a terminal: plain lines, the last one complete with its rate and "done", exit 0.
    const followed = runTool('services/exchange-ingest', 'src/cli.ts', ['status', backfillId, '--follow'], {
      REDIS_URL: STACK.redisUrl,
      INGEST_BACKFILL_QUEUE: QUEUE,
    });
    assert.equal(followed.status, 0, followed.stderr);
    assert.match(followed.stdout, new RegExp(`^${backfillId} \\[#{24}\\] 100\\.0% {2}3/3 jobs {2}done\\n$`));

    const keys = new Set(SYMBOLS.map((s) => `binanceusdm|${s}`));
    const raw = await readTopic(testKafka(), TOPICS.raw.ohlcv, (k) => keys.has(k));
    let repeats = 0;
    for (const symbol of SYMBOLS) {
      const expected = await simKlines(SIM, id(symbol), FROM, TO - 1);
      assert.ok(expected.length > 2_800, `simulator served only ${expected.length} candles for ${symbol}`);
      const got = new Map<number, Record<string, unknown>>();
      for (const m of raw.filter((r) => r.key === `binanceusdm|${symbol}`)) {
        const c = JSON.parse(m.value.toString()) as Record<string, number | string | boolean | null>;
        const t = c.openTimeMs as number;
        if (t < FROM || t >= TO) continue;
        const { receivedAtMs: _r, ...content } = c;
        const seen = got.get(t);
        if (seen) {
          assert.deepEqual(content, seen, `two different candles for ${symbol} at ${t}`);
          repeats++;
        } else got.set(t, content);
      }
      assert.equal(
        got.size,
        expected.length,
        `${symbol}: ${got.size} distinct candles in Kafka, simulator has ${expected.length}`,
      );
      for (const [t, o, h, l, c, v] of expected) {
        const r = got.get(t!);
        assert.ok(r, `${symbol}: candle ${new Date(t!).toISOString()} missing from Kafka`);
        assert.deepEqual(
          [r.open, r.high, r.low, r.close, r.volume, r.source, r.closed],
          [o, h, l, c, v, 'backfill', true],
        );
      }
    }
    console.log(
      `backfill: ${raw.length} raw candle messages, ${repeats} repeats after SIGKILL; status at kill: ${atKill.stdout.trim()}`,
    );
  });
});
