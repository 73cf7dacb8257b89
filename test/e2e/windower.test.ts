/**
 * windower end to end on the real Kafka and S3: aligned bars (with a revision, a
 * re-delivered duplicate and a stale revision arriving after its successor) →
 * the windower process → Parquet objects and manifests; SIGKILL of the windower
 * midway, restart, and the objects are read back with DuckDB (not the windower's
 * decoder): every bar exactly once with its last revision, sha256 as in the manifest.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { type AlignedBar, formatRawThrough, HEADERS, type RawPosition } from '@perpflow/contracts';
import { parseSeriesIndex, parseWindowManifest } from '@perpflow/dataset';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  metricSum,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
  freePort,
} from '../src/harness.js';
import { deletePrefix, getBytes, listKeys, testS3 } from '../src/dataset-io.js';
import { createTestTopic, deleteTestTopics, produceRaw, testKafka } from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 2, 1, 23, 0); // 23:00 UTC: the bars span two daily windows
const N = 180;
const EX = 'binanceusdm';
const SYMBOL = `W${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
const PORT = await freePort();
const PREFIX = uniqueName('e2e-windower');
/** Its own aligned topic: the shared one holds every other run's bars. */
const TOPIC = uniqueName('e2e-windower-aligned');

function bar(i: number, revision = 0): AlignedBar {
  const t = T0 + i * TF;
  const p = 100 + 5 * Math.sin(i / 9) + revision * 0.25;
  return {
    schemaVersion: 1,
    exchange: EX,
    symbol: SYMBOL,
    timeframe: '1m',
    eventTimeMs: t,
    open: p,
    high: p + 1,
    low: p - 1,
    close: p + 0.5,
    volume: 3 + (i % 5),
    openInterest: i % 4 === 0 ? null : 5_000 + i,
    openInterestTimeMs: i % 4 === 0 ? null : t,
    openInterestMissing: i % 4 === 0 ? 'not_observed' : null,
    fundingRate: 0.0001,
    fundingTimeMs: Date.UTC(2024, 2, 1, 16),
    predictedFundingRate: null,
    predictedFundingTimeMs: null,
    fundingIntervalMs: null,
    fundingRate8h: null,
    markPrice: null,
    markPriceTimeMs: null,
    indexPrice: null,
    indexPriceTimeMs: null,
    basis: null,
    liqLongNotional: i % 7 === 0 ? 250 : 0,
    liqShortNotional: 0,
    liqCount: i % 7 === 0 ? 1 : 0,
    liqPriceKind: 'average_fill',
    liqCompleteness: 'snapshot_1s',
    knownAtMs: t + TF + 500 + revision * 30_000,
    revision,
    candleFilled: i % 31 === 0,
    openInterestStale: false,
    fundingStale: revision > 0,
  };
}

/** The raw positions the aligner would stamp on bar i (perpflow-raw-through): made up, rising with i. */
function rawThroughOf(i: number): RawPosition[] {
  return [
    { topic: 'perpflow.raw.ohlcv.v1', partition: 5, offset: String(1_000 + i) },
    { topic: 'perpflow.raw.open_interest.v1', partition: 5, offset: String(500 + 2 * i) },
  ];
}

const REVISED_EARLY = 10; // revised in the first half
const REVISED_LATE = 150; // revised after the restart
const DUPLICATE = 20; // sent twice

/** Keys under the test's prefix; `symbolOnly`: only this test's symbol. */
async function testKeys(client: S3Client, symbolOnly = true): Promise<string[]> {
  const folder = `/symbol=${SYMBOL.replace('/', '%2F').replace(':', '%3A')}/`;
  return (await listKeys(client, PREFIX)).filter((k) => !symbolOnly || k.includes(folder));
}

interface Row {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  open_interest: number | null;
  open_interest_ts: number | null;
  liq_long_notional: number;
  liq_count: number;
  known_at: number;
  revision: number;
  candle_filled: boolean;
  funding_stale: boolean;
  symbol: string;
  exchange: string;
}

const SQL = (file: string) => `
  SELECT exchange, symbol, epoch_ms(ts::TIMESTAMP)::DOUBLE AS ts, open, high, low, close, volume,
         open_interest, epoch_ms(open_interest_ts::TIMESTAMP)::DOUBLE AS open_interest_ts,
         liq_long_notional, liq_count, epoch_ms(known_at::TIMESTAMP)::DOUBLE AS known_at,
         revision, candle_filled, funding_stale
  FROM read_parquet('${file}')`;

describe('windower through Kafka into S3', { timeout: 240_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const dir = mkdtempSync(join(tmpdir(), 'windower-e2e-'));
  let windower: ServiceProcess | null = null;
  const env = {
    KAFKA_BROKERS: STACK.kafkaBrokers,
    S3_ENDPOINT: STACK.s3Endpoint,
    S3_BUCKET: STACK.s3Bucket,
    S3_PREFIX: PREFIX,
    WINDOWER_TOPIC: TOPIC,
    WINDOWER_GROUP_ID: uniqueName('e2e-windower'),
    WINDOWER_FLUSH_INTERVAL_MS: '1000',
    // The SIGKILLed member holds its partitions until its session expires.
    WINDOWER_SESSION_TIMEOUT_MS: '6000',
    METRICS_PORT: String(PORT),
    LOG_LEVEL: 'info',
  };
  const start = () =>
    startService({
      name: 'windower-e2e',
      workspace: 'services/windower',
      env,
      readyPort: PORT,
      readyTimeoutMs: 90_000,
    });
  const item = (b: AlignedBar) => ({
    exchange: EX,
    symbol: SYMBOL,
    value: b,
    headers: { [HEADERS.rawThrough]: formatRawThrough(rawThroughOf((b.eventTimeMs - T0) / TF)) },
  });

  async function readRows(keys: string[]): Promise<Row[]> {
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const rows: Row[] = [];
    try {
      for (const key of keys.filter((k) => k.endsWith('.parquet') && k.includes('/aligned/v1/'))) {
        const file = join(dir, `${createHash('sha1').update(key).digest('hex')}.parquet`);
        writeFileSync(file, await getBytes(client, key));
        const reader = await conn.runAndReadAll(SQL(file));
        rows.push(...(reader.getRowObjectsJS() as unknown as Row[]));
      }
    } finally {
      conn.closeSync();
    }
    return rows;
  }

  before(async () => {
    await createTestTopic(kafka, TOPIC, 3);
  });
  after(async () => {
    if (windower) await stopService(windower);
    await deletePrefix(client, PREFIX);
    rmSync(dir, { recursive: true, force: true });
    await deleteTestTopics(kafka, [TOPIC]);
  });

  it('writes each bar exactly once with its last revision, across a SIGKILL, with verifiable manifests', async () => {
    const started = Date.now();
    const firstHalf = [
      ...Array.from({ length: N / 2 }, (_, i) => bar(i)),
      bar(REVISED_EARLY, 1),
      bar(DUPLICATE),
    ];
    await produceRaw(kafka, TOPIC, firstHalf.map(item));

    windower = await start();
    await waitFor(
      'the first objects',
      async () => (await metricSum(`http://127.0.0.1:${PORT}`, 'perpflow_windower_files_written_total')) >= 2,
      60_000,
    );
    assert.equal(await stopService(windower, 'SIGKILL'), 'SIGKILL');

    await produceRaw(
      kafka,
      TOPIC,
      [
        ...Array.from({ length: N / 2 }, (_, i) => bar(N / 2 + i)),
        bar(REVISED_LATE, 1),
        bar(REVISED_EARLY, 0), // a stale revision after its successor: must not win
        bar(DUPLICATE),
      ].map(item),
    );
    windower = await start();

    const expected = new Map<number, AlignedBar>();
    for (let i = 0; i < N; i++)
      expected.set(T0 + i * TF, bar(i, i === REVISED_EARLY || i === REVISED_LATE ? 1 : 0));

    const rows = await waitFor(
      'every bar in S3 with its last revision',
      async () => {
        const r = await readRows(await testKeys(client));
        const late = r.find((x) => x.ts === T0 + REVISED_LATE * TF);
        return r.length >= N && late?.revision === 1 ? r : null;
      },
      90_000,
      1_000,
    );
    const elapsedMs = Date.now() - started;

    const times = rows.map((r) => r.ts).sort((a, b) => a - b);
    assert.equal(new Set(times).size, times.length, 'a bar time appears twice');
    assert.deepEqual(times, [...expected.keys()], 'bar times differ: missing or extra rows');
    for (const r of rows) {
      const e = expected.get(r.ts)!;
      const at = new Date(r.ts).toISOString();
      assert.equal(r.exchange, EX);
      assert.equal(r.symbol, SYMBOL);
      assert.equal(r.revision, e.revision, `${at} revision`);
      for (const [col, want] of [
        ['open', e.open],
        ['high', e.high],
        ['low', e.low],
        ['close', e.close],
        ['volume', e.volume],
        ['open_interest', e.openInterest],
        ['open_interest_ts', e.openInterestTimeMs],
        ['liq_long_notional', e.liqLongNotional],
        ['liq_count', e.liqCount],
        ['known_at', e.knownAtMs],
        ['candle_filled', e.candleFilled],
        ['funding_stale', e.fundingStale],
      ] as const)
        assert.equal(r[col], want, `${at} ${col}`);
    }

    // Keys: one object and one manifest per UTC day, the revisions of the revised bars
    // beside them, one series index; manifests and index match the bytes.
    const keys = await testKeys(client);
    const enc = SYMBOL.replace('/', '%2F').replace(':', '%3A');
    const series = `timeframe=1m/exchange=${EX}/symbol=${enc}`;
    const part = (tree: string, d: string) =>
      `${PREFIX}/${tree}/v1/${series}/date=${d}/part-${Date.parse(d)}`;
    assert.deepEqual(keys, [
      `${PREFIX}/aligned/v1/${series}/_index.json`,
      `${part('aligned', '2024-03-01')}.manifest.json`,
      `${part('aligned', '2024-03-01')}.parquet`,
      `${part('aligned', '2024-03-02')}.manifest.json`,
      `${part('aligned', '2024-03-02')}.parquet`,
      `${part('aligned_revisions', '2024-03-01')}.parquet`,
      `${part('aligned_revisions', '2024-03-02')}.parquet`,
    ]);
    const index = parseSeriesIndex(await getBytes(client, `${PREFIX}/aligned/v1/${series}/_index.json`));
    let bytes = 0;
    for (const key of keys.filter((k) => k.endsWith('.manifest.json'))) {
      const manifest = parseWindowManifest(await getBytes(client, key));
      const body = await getBytes(client, manifest.object.key);
      assert.equal(manifest.object.key, key.replace(/\.manifest\.json$/, '.parquet'));
      assert.equal(manifest.object.sha256, createHash('sha256').update(body).digest('hex'), `${key} sha256`);
      assert.equal(manifest.object.bytes, body.byteLength);
      assert.ok(manifest.kafkaOffsets.length >= 1);
      // The highest raw positions of the day's bars, across the SIGKILL (stored + re-read).
      const lastOfDay = Math.max(
        ...[...expected.keys()]
          .filter((t) => t >= manifest.window.startMs && t < manifest.window.endMs)
          .map((t) => (t - T0) / TF),
      );
      assert.deepEqual(manifest.rawThrough, rawThroughOf(lastOfDay), `${key} rawThrough`);
      assert.equal(manifest.revisions?.rowCount, 1, 'one superseded revision per day');
      const revisions = await getBytes(client, manifest.revisions.key);
      assert.equal(manifest.revisions.sha256, createHash('sha256').update(revisions).digest('hex'));
      const entry = index.windows.find((w) => w.startMs === manifest.window.startMs);
      assert.equal(entry?.sha256, manifest.object.sha256, 'index entry = manifest');
      assert.equal(entry?.manifestKey, key);
      bytes += body.byteLength;
    }
    // Metrics: the newest durable bar close per series (freshness is computed from it at scrape time).
    const url = `http://127.0.0.1:${PORT}`;
    const s3Labels = { stage: 's3', exchange: EX, symbol: SYMBOL, feed: 'bar' };
    await waitFor(
      'the newest durable bar close in the metrics',
      async () =>
        (await metricSum(url, 'perpflow_feed_newest_event_time_seconds', s3Labels)) === (T0 + N * TF) / 1000,
      10_000,
    );
    assert.ok(
      (await metricSum(url, 'perpflow_feed_freshness_seconds', s3Labels)) >=
        (Date.now() - T0 - N * TF) / 1000 - 60,
    );
    assert.ok((await metricSum(url, 'perpflow_windower_durable_delay_seconds_count')) >= N / 2);
    assert.ok(
      (await metricSum(url, 'perpflow_windower_s3_request_duration_seconds_count', { op: 'put' })) >= 4,
    );

    const perDay = rows.filter((r) => r.ts < Date.UTC(2024, 2, 2)).length;
    assert.equal(perDay, 60, 'the 23:00–24:00 bars belong to the first day');
    console.log(
      `windower e2e: ${rows.length} rows in ${index.windows.length} objects (${bytes} B), ${elapsedMs} ms from first produce to verified S3`,
    );
  });
});
