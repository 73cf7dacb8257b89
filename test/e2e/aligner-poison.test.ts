/**
 * Issue #15 on the real Kafka and Redis: records that used to stall a partition or make
 * a dead letter the broker refuses. A 5,000-deep record, a record with a 160 KB key and a
 * mis-keyed record each end as ONE bounded dead letter with its rule, while the good
 * records around them are aligned and their offsets committed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AlignedBar, DeadLetterSchema, sampleCandle } from '@perpflow/contracts';
import { TOPICS } from '../src/harness.js';
import { Partitioners } from 'kafkajs';
import {
  freePort,
  metricSum,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { ensurePipelineTopics, readTopic, testKafka } from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 2, 1);
const EX = 'binanceusdm';
const SYMBOL = `P${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
const KEY = `${EX}|${SYMBOL}`;
const MISKEY = `${EX}|ETH/USDT:USDT`;
const BIG_KEY = `${KEY}${'x'.repeat(160 * 1024)}`;
const candle = (i: number) =>
  sampleCandle({
    symbol: SYMBOL,
    openTimeMs: T0 + i * TF,
    eventTimeMs: T0 + i * TF,
    receivedAtMs: T0 + (i + 1) * TF + 500,
    source: 'backfill',
  });
const HUGE_KEY = `${KEY}${'y'.repeat(200 * 1024)}`;
const HUGE_VALUE = `{"pad":"${'v'.repeat(600 * 1024)}"}`;
const DEEP = `{"open":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;

describe('aligner: no record stalls a partition, every dead letter fits', { timeout: 240_000 }, () => {
  const kafka = testKafka();
  const group = uniqueName('e2e-poison');
  let aligner: ServiceProcess | null = null;
  let port = 0;

  before(async () => {
    await ensurePipelineTopics();
    port = await freePort();
  });
  after(async () => {
    if (aligner) await stopService(aligner);
  });

  it('dead-letters a deep record, a 160 KB key and a mis-keyed record; aligns and commits the rest', async () => {
    const v = (i: number) => JSON.stringify(candle(i));
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    // One request per record kind: the deep and big-key records sit between good ones.
    await producer.send({
      topic: TOPICS.raw.ohlcv,
      messages: [
        ...[0, 1, 2].map((i) => ({ key: KEY, value: v(i) })),
        { key: KEY, value: DEEP },
        ...[3, 4].map((i) => ({ key: KEY, value: v(i) })),
        { key: BIG_KEY, value: v(5) },
        { key: MISKEY, value: v(6) },
        ...[7, 8, 9, 10].map((i) => ({ key: KEY, value: v(i) })),
      ],
    });
    // At the broker's limit (message.max.bytes 1 MiB): a 600 KB value, a 200 KB key and
    // 150 KB of headers. Its dead letter as found copied key and headers whole, and again
    // as the symbol: over the limit, refused, replayed forever.
    await producer.send({
      topic: TOPICS.raw.ohlcv,
      messages: [{ key: HUGE_KEY, value: HUGE_VALUE, headers: { big: 'h'.repeat(150 * 1024) } }],
    });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(TOPICS.raw.ohlcv);

    aligner = await startService({
      name: 'aligner-poison',
      workspace: 'services/aligner',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        REDIS_URL: STACK.redisUrl,
        ALIGNER_GROUP_ID: group,
        ALIGNER_ALLOWED_LATENESS_MS: '0',
        METRICS_PORT: String(port),
      },
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    const newestClose = async () =>
      (await metricSum(`http://127.0.0.1:${port}`, 'perpflow_feed_newest_event_time_seconds', {
        stage: 'aligned',
        symbol: SYMBOL,
      })) * 1000;
    await waitFor(
      'the bar of the last good candle',
      async () => (await newestClose()) >= T0 + 11 * TF,
      120_000,
    );
    // Committed: every raw partition up to where it was when the records were produced.
    await waitFor(
      'offsets committed past the poison',
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId: group, topics: [TOPICS.raw.ohlcv] });
        return ends.every((e) => {
          if (BigInt(e.offset) <= BigInt(e.low)) return true; // an empty partition is never committed
          const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
          return BigInt(c) >= BigInt(e.offset);
        });
      },
      60_000,
    );
    await admin.disconnect();

    const bars = (await readTopic(kafka, TOPICS.alignedBar, (k) => k === KEY)).map(
      (m) => JSON.parse(m.value.toString()) as AlignedBar,
    );
    const filled = new Map(bars.map((b) => [b.eventTimeMs, b.candleFilled]));
    assert.deepEqual(
      [...filled].sort((a, b) => a[0] - b[0]),
      Array.from({ length: 11 }, (_, i) => [T0 + i * TF, i === 5 || i === 6]),
      'bars 0-10, 5 and 6 filled (their candles were dead-lettered)',
    );

    const letters = (
      await readTopic(kafka, TOPICS.deadLetter, (k) => k === MISKEY || k.startsWith(KEY))
    ).filter((m) => JSON.parse(m.value.toString()).source.topic === TOPICS.raw.ohlcv);
    const mine = letters
      .map((m) => ({ bytes: m.value.length, letter: DeadLetterSchema.parse(JSON.parse(m.value.toString())) }))
      .filter(({ letter }) => (letter.key === MISKEY ? letter.payload === v(6) : true));
    const byRule = mine.map(({ letter }) => [letter.ruleId, letter.payload.slice(0, 12)]);
    // The deep record's first issue is its missing schemaVersion (rule enum); `open` is named too.
    assert.deepEqual(byRule.sort(), [
      ['contract.enum', DEEP.slice(0, 12)],
      ['contract.key', v(5).slice(0, 12)],
      ['contract.key', v(6).slice(0, 12)],
      ['contract.size', HUGE_VALUE.slice(0, 12)],
    ]);
    const huge = mine.find(({ letter }) => letter.ruleId === 'contract.size')!;
    assert.deepEqual(
      [
        huge.letter.truncated?.payload?.bytes,
        huge.letter.truncated?.key?.bytes,
        huge.letter.truncated?.headers?.count,
      ],
      [Buffer.byteLength(HUGE_VALUE), Buffer.byteLength(HUGE_KEY), 1],
    );
    assert.ok(huge.bytes < 100 * 1024, `the at-limit record's dead letter is ${huge.bytes} bytes`);
    const big = mine.find(({ letter }) => letter.ruleId === 'contract.key' && letter.truncated?.key)!;
    assert.equal(big.letter.truncated?.key?.bytes, Buffer.byteLength(BIG_KEY));
    assert.equal(big.letter.key, BIG_KEY.slice(0, 1024));
    assert.equal(big.letter.payload, v(5));
    for (const { bytes } of mine) assert.ok(bytes < 100 * 1024, `a dead letter of ${bytes} bytes`);
    const deep = mine.find(({ letter }) => letter.ruleId === 'contract.enum')!.letter;
    assert.equal(deep.payload, DEEP, 'the deep record is kept byte for byte');
    assert.match(deep.message, /open: must be of type number/);
  });
});
