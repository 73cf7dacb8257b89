/**
 * The windower process runs month compaction by itself: its job scheduler adds a scan
 * at start-up, the scan enqueues the closed month, its worker compacts it. Days are
 * written with the windower's write path before it starts (no bars on its topic);
 * checked: the compacted month's rows and sources, and the compaction metrics.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AlignedBar } from '@perpflow/contracts';
import {
  compactedManifestKey,
  compactedObjectKey,
  decodeParquetToBars,
  parseCompactedManifest,
  parseSeriesIndex,
  type SeriesId,
  seriesIndexKey,
} from '@perpflow/dataset';
import { createS3Client } from '@perpflow/s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { S3ObjectStore } from '../../services/windower/src/adapters/s3.js';
import { WindowStore } from '../../services/windower/src/adapters/window-store.js';
import { loadCompactConfig } from '../../services/windower/src/config.js';
import { deletePrefix, getBytes, testS3 } from '../src/dataset-io.js';
import {
  freePort,
  metricSum,
  type ServiceProcess,
  STACK,
  STACK_S3_CREDENTIALS,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { createTestTopic, deleteTestTopics, testKafka } from '../src/kafka-io.js';

const TF = 60_000;
const DAY = 86_400_000;
const JAN = Date.UTC(2024, 0, 1);
const FEB = Date.UTC(2024, 1, 1);
const DAYS = 3;
const BARS = 30;
const EX = 'binanceusdm';

function bar(symbol: string, t: number): AlignedBar {
  const i = t / TF;
  return {
    schemaVersion: 1,
    exchange: EX,
    symbol,
    timeframe: '5m',
    eventTimeMs: t,
    open: 10 + (i % 17),
    high: 12 + (i % 17),
    low: 9 + (i % 17),
    close: 11 + (i % 17),
    volume: i % 5,
    openInterest: null,
    openInterestTimeMs: null,
    openInterestMissing: 'not_observed',
    fundingRate: null,
    fundingTimeMs: null,
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
    liqShortNotional: 0,
    liqCount: 0,
    liqPriceKind: 'average_fill',
    liqCompleteness: 'snapshot_1s',
    knownAtMs: t + 5 * TF + 100,
    revision: 0,
    candleFilled: false,
    openInterestStale: false,
    fundingStale: false,
  };
}

describe('windower: month compaction in the process (scheduler, scan, worker)', { timeout: 180_000 }, () => {
  const prefix = uniqueName('e2e-compaction');
  const queue = uniqueName('e2e-compaction-q');
  const topic = uniqueName('e2e-compaction-aligned');
  const symbol = `W${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
  const series: SeriesId = { exchange: EX, symbol, timeframe: '5m' };
  const kafka = testKafka();
  const redis = new Redis(STACK.redisUrl, { maxRetriesPerRequest: null });
  let windower: ServiceProcess | null = null;

  after(async () => {
    if (windower) await stopService(windower);
    const q = new Queue(queue, { connection: redis, prefix: `bull:${STACK.s3Bucket}/${prefix}` });
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    redis.disconnect();
    await deletePrefix(testS3(), prefix);
    await deleteTestTopics(kafka, [topic]);
  });

  it('compacts a closed month it finds at start-up and counts it', async () => {
    const config = loadCompactConfig({ ...process.env, ...STACK_S3_CREDENTIALS, S3_PREFIX: prefix });
    const windows = new WindowStore(
      new S3ObjectStore(createS3Client(config), config.S3_BUCKET),
      prefix,
      'compaction e2e',
    );
    const expected: AlignedBar[] = [];
    for (const [i, start] of [...Array.from({ length: DAYS }, (_, d) => JAN + d * DAY), FEB].entries()) {
      const rows = Array.from({ length: BARS }, (_, k) => bar(symbol, start + k * 5 * TF));
      if (start < FEB) expected.push(...rows);
      await windows.write({
        window: { ...series, unit: 'day', startMs: start },
        latest: rows,
        superseded: [],
        kafkaOffsets: [],
        watermarkMs: null,
        closed: start < FEB,
        writtenAtMs: FEB + DAY + i,
      });
    }
    await createTestTopic(kafka, topic);
    const port = await freePort();
    windower = await startService({
      name: 'windower-compaction-e2e',
      workspace: 'services/windower',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        REDIS_URL: STACK.redisUrl,
        S3_ENDPOINT: STACK.s3Endpoint,
        S3_BUCKET: STACK.s3Bucket,
        S3_PREFIX: prefix,
        WINDOWER_TOPIC: topic,
        WINDOWER_GROUP_ID: uniqueName('e2e-compaction'),
        COMPACTION_QUEUE: queue,
        COMPACTION_SCAN_INTERVAL_MS: '2000',
        METRICS_PORT: String(port),
      },
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    const url = windower.metricsUrl ?? '';
    await waitFor(
      'the windower to compact January',
      async () => (await metricSum(url, 'perpflow_windower_compaction_months_compacted_total')) >= 1,
      60_000,
      500,
    );
    const client = testS3();
    const manifest = parseCompactedManifest(
      await getBytes(client, compactedManifestKey(prefix, series, JAN)),
    );
    const rows = decodeParquetToBars(await getBytes(client, compactedObjectKey(prefix, series, JAN)));
    assert.deepEqual(rows, expected);
    const index = parseSeriesIndex(await getBytes(client, seriesIndexKey(prefix, series)));
    assert.deepEqual(
      manifest.sources,
      index.windows
        .filter((e) => e.startMs < FEB)
        .map((e) => ({ startMs: e.startMs, sha256: e.sha256, rowCount: e.rowCount })),
    );
    // Further scans (every 2 s) find the month up to date: still one month, three days merged.
    await waitFor(
      'two more scans',
      async () =>
        (await metricSum(url, 'perpflow_windower_compaction_jobs_total', {
          kind: 'scan',
          outcome: 'scanned',
        })) >= 3,
      30_000,
      500,
    );
    assert.equal(
      await metricSum(url, 'perpflow_windower_compaction_months_compacted_total', {
        timeframe: '5m',
        reason: 'new',
      }),
      1,
    );
    assert.equal(await metricSum(url, 'perpflow_windower_compaction_source_objects_total'), DAYS);
    assert.equal(await metricSum(url, 'perpflow_windower_compaction_jobs_total', { kind: 'month' }), 1);
    assert.equal(await metricSum(url, 'perpflow_windower_compaction_stale_months'), 0);
    assert.ok((await metricSum(url, 'perpflow_windower_compaction_bytes_written_total')) > 0);
    assert.equal(await stopService(windower), 0, 'SIGTERM: a clean exit with the compaction worker closed');
    windower = null;
  });
});
