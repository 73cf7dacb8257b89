/**
 * exchange-ingest scale-out: two workers (INGEST_SHARD=0/2 and 1/2) on the local
 * stack against one simulator. Live: candles come from the kline websocket (REST
 * fills the gap after the simulator drops every websocket midway). Backfill: one
 * day of 8 symbols started with --shards 2. The raw topics must then hold, per
 * symbol, records of exactly one worker, with no duplicate and no gap, equal to
 * the simulator, and the union of both workers must cover the universe.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TOPICS } from '../src/harness.js';
import {
  freePort,
  metricSum,
  runTool,
  type ServiceProcess,
  STACK,
  sleep,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { ensurePipelineTopics, readTopic, testKafka } from '../src/kafka-io.js';
import { simKlines } from '../src/sim-klines.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const SIM_PORT = await freePort();
const PORTS = [await freePort(), await freePort()];
const SIM = `http://127.0.0.1:${SIM_PORT}`;
// Backfill queues of this run only: workers of other runs on the shared Redis point at other simulators.
const QUEUE = uniqueName('e2e-backfill');
const unified = (base: string) => `${base}/USDT:USDT`;
// A day and a seed of their own per run (backfill checkpoints on the shared Redis are per day);
// both are in the suite's title, so a failure names what reproduces it.
const FROM = Date.UTC(2023, 0, 1) + Math.floor(Math.random() * 300) * DAY;
const SIM_SEED = 1 + Math.floor(Math.random() * 1e6);

interface Candle {
  openTimeMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  source: string;
  closed: boolean;
}

describe(`ingest sharded over two workers (day ${new Date(FROM).toISOString().slice(0, 10)}, simulator seed ${SIM_SEED})`, {
  timeout: 600_000,
}, () => {
  const procs: ServiceProcess[] = [];
  after(async () => {
    for (const p of procs) await stopService(p);
  });

  it('live (websocket candles, a drop midway) and backfill: each symbol in one worker, no duplicate, no gap, union = universe', async () => {
    await ensurePipelineTopics();
    procs.push(
      await startService({
        name: 'sim-shards',
        workspace: 'services/exchange-sim',
        env: { PORT: String(SIM_PORT), SYMBOLS: '8', SEED: String(SIM_SEED) },
        readyPort: null,
      }),
    );
    await waitFor('simulator', async () => (await fetch(`${SIM}/healthz`)).ok, 30_000);
    const info = (await (await fetch(`${SIM}/fapi.binance.com/fapi/v1/exchangeInfo`)).json()) as {
      symbols: { symbol: string; baseAsset: string }[];
    };
    const ids = new Map(info.symbols.map((s) => [unified(s.baseAsset), s.symbol]));
    const universe = [...ids.keys()];
    assert.equal(universe.length, 8);

    const clients = [uniqueName('ingest-shard0'), uniqueName('ingest-shard1')];
    const workers = await Promise.all(
      [0, 1].map((i) =>
        startService({
          name: `ingest-shard${i}`,
          workspace: 'services/exchange-ingest',
          env: {
            KAFKA_BROKERS: STACK.kafkaBrokers,
            REDIS_URL: STACK.redisUrl,
            INGEST_BACKFILL_QUEUE: QUEUE,
            KAFKA_CLIENT_ID: clients[i] as string,
            INGEST_EXCHANGES: 'binanceusdm',
            INGEST_ENDPOINTS: `binanceusdm=${SIM}`,
            INGEST_SHARD: `${i}/2`,
            INGEST_CANDLES: 'websocket',
            INGEST_FEEDS: 'ohlcv,open_interest,funding',
            // Two workers on one IP share its budget.
            INGEST_BUDGET_SHARE: '0.4',
            METRICS_PORT: String(PORTS[i]),
          },
          readyPort: PORTS[i] as number,
          readyTimeoutMs: 90_000,
        }),
      ),
    );
    procs.push(...workers);
    const url = (i: number) => `http://127.0.0.1:${PORTS[i]}`;

    // Backfill one day of every symbol, sharded like the live universe.
    const backfillId = uniqueName('e2e-shards');
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
        universe.join(','),
        '--feeds',
        'ohlcv',
        '--from',
        String(FROM),
        '--to',
        String(FROM + DAY),
        '--shards',
        '2',
      ],
      { REDIS_URL: STACK.redisUrl, INGEST_BACKFILL_QUEUE: QUEUE },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /8 jobs .*over 2 shards/);

    // Both streams connected, then every websocket dropped just before a bar closes, so
    // that candle closes while the workers reconnect and only REST can fill it.
    for (const i of [0, 1])
      await waitFor(
        `worker ${i} kline websocket`,
        async () => (await metricSum(url(i), 'perpflow_ingest_stream_connected', { feed: 'ohlcv' })) === 1,
        90_000,
      );
    const liveStart = Date.now();
    await sleep(Math.max(0, (Math.floor(Date.now() / MINUTE) + 2) * MINUTE - 700 - Date.now()));
    const drop = await fetch(`${SIM}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dropWebsockets: true }),
    });
    assert.equal(drop.status, 200);
    for (const i of [0, 1])
      await waitFor(
        `worker ${i} saw the drop`,
        async () => (await metricSum(url(i), 'perpflow_ingest_errors_total', { kind: 'websocket' })) >= 1,
        30_000,
      );
    // Two more bar closes after the drop, plus the gap check.
    await sleep(Math.max(0, (Math.floor(Date.now() / MINUTE) + 2) * MINUTE + 15_000 - Date.now()));
    await waitFor(
      'backfill complete',
      async () => {
        const s = runTool('services/exchange-ingest', 'src/cli.ts', ['status', backfillId], {
          REDIS_URL: STACK.redisUrl,
          INGEST_BACKFILL_QUEUE: QUEUE,
        });
        return /8\/8 jobs/.test(s.stdout);
      },
      240_000,
      2_000,
    );
    const lastClose = Math.floor(Date.now() / MINUTE) * MINUTE;

    const keys = new Set(universe.map((s) => `binanceusdm|${s}`));
    const ours = new Set(clients);
    const raw = (await readTopic(testKafka(), TOPICS.raw.ohlcv, (k) => keys.has(k))).filter((m) =>
      ours.has(m.headers['perpflow-producer'] ?? ''),
    );
    const owner = new Map<string, string>();
    for (const m of raw) {
      const symbol = m.key.slice('binanceusdm|'.length);
      const producer = m.headers['perpflow-producer'] as string;
      assert.equal(owner.get(symbol) ?? producer, producer, `${symbol} written by both workers`);
      owner.set(symbol, producer);
    }
    const shares = clients.map((c) => [...owner.values()].filter((p) => p === c).length);
    assert.deepEqual(new Set(owner.keys()), new Set(universe), 'the union covers the universe');
    assert.ok(
      shares.every((n) => n > 0),
      `both workers own symbols: ${shares}`,
    );

    let liveCandles = 0;
    for (const symbol of universe) {
      const id = ids.get(symbol) as string;
      const mine = raw.filter((m) => m.key === `binanceusdm|${symbol}`);
      for (const source of ['live', 'backfill'] as const) {
        const candles = mine
          .map((m) => JSON.parse(m.value.toString()) as Candle)
          .filter((c) => c.source === source)
          .sort((a, b) => a.openTimeMs - b.openTimeMs);
        const times = candles.map((c) => c.openTimeMs);
        assert.equal(new Set(times).size, times.length, `${symbol} ${source}: a duplicate candle`);
        const first = times[0] as number;
        const last = times.at(-1) as number;
        if (source === 'live') {
          assert.ok(first <= liveStart, `${symbol}: live candles start ${new Date(first).toISOString()}`);
          assert.ok(
            last >= lastClose - 2 * MINUTE,
            `${symbol}: live stopped at ${new Date(last).toISOString()}`,
          );
          liveCandles += candles.length;
        } else assert.deepEqual([first, last], [FROM, FROM + DAY - MINUTE], `${symbol}: backfill range`);
        const expected = await simKlines(SIM, id, first, last);
        assert.equal(candles.length, expected.length, `${symbol} ${source}: a gap`);
        for (const [i, c] of candles.entries())
          assert.deepEqual(
            [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume, c.closed],
            [...(expected[i] as number[]), true],
            `${symbol} ${source} candle ${i}`,
          );
      }
    }
    // Live candles came over the websocket: REST polled each symbol about twice (the first
    // round, the gap after the drop), not once a minute.
    for (const i of [0, 1]) {
      const rest = await metricSum(url(i), 'perpflow_ingest_requests_total', {
        method: 'fetchOHLCV',
        outcome: 'ok',
      });
      const own = shares[i] as number;
      const backfillPages = own * 3; // 1440 candles in pages of ≤ 499
      assert.ok(rest - backfillPages <= own * 3, `worker ${i}: ${rest} kline requests for ${own} symbols`);
    }
    console.log(
      `shards: ${shares.join(' + ')} symbols; ${liveCandles} live candles, ${raw.length} candle records, no duplicate, no gap`,
    );
  });
});
