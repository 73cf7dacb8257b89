/**
 * `perpflow lineage` on the real Kafka and S3: raw records (a candle re-delivered, a
 * provisional version, open interest, a settlement, liquidations, one of them dead-lettered)
 * go through Kafka into the real archiver; the CLI, as a user runs it, names the records
 * that decided one bar, every copy with its Kafka offset and archive object, and the
 * dead letter; a corrupted archive object stops it with the object's key and both sha256.
 */
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { after, describe, it } from 'node:test';
import { sampleCandle, sampleFunding, sampleLiquidation, sampleOpenInterest } from '@perpflow/contracts';
import { buildDeadLetter, deadLetterToMessage } from '@perpflow/kafka';
import { archivedIds, type ProducedRecord, produceToPartition, readArchive } from '../src/archive-io.js';
import { deletePrefix, getBytes, testS3 } from '../src/dataset-io.js';
import { freePort, runTool, STACK, startService, stopService, uniqueName, waitFor } from '../src/harness.js';
import { createTestTopic, deleteTestTopics, testKafka } from '../src/kafka-io.js';

const MIN = 60_000;
const T = Date.UTC(2024, 2, 1, 12, 0);
const BAR = T + 5 * MIN;
const EX = 'binanceusdm';
const SYMBOL = 'BTC/USDT:USDT';
const KEY = `${EX}|${SYMBOL}`;

interface TraceJson {
  lineage: {
    ohlcv: { kept: boolean; input: { record: { volume: number; closed: boolean }; origin: Origin } }[];
    openInterest: { kept: boolean; input: { record: { openInterest: number }; origin: Origin } }[];
    fundingSettled: { input: { record: { fundingRate: number } } }[];
    liquidations: { kept: boolean; input: { record: { amount: number }; origin: Origin } }[];
  };
  deadLetters: { ruleId: string; source: { topic: string; offset: string } }[];
  rejectedInputs: number;
  scanned: { objects: number; rows: number };
  window: { manifestKey: string; manifest: unknown };
  rawThroughCheck: { status: string; findings: unknown[] };
}
interface Origin {
  topic: string;
  partition: number;
  offset: string;
  objectKey: string;
  objectSha256: string;
}

describe('perpflow lineage: one bar traced to the raw archive', { timeout: 300_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const prefix = uniqueName('e2e-lineage');
  const topics = {
    ohlcv: uniqueName('e2e-lin-ohlcv'),
    open_interest: uniqueName('e2e-lin-oi'),
    funding: uniqueName('e2e-lin-funding'),
    liquidation: uniqueName('e2e-lin-liq'),
    dead_letter: uniqueName('e2e-lin-dlq'),
  };

  after(async () => {
    await deletePrefix(client, prefix);
    await deleteTestTopics(kafka, Object.values(topics));
  });

  it('names the deciding records with their offsets and objects, the copies and the dead letter; a corrupt object stops it', async () => {
    for (const t of Object.values(topics)) await createTestTopic(kafka, t, 1);
    const json = (v: unknown) => ({ key: KEY, value: JSON.stringify(v) });
    const candle = (i: number, over = {}) =>
      sampleCandle({
        openTimeMs: T + i * MIN,
        eventTimeMs: T + i * MIN,
        receivedAtMs: T + (i + 1) * MIN + 300,
        ...over,
      });
    const produced: ProducedRecord[] = [];
    produced.push(
      ...(await produceToPartition(kafka, topics.ohlcv, 0, [
        json(candle(4)),
        json(candle(5, { closed: false, volume: 1, receivedAtMs: BAR + 30_000 })),
        json(candle(5, { volume: 7 })),
        json(candle(5, { volume: 7, receivedAtMs: BAR + MIN + 900 })),
        json(candle(6)),
      ])),
      ...(await produceToPartition(kafka, topics.open_interest, 0, [
        json(sampleOpenInterest({ eventTimeMs: BAR, receivedAtMs: BAR + 2_000, openInterest: 4242 })),
      ])),
      ...(await produceToPartition(kafka, topics.funding, 0, [
        json(
          sampleFunding({
            kind: 'settled',
            fundingTimeMs: T,
            eventTimeMs: T + 9,
            receivedAtMs: T + 500,
            fundingRate: 0.0003,
          }),
        ),
      ])),
    );
    const liq = (s: number, amount: number) =>
      sampleLiquidation({ eventTimeMs: BAR + s * 1_000, receivedAtMs: BAR + s * 1_000 + 100, amount });
    const liqs = await produceToPartition(kafka, topics.liquidation, 0, [
      json(liq(1, 1)),
      json(liq(1, 1)),
      json(liq(20, 2)),
      json(liq(30, 500)),
    ]);
    produced.push(...liqs);
    const rejected = liqs[3]!;
    const letter = deadLetterToMessage(
      buildDeadLetter(
        {
          topic: rejected.topic,
          partition: 0,
          offset: rejected.offset,
          key: KEY,
          value: rejected.value,
          headers: {},
        },
        { ruleId: 'liq.amount_outlier', message: 'amount 500 is an outlier', exchange: EX, symbol: SYMBOL },
        'aligner',
        BAR + 40_000,
      ),
      'aligner',
    );
    produced.push(
      ...(await produceToPartition(kafka, topics.dead_letter, 0, [
        { key: letter.key as string, value: letter.value as string },
      ])),
    );

    const port = await freePort();
    const archiver = await startService({
      name: 'archiver-lineage-e2e',
      workspace: 'services/archiver',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        S3_ENDPOINT: STACK.s3Endpoint,
        S3_BUCKET: STACK.s3Bucket,
        S3_PREFIX: prefix,
        ARCHIVER_TOPICS: Object.entries(topics)
          .map(([feed, topic]) => `${feed}=${topic}`)
          .join(','),
        ARCHIVER_GROUP_ID: uniqueName('e2e-lineage-archiver'),
        ARCHIVER_MAX_OBJECT_AGE_MS: '1000',
        ARCHIVER_SESSION_TIMEOUT_MS: '6000',
        METRICS_PORT: String(port),
      },
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    try {
      const want = produced.map((p) => `${p.topic}/${p.partition}/${p.offset}`).sort();
      await waitFor(
        'every produced record archived',
        async () => {
          const ids = archivedIds(await readArchive(client, prefix));
          return ids.length >= want.length ? ids : null;
        },
        120_000,
        500,
      );
    } finally {
      await stopService(archiver);
    }

    const lineage = (args: string[]) =>
      runTool(
        'services/windower',
        'src/perpflow.ts',
        ['lineage', '--exchange', EX, '--symbol', SYMBOL, '--ts', new Date(BAR).toISOString(), ...args],
        { S3_PREFIX: prefix },
      );

    const r = lineage(['--json']);
    assert.equal(r.status, 0, r.stderr);
    const t = JSON.parse(r.stdout) as TraceJson;
    const at = (o: Origin) => `${o.topic}/${o.partition}@${o.offset}`;
    assert.deepEqual(
      t.lineage.ohlcv.map((x) => [x.input.record.closed, x.input.record.volume, at(x.input.origin), x.kept]),
      [
        [true, 7, `${topics.ohlcv}/0@2`, true],
        [true, 7, `${topics.ohlcv}/0@3`, false],
      ],
    );
    assert.match(
      t.lineage.ohlcv[0]!.input.origin.objectKey,
      new RegExp(`^${prefix}/raw/feed=ohlcv/exchange=binanceusdm/date=2024-03-01/`),
    );
    assert.deepEqual(
      t.lineage.openInterest.map((x) => x.input.record.openInterest),
      [4242],
    );
    assert.deepEqual(
      t.lineage.fundingSettled.map((x) => x.input.record.fundingRate),
      [0.0003],
    );
    assert.deepEqual(
      t.lineage.liquidations.map((x) => [x.input.record.amount, at(x.input.origin), x.kept]),
      [
        [1, `${topics.liquidation}/0@0`, true],
        [1, `${topics.liquidation}/0@1`, false],
        [2, `${topics.liquidation}/0@2`, true],
      ],
    );
    assert.deepEqual(
      t.deadLetters.map((d) => [d.ruleId, d.source.topic, d.source.offset]),
      [['liq.amount_outlier', topics.liquidation, rejected.offset]],
    );
    assert.equal(t.rejectedInputs, 1);
    // No windower ran: the bar's window has no manifest, so nothing to check rawThrough against.
    assert.equal(t.window.manifest, null);
    assert.match(
      t.window.manifestKey,
      new RegExp(`^${prefix}/aligned/v1/timeframe=1m/exchange=binanceusdm/`),
    );
    assert.deepEqual([t.rawThroughCheck.status, t.rawThroughCheck.findings], ['no-manifest', []]);

    const text = lineage([]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /liquidations: event time in \[open, close\): 2 distinct, 3 copies/);
    assert.match(text.stdout, /liq\.amount_outlier \(aligner\)/);
    assert.match(text.stdout, /^window \S+\.manifest\.json: no window manifest/m);

    // A corrupt object: the trace stops, naming it and both sha256 (exit 3).
    const key = t.lineage.openInterest[0]!.input.origin.objectKey;
    const bytes = await getBytes(client, key);
    await client.send(
      new PutObjectCommand({ Bucket: STACK.s3Bucket, Key: key, Body: bytes.subarray(0, bytes.length - 4) }),
    );
    const bad = lineage([]);
    assert.equal(bad.status, 3, bad.stderr);
    assert.match(
      bad.stderr,
      new RegExp(
        `${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt: expected sha256 ${t.lineage.openInterest[0]!.input.origin.objectSha256}, found [0-9a-f]{64}`,
      ),
    );
  });
});
