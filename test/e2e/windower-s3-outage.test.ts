/**
 * S3 unavailable for 30 s under load, on the real Kafka and a real S3 server that
 * this test owns: it starts its own instance of the stack's S3 server
 * (infra/local/src/s3-server.ts) on a free port and kills and restarts THAT one, so
 * the shared stack's S3 is never stopped (locally or in CI). While S3 is down the
 * windower backs off, pauses consumption (memory bounded: it stops reading long
 * before the topic's end), and once S3 is back it catches up: every bar exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { type AlignedBar, streamKey } from '@perpflow/contracts';
import { Partitioners } from 'kafkajs';
import { readStoredDataset, testS3 } from '../src/dataset-io.js';
import {
  freePort,
  metricSum,
  type ServiceProcess,
  STACK,
  sleep,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { createTestTopic, deleteTestTopics, testKafka } from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 5, 1); // midnight: bars 0..1439 are day 1, the rest day 2
const BEFORE = 200; // durable before the outage
const DURING = 2_000; // produced while S3 is down
const MAX_BUFFERED_ROWS = 300;
const OUTAGE_MS = 30_000;
const EX = 'bybit';
const SYMBOL = `O${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
const BUCKET = 'perpflow';

function bar(i: number): AlignedBar {
  const t = T0 + i * TF;
  const p = 10 + (i % 97) / 10;
  return {
    schemaVersion: 1,
    exchange: EX,
    symbol: SYMBOL,
    timeframe: '1m',
    eventTimeMs: t,
    open: p,
    high: p + 0.5,
    low: p - 0.5,
    close: p + 0.1,
    volume: i,
    openInterest: i % 10 === 0 ? null : i * 2,
    openInterestTimeMs: i % 10 === 0 ? null : t,
    openInterestMissing: i % 10 === 0 ? 'not_observed' : null,
    fundingRate: 0.0001,
    fundingTimeMs: t - (t % 28_800_000),
    predictedFundingRate: null,
    predictedFundingTimeMs: null,
    fundingIntervalMs: null,
    fundingRate8h: null,
    markPrice: null,
    markPriceTimeMs: null,
    indexPrice: null,
    indexPriceTimeMs: null,
    basis: null,
    liqLongNotional: 0,
    liqShortNotional: i % 50 === 0 ? 99.5 : 0,
    liqCount: i % 50 === 0 ? 1 : 0,
    liqPriceKind: 'bankruptcy',
    liqCompleteness: 'all',
    knownAtMs: t + TF + 700,
    revision: 0,
    candleFilled: false,
    openInterestStale: false,
    fundingStale: i % 33 === 0,
  };
}

describe('windower with S3 down for 30 s', { timeout: 420_000 }, () => {
  const kafka = testKafka();
  const dir = mkdtempSync(join(tmpdir(), 'windower-s3-outage-'));
  const topic = uniqueName('e2e-outage-aligned');
  const prefix = uniqueName('e2e-outage');
  let s3: ServiceProcess | null = null;
  let windower: ServiceProcess | null = null;
  let s3Port = 0;

  async function startS3(): Promise<void> {
    s3 = await startService({
      name: 'windower-outage-s3',
      workspace: 'infra/local',
      entry: 'src/s3-server.ts',
      args: [String(s3Port), join(dir, 's3'), BUCKET],
      env: { NODE_OPTIONS: '--openssl-legacy-provider' },
      readyPort: null,
    });
    const client = testS3(`http://127.0.0.1:${s3Port}`);
    await waitFor(
      'the private S3 server',
      () => client.send(new HeadBucketCommand({ Bucket: BUCKET })),
      30_000,
    );
  }

  /** Produces in small sends: each is its own record batch, so a fetch can stop between them. */
  async function produce(bars: AlignedBar[]): Promise<void> {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    try {
      for (let i = 0; i < bars.length; i += 20)
        await producer.send({
          topic,
          messages: bars
            .slice(i, i + 20)
            .map((b) => ({ key: streamKey(EX, SYMBOL), value: JSON.stringify(b) })),
        });
    } finally {
      await producer.disconnect();
    }
  }

  after(async () => {
    if (windower) await stopService(windower);
    if (s3) await stopService(s3);
    await deleteTestTopics(kafka, [topic]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs off, pauses consumption with memory bounded, and catches up without loss', async () => {
    s3Port = await freePort();
    await startS3();
    await createTestTopic(kafka, topic);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    windower = await startService({
      name: 'windower-outage',
      workspace: 'services/windower',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
        S3_BUCKET: BUCKET,
        S3_PREFIX: prefix,
        WINDOWER_TOPIC: topic,
        WINDOWER_GROUP_ID: uniqueName('e2e-outage'),
        WINDOWER_FLUSH_INTERVAL_MS: '300',
        WINDOWER_MAX_BUFFERED_ROWS: String(MAX_BUFFERED_ROWS),
        WINDOWER_FETCH_MAX_BYTES: '16384',
        WINDOWER_S3_RETRY_MAX_DELAY_MS: '2000',
        METRICS_PORT: String(port),
      },
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    const client = testS3(`http://127.0.0.1:${s3Port}`);
    const all = Array.from({ length: BEFORE + DURING }, (_, i) => bar(i));

    await produce(all.slice(0, BEFORE));
    await waitFor(
      'the first bars durable',
      async () => (await readStoredDataset(client, prefix, BUCKET)).latest.length === BEFORE,
      60_000,
      1_000,
    );

    // Outage: kill this test's S3 server, then produce far more than the buffer holds.
    await stopService(s3!, 'SIGKILL');
    s3 = null;
    const outageStart = Date.now();
    await produce(all.slice(BEFORE));
    let maxConsumed = 0;
    let maxHeld = 0;
    while (Date.now() - outageStart < OUTAGE_MS) {
      maxConsumed = Math.max(maxConsumed, await metricSum(url, 'perpflow_windower_bars_in_total'));
      maxHeld = Math.max(maxHeld, await metricSum(url, 'perpflow_windower_buffered_rows'));
      await sleep(500);
    }
    const errors = await metricSum(url, 'perpflow_windower_s3_errors_total');
    const paused = await metricSum(url, 'perpflow_windower_consumer_paused');
    console.log(
      `S3 outage ${OUTAGE_MS} ms: consumed ${maxConsumed} of ${BEFORE + DURING} bars, held ≤ ${maxHeld} rows, ${errors} S3 errors`,
    );
    assert.ok(errors > 0, 'S3 requests failed during the outage');
    assert.equal(paused, 1, 'consumption is paused while S3 is down');
    // Bounded: the buffer limit plus what was in flight (a few 16 KiB fetches, ~25 bars each),
    // and the rows of the window already durable before the outage.
    assert.ok(
      maxConsumed <= BEFORE + MAX_BUFFERED_ROWS + 200,
      `consumed ${maxConsumed} bars while S3 was down: consumption did not pause`,
    );
    assert.ok(maxHeld <= BEFORE + MAX_BUFFERED_ROWS + 200, `held ${maxHeld} rows in memory`);

    // S3 back (same port, same files): the windower retries, writes, resumes and catches up.
    await startS3();
    // Every bar durable, and the first day's window written as closed: the watermark passes its
    // end only with the second day's bars, and under memory pressure the windower has evicted
    // the first day by then, so that write comes after the rows are all there.
    const stored = await waitFor(
      'every bar durable after the outage, the first day closed',
      async () => {
        const d = await readStoredDataset(client, prefix, BUCKET);
        return d.latest.length >= BEFORE + DURING &&
          d.manifests.some((m) => m.window.startMs === T0 && m.closed)
          ? d
          : null;
      },
      180_000,
      2_000,
    );
    const rows = [...stored.latest].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    assert.equal(rows.length, BEFORE + DURING, 'a bar is missing or written twice');
    assert.deepEqual(rows, all, 'every bar once, equal to what was produced');
    assert.equal(stored.manifests.length, 2);
    assert.ok(stored.manifests.every((m) => m.closed === (m.window.startMs === T0)));
    await waitFor(
      'consumption resumed',
      async () => (await metricSum(url, 'perpflow_windower_consumer_paused')) === 0,
      30_000,
    );
    assert.equal(await metricSum(url, 'perpflow_windower_bars_in_total'), BEFORE + DURING);
  });
});
