/**
 * Issue #15 points 2 and 3 at the windower, on the real Kafka and S3: a 5,000-deep record
 * and a bad bar carrying a 300 KB key and 150 KB of headers. As found, the first threw
 * in the decode path and the second made a dead letter over the broker's 1 MiB limit,
 * whose send failed on every flush while the commit stayed below it. Now both are
 * bounded dead letters, the good bars reach S3 and the commit passes every record.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type AlignedBar, DeadLetterSchema, sampleAlignedBar } from '@perpflow/contracts';
import { TOPICS } from '../src/harness.js';
import { Partitioners } from 'kafkajs';
import { deletePrefix, readStoredDataset, testS3 } from '../src/dataset-io.js';
import {
  freePort,
  metricSum,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import {
  createTestTopic,
  deleteTestTopics,
  ensurePipelineTopics,
  readTopic,
  testKafka,
} from '../src/kafka-io.js';

const EX = 'binanceusdm';
const SYMBOL = `B${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
const KEY = `${EX}|${SYMBOL}`;
const HUGE_KEY = `${KEY}${'k'.repeat(300 * 1024)}`;
const T0 = Date.UTC(2024, 2, 1);
const bar = (i: number, over: Partial<AlignedBar> = {}): AlignedBar =>
  sampleAlignedBar({
    symbol: SYMBOL,
    eventTimeMs: T0 + i * 60_000,
    knownAtMs: T0 + (i + 1) * 60_000 + 300,
    ...over,
  });

describe('windower: bounded dead letters for deep and oversized records', { timeout: 240_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const topic = uniqueName('e2e-dlq-bounds');
  const prefix = uniqueName('e2e-dlq-bounds');

  after(async () => {
    await deletePrefix(client, prefix);
    await deleteTestTopics(kafka, [topic]);
  });

  it('dead-letters both within bounds, writes the good bars and commits past everything', async () => {
    await ensurePipelineTopics();
    await createTestTopic(kafka, topic);
    const deep = JSON.stringify(bar(1)).replace(
      '"open":',
      `"open":${'['.repeat(5_000)}${']'.repeat(5_000)},"x":`,
    );
    const broken = JSON.stringify(bar(3, { high: 1, low: 5 }));
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: KEY, value: JSON.stringify(bar(0)) },
        { key: KEY, value: deep },
        { key: KEY, value: JSON.stringify(bar(2)) },
        { key: HUGE_KEY, value: broken, headers: { big: 'h'.repeat(150 * 1024), small: 's' } },
        { key: KEY, value: JSON.stringify(bar(4)) },
      ],
    });
    await producer.disconnect();

    const port = await freePort();
    const groupId = uniqueName('e2e-dlq-bounds');
    const windower = await startService({
      name: 'windower-dlq-bounds',
      workspace: 'services/windower',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        S3_ENDPOINT: STACK.s3Endpoint,
        S3_BUCKET: STACK.s3Bucket,
        S3_PREFIX: prefix,
        WINDOWER_TOPIC: topic,
        WINDOWER_GROUP_ID: groupId,
        WINDOWER_FLUSH_INTERVAL_MS: '300',
        METRICS_PORT: String(port),
      },
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        'two dead letters acknowledged',
        async () => (await metricSum(url, 'perpflow_dlq_records_total')) === 2,
        60_000,
      );
      const stored = await waitFor(
        'the good bars in S3',
        async () => {
          const d = await readStoredDataset(client, prefix);
          return d.latest.length === 3 ? d : null;
        },
        60_000,
        1_000,
      );
      assert.deepEqual(
        stored.latest.map((b) => b.eventTimeMs).sort((a, b) => a - b),
        [0, 2, 4].map((i) => T0 + i * 60_000),
      );
      await waitFor(
        'the commit past every record',
        async () => {
          const admin = kafka.admin();
          await admin.connect();
          const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
          await admin.disconnect();
          return t?.partitions[0]?.offset === '5';
        },
        30_000,
      );
      const rows = (await readTopic(kafka, TOPICS.deadLetter, (k) => k.startsWith(KEY))).filter(
        (m) => JSON.parse(m.value.toString()).source.topic === topic,
      );
      const letters = rows
        .map((m) => ({ bytes: m.value.length, l: DeadLetterSchema.parse(JSON.parse(m.value.toString())) }))
        .sort((a, b) => Number(a.l.source.offset) - Number(b.l.source.offset));
      assert.deepEqual(
        letters.map(({ l }) => [l.stage, l.source.offset, l.ruleId]),
        [
          ['windower', '1', 'contract.type'],
          ['windower', '3', 'contract.ohlc.high_below_low'],
        ],
      );
      assert.equal(letters[0]!.l.payload, deep, 'the deep record kept byte for byte');
      const big = letters[1]!;
      assert.equal(big.l.key, HUGE_KEY.slice(0, 1024));
      assert.equal(big.l.truncated?.key?.bytes, Buffer.byteLength(HUGE_KEY));
      assert.deepEqual(big.l.headers, { small: 's' });
      assert.equal(big.l.truncated?.headers?.count, 2);
      assert.ok((big.l.symbol ?? '').length <= 128);
      assert.ok(big.bytes < 32 * 1024, `dead letter of ${big.bytes} bytes`);
      assert.equal(windower.child.exitCode, null);
    } finally {
      await stopService(windower);
    }
  });
});
