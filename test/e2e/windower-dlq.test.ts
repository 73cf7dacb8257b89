/**
 * Bad records on the aligned topic, on the real Kafka and S3: malformed JSON and a bar
 * that breaks its contract go to perpflow.dlq.v1 with their reason and original bytes;
 * the windower keeps running, writes the good bars and commits past the bad ones.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type AlignedBar, DeadLetterSchema, sampleAlignedBar } from '@perpflow/contracts';
import { TOPICS } from '../src/harness.js';
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
  produceRaw,
  readTopic,
  testKafka,
} from '../src/kafka-io.js';

const EX = 'binanceusdm';
const SYMBOL = `D${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
const T0 = Date.UTC(2024, 2, 1);
const bar = (i: number, over: Partial<AlignedBar> = {}): AlignedBar =>
  sampleAlignedBar({
    symbol: SYMBOL,
    eventTimeMs: T0 + i * 60_000,
    knownAtMs: T0 + (i + 1) * 60_000 + 300,
    ...over,
  });

describe('windower dead-letters bad aligned records and never dies on one', { timeout: 240_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const topic = uniqueName('e2e-dlq-aligned');
  const prefix = uniqueName('e2e-dlq');

  after(async () => {
    await deletePrefix(client, prefix);
    await deleteTestTopics(kafka, [topic]);
  });

  it('sends malformed and contract-breaking records to perpflow.dlq.v1 with their reason, writes the rest', async () => {
    await ensurePipelineTopics();
    await createTestTopic(kafka, topic);
    const malformed = '{"schemaVersion":1,"exchange":"binanceusdm",';
    const broken = bar(2, { high: 1, low: 5 });
    await produceRaw(
      kafka,
      topic,
      [bar(0), malformed, bar(1), broken, bar(3)].map((value) => ({ exchange: EX, symbol: SYMBOL, value })),
    );
    const port = await freePort();
    const groupId = uniqueName('e2e-dlq');
    const windower = await startService({
      name: 'windower-dlq',
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
        [0, 1, 3].map((i) => T0 + i * 60_000),
      );
      const letters = (await readTopic(kafka, TOPICS.deadLetter, (k) => k === `${EX}|${SYMBOL}`))
        .map((m) => DeadLetterSchema.parse(JSON.parse(m.value.toString('utf8'))))
        .filter((l) => l.source.topic === topic)
        .sort((a, b) => Number(a.source.offset) - Number(b.source.offset));
      assert.deepEqual(
        letters.map((l) => [l.stage, l.source.offset, l.ruleId, l.exchange, l.symbol]),
        [
          ['windower', '1', 'contract.json', EX, SYMBOL],
          ['windower', '3', 'contract.ohlc.high_below_low', EX, SYMBOL],
        ],
      );
      assert.equal(letters[0]!.payload, malformed, 'original bytes kept');
      assert.deepEqual(JSON.parse(letters[1]!.payload), broken);
      assert.match(letters[1]!.message, /high/);
      // Still alive and ready, and the group's commit passed the bad records.
      assert.equal(windower.child.exitCode, null);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
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
    } finally {
      await stopService(windower);
    }
  });
});
