/**
 * Archiver fault scenarios (npm run test:faults): records are produced without pause
 * to a 3-partition raw topic and a dead-letter topic (some of them garbage) while the
 * archiver is SIGKILLed twice, or while S3 is stopped for 10 s. Afterwards every
 * produced offset must be in exactly one indexed archive object and no object may lie
 * outside the indexes. Rows go to the fault table (.data/test-results/archiver-faults-table.json).
 * Kill points come from FAULTS_SEED (printed).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sampleCandle } from '@perpflow/contracts';
import type { Kafka } from 'kafkajs';
import { archivedIds, readArchive } from '../src/archive-io.js';
import { deletePrefix, testS3 } from '../src/dataset-io.js';
import {
  freePort,
  type ServiceProcess,
  STACK,
  sleep,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { createTestTopic, deleteTestTopics, testKafka } from '../src/kafka-io.js';
import { seededRandom, stackServer } from './src/pipeline.js';
import { formatRow, type ScenarioRow, TABLE_HEADER, writeTable } from './src/table.js';

const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1_000_000));
const rand = seededRandom(SEED);
const PRODUCE_MS = 20_000;
const EXCHANGES = ['binanceusdm', 'bybit', 'okx'];

/** Produces batches every 100 ms until stopped; returns when the last batch is acknowledged. */
function produceContinuously(kafka: Kafka, raw: string, dlq: string): { stop: () => Promise<void> } {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let running = true;
  let i = 0;
  const done = (async () => {
    await producer.connect();
    while (running) {
      const messages = Array.from({ length: 20 }, () => {
        const n = i++;
        const exchange = EXCHANGES[n % 3]!;
        const value =
          n % 25 === 24
            ? Buffer.from([0xff, n & 255, 0]) // garbage: archived under exchange=_invalid
            : JSON.stringify(sampleCandle({ exchange: exchange as never, volume: n }));
        return { key: `${exchange}|S${n % 11}/USDT:USDT`, value };
      });
      await producer.send({ topic: raw, messages });
      await producer.send({ topic: dlq, messages: [{ key: 'x|y', value: `{"n":${i}}` }] });
      await sleep(100);
    }
    await producer.disconnect();
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function producedIds(kafka: Kafka, topics: string[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ids: string[] = [];
    for (const topic of topics)
      for (const p of await admin.fetchTopicOffsets(topic))
        for (let o = BigInt(p.low); o < BigInt(p.high); o++) ids.push(`${topic}/${p.partition}/${o}`);
    return ids;
  } finally {
    await admin.disconnect();
  }
}

async function committedAll(kafka: Kafka, groupId: string, topics: string[]): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [c] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const e of ends)
        if (c?.partitions.find((p) => p.partition === e.partition)?.offset !== e.high) return false;
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

describe(`archiver fault scenarios (FAULTS_SEED=${SEED})`, { timeout: 900_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const prefixes: string[] = [];
  const topics: string[] = [];
  const rows: ScenarioRow[] = [];

  after(async () => {
    for (const p of prefixes) await deletePrefix(client, p);
    await deleteTestTopics(kafka, topics);
    console.log(`\narchiver fault table (FAULTS_SEED=${SEED})\n${TABLE_HEADER}`);
    for (const r of rows) console.log(formatRow(r));
    console.log(`written to ${writeTable(rows, SEED, 'archiver-faults-table.json')}`);
  });

  async function run(
    scenario: string,
    fault: (ctx: { restart: () => Promise<void>; kill: () => Promise<void> }) => Promise<string>,
  ): Promise<void> {
    const prefix = uniqueName(`faults-${scenario}`);
    const raw = uniqueName('faults-arch-raw');
    const dlq = uniqueName('faults-arch-dlq');
    prefixes.push(prefix);
    topics.push(raw, dlq);
    await createTestTopic(kafka, raw, 3);
    await createTestTopic(kafka, dlq, 1);
    const port = await freePort();
    const env = {
      KAFKA_BROKERS: STACK.kafkaBrokers,
      S3_ENDPOINT: STACK.s3Endpoint,
      S3_BUCKET: STACK.s3Bucket,
      S3_PREFIX: prefix,
      ARCHIVER_TOPICS: `ohlcv=${raw},dead_letter=${dlq}`,
      ARCHIVER_GROUP_ID: uniqueName(`faults-${scenario}`),
      ARCHIVER_MAX_OBJECT_AGE_MS: '700',
      ARCHIVER_MAX_OBJECT_RECORDS: '150',
      ARCHIVER_SESSION_TIMEOUT_MS: '6000',
      ARCHIVER_S3_RETRY_MAX_DELAY_MS: '1000',
      METRICS_PORT: String(port),
    };
    const start = () =>
      startService({
        name: `archiver-${scenario}`,
        workspace: 'services/archiver',
        env,
        readyPort: port,
        readyTimeoutMs: 90_000,
      });
    let proc: ServiceProcess = await start();
    const producing = produceContinuously(kafka, raw, dlq);
    let note: string;
    try {
      note = await fault({
        kill: async () => {
          assert.equal(await stopService(proc, 'SIGKILL'), 'SIGKILL');
        },
        restart: async () => {
          proc = await start();
        },
      });
    } finally {
      await producing.stop();
    }
    try {
      await waitFor(
        'every offset committed',
        async () => committedAll(kafka, env.ARCHIVER_GROUP_ID, [raw, dlq]),
        180_000,
        1_000,
      );
      const want = await producedIds(kafka, [raw, dlq]);
      const stored = await readArchive(client, prefix);
      const got = archivedIds(stored);
      const unique = new Set(got);
      const wanted = new Set(want);
      const row: ScenarioRow = {
        scenario,
        expected: want.length,
        found: [...unique].filter((id) => wanted.has(id)).length,
        duplicated: got.length - unique.size,
        lost: want.filter((id) => !unique.has(id)).length,
        deadLetters: {},
        note: `${note}; ${stored.indexed.length} objects, ${stored.ledgers.length} ledger entries`,
      };
      rows.push(row);
      console.log(`${TABLE_HEADER}\n${formatRow(row)}`);
      assert.equal(row.lost, 0, 'lost');
      assert.equal(row.duplicated, 0, 'duplicated');
      assert.equal(row.found, row.expected);
      assert.ok(!got.some((id) => !wanted.has(id)), 'nothing archived that was not produced');
      assert.deepEqual(
        stored.indexed.map((o) => o.key).sort(),
        stored.listedObjects,
        'no object outside the indexes',
      );
      for (const o of stored.indexed) assert.ok(o.shaOk, `manifest sha256 of ${o.key}`);
    } finally {
      await stopService(proc);
    }
  }

  it('kill-archiver: SIGKILL twice while records flow, restart each time: every offset archived once', async () => {
    await run('kill-archiver', async ({ kill, restart }) => {
      const at = [0.15 + rand() * 0.25, 0.5 + rand() * 0.25].map((f) => Math.round(f * PRODUCE_MS));
      let t = 0;
      for (const ms of at) {
        await sleep(ms - t);
        t = ms;
        await kill();
        await restart();
      }
      await sleep(Math.max(0, PRODUCE_MS - t));
      return `killed at ${at.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}`;
    });
  });

  it('s3-outage-archiver: S3 stopped 10 s while records flow: every offset archived once', async () => {
    await run('s3-outage-archiver', async () => {
      await sleep(PRODUCE_MS / 4);
      const stop = stackServer('s3', 'stop');
      assert.equal(stop.status, 0, stop.output);
      try {
        await sleep(10_000);
      } finally {
        const up = stackServer('s3', 'start');
        assert.equal(up.status, 0, up.output);
      }
      await sleep(PRODUCE_MS / 2);
      return 'S3 down 10 s';
    });
  });
});
