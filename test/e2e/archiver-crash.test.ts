/**
 * The archiver exactly once across crashes, on the real Kafka and S3.
 * ARCHIVER_CRASH_AT=<step> (TEST ONLY) SIGKILLs the process the first time it reaches
 * a step of a flush: after the ledger put, the first object put, the first manifest
 * put, the first index put, the offset commit (a flush's objects go at once: the others
 * may be one step behind or ahead). More records are produced while it is
 * down, and it restarts with a different rotation limit (so a range decided anew would
 * give other keys): every offset must be in exactly one indexed object, no object
 * outside the indexes (no orphan a reader could count twice), every manifest's
 * sha256 equal to its object's, and the ledger a gap-free chain of ranges.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sampleCandle } from '@perpflow/contracts';
import { parseLedgerEntry } from '@perpflow/archive';
import { archivedIds, produceToPartition, readArchive } from '../src/archive-io.js';
import { deletePrefix, getBytes, testS3 } from '../src/dataset-io.js';
import { freePort, STACK, startService, stopService, uniqueName, waitFor } from '../src/harness.js';
import { createTestTopic, deleteTestTopics, testKafka } from '../src/kafka-io.js';

const T = Date.UTC(2024, 2, 1, 12, 0);

function batch(from: number, n: number) {
  return Array.from({ length: n }, (_, j) => {
    const i = from + j;
    if (i % 7 === 6) return { key: 'x|y', value: Buffer.from([0xff, i, 0x00]) }; // garbage: exchange=_invalid, day of Kafka time
    const exchange = i % 2 === 0 ? 'binanceusdm' : 'okx';
    const t = T + i * 60_000;
    const c = sampleCandle({ exchange, eventTimeMs: t, openTimeMs: t, receivedAtMs: t + 60_050, volume: i });
    return {
      key: `${exchange}|BTC/USDT:USDT`,
      value: JSON.stringify(c),
      headers: { n: Buffer.from(String(i)) },
    };
  });
}

const N1 = 12; // offsets 0..11: binanceusdm, okx, garbage (6) → 3 objects in the first flush
const N2 = 9;
const STEPS = [
  'after-ledger-put',
  'after-object-put',
  'after-manifest-put',
  'after-index-put',
  'after-commit',
];
/**
 * [fewest, most] of each at the crash. A flush's three objects go at once, each
 * object → manifest → index, so the steps of the other two may have landed by the
 * time the first reaches the step (never a later step than their own order allows).
 */
type Range = readonly [number, number];
const EXPECTED_AT_CRASH: Record<
  string,
  { ledgers: Range; objects: Range; manifests: Range; indexes: Range; committed: string }
> = {
  'after-ledger-put': {
    ledgers: [1, 1],
    objects: [0, 0],
    manifests: [0, 0],
    indexes: [0, 0],
    committed: '-1',
  },
  'after-object-put': {
    ledgers: [1, 1],
    objects: [1, 3],
    manifests: [0, 0],
    indexes: [0, 0],
    committed: '-1',
  },
  'after-manifest-put': {
    ledgers: [1, 1],
    objects: [1, 3],
    manifests: [1, 3],
    indexes: [0, 0],
    committed: '-1',
  },
  'after-index-put': {
    ledgers: [1, 1],
    objects: [1, 3],
    manifests: [1, 3],
    indexes: [1, 3],
    committed: '-1',
  },
  'after-commit': {
    ledgers: [1, 1],
    objects: [3, 3],
    manifests: [3, 3],
    indexes: [3, 3],
    committed: String(N1),
  },
};

async function committedOffset(groupId: string, topic: string): Promise<string> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return t?.partitions.find((p) => p.partition === 0)?.offset ?? '-1';
  } finally {
    await admin.disconnect();
  }
}

describe('archiver: SIGKILL at each step of a flush, then restart', { timeout: 900_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const prefixes: string[] = [];
  const topics: string[] = [];

  after(async () => {
    for (const p of prefixes) await deletePrefix(client, p);
    await deleteTestTopics(kafka, topics);
  });

  for (const step of STEPS)
    it(`crash ${step}: after restart every offset is archived exactly once, no orphan`, async () => {
      const prefix = uniqueName('e2e-arch-crash');
      const topic = uniqueName('e2e-arch-crash');
      prefixes.push(prefix);
      topics.push(topic);
      await createTestTopic(kafka, topic);
      const port = await freePort();
      const env = {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        S3_ENDPOINT: STACK.s3Endpoint,
        S3_BUCKET: STACK.s3Bucket,
        S3_PREFIX: prefix,
        ARCHIVER_TOPICS: `ohlcv=${topic}`,
        ARCHIVER_GROUP_ID: uniqueName('e2e-arch-crash'),
        ARCHIVER_MAX_OBJECT_AGE_MS: '500',
        ARCHIVER_SESSION_TIMEOUT_MS: '6000',
        METRICS_PORT: String(port),
      };
      await produceToPartition(kafka, topic, 0, batch(0, N1));
      const crashing = await startService({
        name: `archiver-crash-${step}`,
        workspace: 'services/archiver',
        env: { ...env, ARCHIVER_CRASH_AT: step },
        readyPort: null,
      });
      const exit = await Promise.race([
        crashing.exited,
        new Promise<string>((r) => setTimeout(() => r('still running'), 90_000)),
      ]);
      if (exit === 'still running') await stopService(crashing, 'SIGKILL');
      assert.equal(exit, 'SIGKILL', `the archiver should have killed itself at ${step}`);
      assert.match(crashing.log(), new RegExp(`"step":"${step}".*ARCHIVER_CRASH_AT reached`));

      const atCrash = await readArchive(client, prefix);
      const found = {
        ledgers: atCrash.ledgers.length,
        objects: atCrash.listedObjects.length,
        manifests: atCrash.listedManifests.length,
        indexes: atCrash.indexes.length,
      };
      const want = EXPECTED_AT_CRASH[step]!;
      for (const what of ['ledgers', 'objects', 'manifests', 'indexes'] as const) {
        const [least, most] = want[what];
        assert.ok(
          found[what] >= least && found[what] <= most,
          `state at the crash ${step}: ${what} ${found[what]}, expected ${least}–${most} (${JSON.stringify(found)})`,
        );
      }
      assert.equal(
        await committedOffset(env.ARCHIVER_GROUP_ID, topic),
        want.committed,
        `committed at ${step}`,
      );
      // Each step after its own predecessor: a manifest only beside its object, an index entry
      // only for a manifest on S3.
      for (const m of atCrash.listedManifests)
        assert.ok(
          atCrash.listedObjects.includes(m.replace(/\.manifest\.json$/, '.parquet')),
          `${m}: its object`,
        );
      for (const o of atCrash.indexed) assert.ok(o.shaOk, `${o.key}: indexed with its manifest's sha256`);

      await produceToPartition(kafka, topic, 0, batch(N1, N2));
      // Another rotation limit: a range decided anew would cut other objects.
      const archiver = await startService({
        name: `archiver-crash-${step}-restart`,
        workspace: 'services/archiver',
        env: { ...env, ARCHIVER_MAX_OBJECT_RECORDS: '5' },
        readyPort: port,
        readyTimeoutMs: 90_000,
      });
      try {
        await waitFor(
          'every offset committed after the restart',
          async () => (await committedOffset(env.ARCHIVER_GROUP_ID, topic)) === String(N1 + N2),
          120_000,
          500,
        );
        const stored = await readArchive(client, prefix);
        const ids = archivedIds(stored).sort((a, b) => Number(a.split('/')[2]) - Number(b.split('/')[2]));
        assert.deepEqual(
          ids,
          Array.from({ length: N1 + N2 }, (_, i) => `${topic}/0/${i}`),
          'each offset exactly once (no gap, no duplicate)',
        );
        assert.deepEqual(
          stored.indexed.map((o) => o.key).sort(),
          stored.listedObjects,
          'no object outside the indexes',
        );
        assert.equal(stored.listedManifests.length, stored.listedObjects.length);
        for (const o of stored.indexed) assert.ok(o.shaOk, `manifest sha256 of ${o.key}`);
        const ranges = [];
        for (const k of stored.ledgers) ranges.push(parseLedgerEntry(await getBytes(client, k)));
        ranges.sort((a, b) => Number(a.firstOffset) - Number(b.firstOffset));
        let next = 0;
        for (const r of ranges) {
          assert.equal(Number(r.firstOffset), next, 'ledger ranges are a gap-free chain');
          next = Number(r.lastOffset) + 1;
        }
        assert.equal(next, N1 + N2);
        assert.deepEqual(
          [ranges[0]!.firstOffset, ranges[0]!.lastOffset],
          ['0', String(N1 - 1)],
          'the crashed flush kept its range',
        );
        const replayed = /ledger entry found/.test(archiver.log());
        assert.equal(
          replayed,
          step !== 'after-commit',
          'the restart repeats the crashed range from its ledger entry',
        );
      } finally {
        await stopService(archiver);
      }
    });
});
