/**
 * simulator → ingest (backfill) → Kafka raw topics → aligner → aligned topic, and
 * the bars compared one by one with an independent computation: an ASOF JOIN in
 * (with the simulator injecting 5xx, malformed and HTML bodies, duplicated and
 * swapped candles throughout)
 * DuckDB over the raw records read back from Kafka (no aligner code involved).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { AlignedBar } from '@perpflow/contracts';
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
import {
  ensurePipelineTopics,
  readTopic,
  startGroupsAtLogEnd,
  testKafka,
  topicEndOffsets,
  waitGroupCaughtUp,
} from '../src/kafka-io.js';

const SIM_PORT = await freePort();
const INGEST_PORT = await freePort();
const ALIGNER_PORT = await freePort();
const SIM = `http://127.0.0.1:${SIM_PORT}`;
const DAY = 86_400_000;
const TF = 60_000;
const FROM = Date.UTC(2022, 0, 1) + Math.floor(Math.random() * 300) * DAY;
const TO = FROM + DAY;
const SYMBOLS = ['ETH/USDT:USDT', 'SOL/USDT:USDT'];
/** This file's backfill queue: no other test's worker takes its jobs, nor it theirs. */
const QUEUE = uniqueName('asof-backfill');
const RAW_TOPICS = Object.values(TOPICS.raw);
/** Injected by the simulator during the whole backfill. */
const FAULTS = {
  venue: 'binanceusdm',
  http5xxRate: 0.05,
  malformedJsonRate: 0.03,
  htmlRate: 0.02,
  duplicateCandleRate: 0.01,
  outOfOrderCandleRate: 0.01,
};

describe(`whole pipeline against an independent ASOF JOIN (day ${new Date(FROM).toISOString().slice(0, 10)})`, {
  timeout: 300_000,
}, () => {
  const procs: ServiceProcess[] = [];
  after(async () => {
    for (const p of procs) await stopService(p);
  });

  it('aligned bars equal DuckDB ASOF JOINs of the raw candles, open interest and funding', async () => {
    await ensurePipelineTopics();
    procs.push(
      await startService({
        name: 'sim-asof',
        workspace: 'services/exchange-sim',
        env: {
          PORT: String(SIM_PORT),
          SYMBOLS: '5',
          SEED: '23',
          OI_RETENTION_DAYS: '3650',
          FAULTS: JSON.stringify(FAULTS),
        },
        readyPort: null,
      }),
    );
    await waitFor('simulator', async () => (await fetch(`${SIM}/fapi.binance.com/fapi/v1/ping`)).ok, 30_000);
    // The aligner's own group starts at the ends of the raw topics now: it sees all of this
    // test's records and nothing before, whenever its first fetch happens.
    const alignerGroup = uniqueName('asof');
    await startGroupsAtLogEnd(testKafka(), [alignerGroup], RAW_TOPICS);
    procs.push(
      await startService({
        name: 'aligner-asof',
        workspace: 'services/aligner',
        env: {
          KAFKA_BROKERS: STACK.kafkaBrokers,
          REDIS_URL: STACK.redisUrl,
          ALIGNER_GROUP_ID: alignerGroup,
          ALIGNER_FROM_BEGINNING: 'false',
          ALIGNER_ALLOWED_LATENESS_MS: '0',
          METRICS_PORT: String(ALIGNER_PORT),
        },
        readyPort: ALIGNER_PORT,
        readyTimeoutMs: 90_000,
      }),
    );
    procs.push(
      await startService({
        name: 'ingest-asof',
        workspace: 'services/exchange-ingest',
        env: {
          KAFKA_BROKERS: STACK.kafkaBrokers,
          REDIS_URL: STACK.redisUrl,
          INGEST_EXCHANGES: 'binanceusdm',
          INGEST_ENDPOINTS: `binanceusdm=${SIM}`,
          INGEST_LIVE: 'false',
          INGEST_BACKFILL_QUEUE: QUEUE,
          METRICS_PORT: String(INGEST_PORT),
        },
        readyPort: INGEST_PORT,
        readyTimeoutMs: 90_000,
      }),
    );
    // The rates alone drew 1 malformed body and 2 5xx in a CI run: the backfill's first
    // answers carry one of each, so the assertions below cannot miss them by chance.
    const seq = await fetch(`${SIM}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ httpFaultSequence: ['http_5xx', 'malformed_json', 'html_body'] }),
    });
    assert.equal(seq.status, 200, await seq.text());
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    const rawBefore = await topicEndOffsets(admin, RAW_TOPICS);
    const backfillId = uniqueName('asof');
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
    // Every job done (each retried through the injected faults), so the raw topics hold all
    // this backfill will publish; then the aligner has committed past all of it, so every
    // bar and revision it makes of them is on the aligned topic (it commits after the
    // produce). A fixed quiet period was not enough: an open-interest page retried after a
    // fault came more than 5 s after the last candle, and its revision of the day's last
    // bar was missed (CI, five files at a time).
    let status = '';
    await waitFor(
      `backfill ${backfillId} done`,
      async () => {
        status = runTool('services/exchange-ingest', 'src/cli.ts', ['status', backfillId], {
          REDIS_URL: STACK.redisUrl,
          INGEST_BACKFILL_QUEUE: QUEUE,
        }).stdout.trim();
        return new RegExp(`${SYMBOLS.length}/${SYMBOLS.length} jobs`).test(status);
      },
      240_000,
      2_000,
    );
    assert.doesNotMatch(status, /FAILED/);
    await admin.disconnect();
    await waitGroupCaughtUp(kafka, alignerGroup, RAW_TOPICS, rawBefore);
    for (const s of SYMBOLS)
      assert.ok(
        (await metricSum(`http://127.0.0.1:${ALIGNER_PORT}`, 'perpflow_feed_newest_event_time_seconds', {
          stage: 'aligned',
          symbol: s,
        })) *
          1000 >=
          TO,
        `the aligner's newest bar of ${s} is before the day's end`,
      );

    const keys = new Set(SYMBOLS.map((s) => `binanceusdm|${s}`));
    const read = async (topic: string) =>
      (await readTopic(kafka, topic, (k) => keys.has(k))).map(
        (m) => JSON.parse(m.value.toString()) as Record<string, number | string | null>,
      );
    const inRange = (t: unknown, lo = FROM - DAY) => typeof t === 'number' && t >= lo && t < TO + DAY;
    const candles = (await read(TOPICS.raw.ohlcv)).filter(
      (c) => inRange(c.openTimeMs, FROM) && (c.openTimeMs as number) < TO,
    );
    const ois = (await read(TOPICS.raw.open_interest)).filter((o) => inRange(o.eventTimeMs));
    const funding = (await read(TOPICS.raw.funding)).filter(
      (f) => f.kind === 'settled' && inRange(f.fundingTimeMs, FROM - 2 * DAY),
    );
    const bars = (await read(TOPICS.alignedBar))
      .map((b) => b as unknown as AlignedBar)
      .filter((b) => b.eventTimeMs >= FROM && b.eventTimeMs < TO);

    const db = await (await DuckDBInstance.create(':memory:')).connect();
    const table = async (name: string, cols: string, rows: (string | number)[][]) => {
      await db.run(`CREATE TABLE ${name} (${cols})`);
      for (let i = 0; i < rows.length; i += 500)
        await db.run(
          `INSERT INTO ${name} VALUES ${rows
            .slice(i, i + 500)
            .map((r) => `(${r.map((v) => (typeof v === 'string' ? `'${v}'` : v)).join(',')})`)
            .join(',')}`,
        );
    };
    await table(
      'candles',
      'sym VARCHAR, t BIGINT, o DOUBLE, h DOUBLE, l DOUBLE, c DOUBLE, v DOUBLE',
      dedupe(
        candles.map((c) => [
          c.symbol as string,
          c.openTimeMs as number,
          c.open as number,
          c.high as number,
          c.low as number,
          c.close as number,
          c.volume as number,
        ]),
      ),
    );
    await table(
      'oi',
      'sym VARCHAR, ot BIGINT, oi DOUBLE',
      dedupe(ois.map((o) => [o.symbol as string, o.eventTimeMs as number, o.openInterest as number])),
    );
    await table(
      'funding',
      'sym VARCHAR, ft BIGINT, rate DOUBLE, stamp BIGINT',
      dedupe(
        funding.map((f) => [
          f.symbol as string,
          f.fundingTimeMs as number,
          f.fundingRate as number,
          f.eventTimeMs as number,
        ]),
      ),
    );
    const expected = (
      await db.runAndReadAll(`
        SELECT c.sym, c.t, c.o, c.h, c.l, c.c, c.v,
               CASE WHEN c.t + ${TF} - oi.ot <= 600000 THEN oi.oi END AS oi,
               f.rate, f.ft, f.interval
        FROM candles c
        ASOF LEFT JOIN oi ON c.sym = oi.sym AND c.t + ${TF} >= oi.ot
        ASOF LEFT JOIN (
          -- Each settlement's interval: its time minus the one before (a gap over 8 h is none).
          -- Usable once both its slot and the venue's stamp (Binance: a few ms later) are past.
          SELECT sym, ft, rate, greatest(ft, stamp) AS usable,
                 CASE WHEN ft - lag(ft) OVER (PARTITION BY sym ORDER BY ft) <= ${8 * 3_600_000}
                      THEN ft - lag(ft) OVER (PARTITION BY sym ORDER BY ft) END AS interval
          FROM funding
        ) f ON c.sym = f.sym AND c.t + ${TF} >= f.usable
        ORDER BY c.sym, c.t`)
    ).getRowObjects();

    // What revisions changed (printed: a backfill whose inputs arrive in order revises little).
    const first = new Map<string, AlignedBar>();
    for (const b of bars) {
      const k = `${b.symbol}|${b.eventTimeMs}`;
      if ((first.get(k)?.revision ?? Number.POSITIVE_INFINITY) > b.revision) first.set(k, b);
    }
    const final = new Map<string, AlignedBar>();
    for (const b of bars) {
      const k = `${b.symbol}|${b.eventTimeMs}`;
      if ((final.get(k)?.revision ?? -1) < b.revision) final.set(k, b);
    }
    assert.equal(expected.length, SYMBOLS.length * (DAY / TF), 'the simulator should serve every minute');
    assert.equal(final.size, expected.length, `aligner bars ${final.size}, DuckDB rows ${expected.length}`);
    let oiCompared = 0;
    const intervals = new Set<string>();
    // Settlement times come snapped to the hour, whatever the venue stamped (Binance: +ms).
    for (const f of funding)
      assert.equal((f.fundingTimeMs as number) % 3_600_000, 0, `${f.symbol} ${f.fundingTimeMs}`);
    for (const e of expected) {
      const b = final.get(`${e.sym}|${Number(e.t)}`);
      assert.ok(b, `no aligned bar for ${e.sym} at ${new Date(Number(e.t)).toISOString()}`);
      assert.deepEqual([b.open, b.high, b.low, b.close, b.volume], [e.o, e.h, e.l, e.c, e.v]);
      assert.equal(
        b.openInterest,
        e.oi === null ? null : Number(e.oi),
        `open interest at ${e.sym} ${new Date(Number(e.t)).toISOString()}`,
      );
      assert.equal(b.fundingRate, e.rate === null ? null : Number(e.rate));
      assert.equal(b.fundingTimeMs, e.ft === null ? null : Number(e.ft));
      const interval = e.interval === null ? null : Number(e.interval);
      assert.equal(b.fundingIntervalMs, interval, `funding interval at ${e.sym} ${Number(e.t)}`);
      assert.equal(
        b.fundingRate8h,
        interval === null || e.rate === null ? null : (Number(e.rate) * 8 * 3_600_000) / interval,
      );
      assert.equal(
        b.fundingStale,
        e.ft === null || Number(e.t) + TF - Number(e.ft) > (interval ?? 8 * 3_600_000) + 1_800_000,
      );
      assert.deepEqual([b.liqPriceKind, b.liqCompleteness], ['average_fill', 'snapshot_1s']);
      assert.equal(b.candleFilled, false);
      if (b.openInterest !== null) oiCompared++;
      if (interval !== null) intervals.add(`${e.sym} ${interval / 3_600_000} h`);
    }
    assert.ok(oiCompared > expected.length / 2, `only ${oiCompared} bars had open interest to compare`);
    const simMetrics = await (await fetch(`${SIM}/metrics`)).text();
    const injected = [...simMetrics.matchAll(/perpflow_sim_faults_injected_total\{([^}]*)\} (\d+)/g)].map(
      (m) => `${m[1]}=${m[2]}`,
    );
    assert.ok(
      injected.some((x) => x.includes('http_5xx') && !x.endsWith('=0')),
      `no 5xx was injected: ${injected.join(' ')}`,
    );
    assert.ok(
      injected.some((x) => x.includes('malformed_json') && !x.endsWith('=0')),
      `no malformed body was injected: ${injected.join(' ')}`,
    );
    console.log(`faults injected: ${injected.join(' ')}`);
    const changed = new Map<string, number>();
    for (const [k, b] of final) {
      const a = first.get(k)!;
      if (a.revision === b.revision) continue;
      for (const f of Object.keys(b) as (keyof AlignedBar)[])
        if (f !== 'revision' && f !== 'knownAtMs' && a[f] !== b[f])
          changed.set(`${b.symbol} ${f}`, (changed.get(`${b.symbol} ${f}`) ?? 0) + 1);
    }
    console.log(
      `revised bars: fields changed from the first to the last revision: ${JSON.stringify(Object.fromEntries(changed))}`,
    );
    assert.ok(intervals.size >= SYMBOLS.length, `funding intervals compared: ${[...intervals].join(', ')}`);
    console.log(
      `pipeline: ${expected.length} bars equal to the ASOF JOIN (${oiCompared} with open interest; funding intervals ${[...intervals].join(', ')}), ${bars.length} aligned messages`,
    );
  });
});

function dedupe(rows: (string | number)[][]): (string | number)[][] {
  const seen = new Map<string, (string | number)[]>();
  for (const r of rows) seen.set(`${r[0]}|${r[1]}`, r);
  return [...seen.values()];
}
