/**
 * Exactly once across crashes at every step of the windower's write path, on the
 * real Kafka and S3. WINDOWER_CRASH_AT=<step> is a TEST-ONLY setting: the process
 * SIGKILLs itself the first time it reaches that step (before/after the object put,
 * after the manifest put, before/after the offset commit). Then more bars (a
 * revision, a stale revision, a re-delivery) are produced and a clean windower is
 * started: every bar must be in S3 exactly once with its last revision, every older
 * revision exactly once in the revisions tree, manifests and index matching the bytes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AlignedBar } from '@perpflow/contracts';
import { deletePrefix, listKeys, readStoredDataset, testS3 } from '../src/dataset-io.js';
import { freePort, STACK, startService, stopService, uniqueName, waitFor } from '../src/harness.js';
import { createTestTopic, deleteTestTopics, produceRaw, testKafka } from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 2, 1, 23, 0); // two daily windows
const N = 120;
const EX = 'binanceusdm';
const REVISED_EARLY = 10;
const REVISED_LATE = 100;
const DUPLICATE = 20;

function bar(symbol: string, i: number, revision = 0): AlignedBar {
  const t = T0 + i * TF;
  const p = 50 + Math.sin(i / 5) + revision * 0.5;
  return {
    schemaVersion: 1,
    exchange: EX,
    symbol,
    timeframe: '1m',
    eventTimeMs: t,
    open: p,
    high: p + 1,
    low: p - 1,
    close: p + 0.25,
    volume: i,
    openInterest: i % 4 === 0 ? null : 100 + i,
    openInterestTimeMs: i % 4 === 0 ? null : t,
    openInterestMissing: i % 4 === 0 ? 'not_observed' : null,
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
    knownAtMs: t + TF + 500 + revision * 30_000,
    revision,
    candleFilled: false,
    openInterestStale: false,
    fundingStale: false,
  };
}

const STEPS = [
  'before-object-put',
  'after-object-put',
  'after-manifest-put',
  'before-commit',
  'after-commit',
];

/**
 * S3 and the consumer group when the process died. The first half of the bars is
 * day 1 only (23:00–23:59), so the first write is that window (object + revisions
 * object, manifest, index). `committed`: the group's offset, -1 for none.
 */
const EXPECTED_AT_CRASH: Record<
  string,
  { objects: number; manifests: number; index: number; committed: string }
> = {
  'before-object-put': { objects: 0, manifests: 0, index: 0, committed: '-1' },
  'after-object-put': { objects: 1, manifests: 0, index: 0, committed: '-1' },
  'after-manifest-put': { objects: 1, manifests: 1, index: 0, committed: '-1' },
  'before-commit': { objects: 1, manifests: 1, index: 1, committed: '-1' },
  'after-commit': { objects: 1, manifests: 1, index: 1, committed: String(N / 2 + 2) },
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

describe('windower: SIGKILL at each step of the write path, then restart', { timeout: 600_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const prefixes: string[] = [];
  const topics: string[] = [];

  after(async () => {
    for (const p of prefixes) await deletePrefix(client, p);
    await deleteTestTopics(kafka, topics);
  });

  for (const step of STEPS)
    it(`crash ${step}: after restart each bar exists exactly once, at its last revision`, async () => {
      const symbol = `C${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}/USDT:USDT`;
      const prefix = uniqueName('e2e-crash');
      const topic = uniqueName('e2e-crash-aligned');
      prefixes.push(prefix);
      topics.push(topic);
      await createTestTopic(kafka, topic);
      const port = await freePort();
      const env = {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        S3_ENDPOINT: STACK.s3Endpoint,
        S3_BUCKET: STACK.s3Bucket,
        S3_PREFIX: prefix,
        WINDOWER_TOPIC: topic,
        WINDOWER_GROUP_ID: uniqueName('e2e-crash'),
        WINDOWER_FLUSH_INTERVAL_MS: '300',
        WINDOWER_SESSION_TIMEOUT_MS: '6000',
        METRICS_PORT: String(port),
      };
      const item = (value: AlignedBar) => ({ exchange: EX, symbol, value });

      // First half: day 1 (23:00–23:59), one revision, one re-delivery.
      await produceRaw(
        kafka,
        topic,
        [
          ...Array.from({ length: N / 2 }, (_, i) => bar(symbol, i)),
          bar(symbol, REVISED_EARLY, 1),
          bar(symbol, DUPLICATE),
        ].map(item),
      );
      const crashing = await startService({
        name: `windower-crash-${step}`,
        workspace: 'services/windower',
        env: { ...env, WINDOWER_CRASH_AT: step },
        readyPort: null,
      });
      const exit = await Promise.race([
        crashing.exited,
        new Promise<string>((r) => setTimeout(() => r('still running'), 90_000)),
      ]);
      if (exit === 'still running') await stopService(crashing, 'SIGKILL');
      assert.equal(exit, 'SIGKILL', `the windower should have killed itself at ${step}`);
      assert.match(crashing.log(), new RegExp(`"step":"${step}".*WINDOWER_CRASH_AT reached`));

      // What S3 and the group hold at the crash: the step really was reached.
      const kinds = (await listKeys(client, prefix)).map((k) =>
        k.endsWith('_index.json')
          ? 'index'
          : k.endsWith('.manifest.json')
            ? 'manifest'
            : k.includes('/aligned_revisions/')
              ? 'revisions'
              : 'object',
      );
      const count = (k: string) => kinds.filter((x) => x === k).length;
      const committed = await committedOffset(env.WINDOWER_GROUP_ID, topic);
      const atCrash = {
        objects: count('object'),
        manifests: count('manifest'),
        index: count('index'),
        committed,
      };
      assert.deepEqual(atCrash, EXPECTED_AT_CRASH[step], `state at the crash ${step}`);

      // Second half while it is down: more bars, a revision, a stale revision, a re-delivery.
      await produceRaw(
        kafka,
        topic,
        [
          ...Array.from({ length: N / 2 }, (_, i) => bar(symbol, N / 2 + i)),
          bar(symbol, REVISED_LATE, 1),
          bar(symbol, REVISED_EARLY, 0),
          bar(symbol, DUPLICATE),
        ].map(item),
      );
      const windower = await startService({
        name: `windower-crash-${step}-restart`,
        workspace: 'services/windower',
        env,
        readyPort: port,
        readyTimeoutMs: 90_000,
      });
      try {
        const stored = await waitFor(
          'every bar durable after the restart',
          async () => {
            const d = await readStoredDataset(client, prefix);
            const late = d.latest.find((b) => b.eventTimeMs === T0 + REVISED_LATE * TF);
            return d.latest.length >= N && late?.revision === 1 ? d : null;
          },
          120_000,
          1_000,
        );
        const times = stored.latest.map((b) => b.eventTimeMs).sort((a, b) => a - b);
        assert.equal(new Set(times).size, times.length, 'a bar appears twice in the latest tree');
        const want = Array.from({ length: N }, (_, i) =>
          bar(symbol, i, i === REVISED_EARLY || i === REVISED_LATE ? 1 : 0),
        );
        assert.deepEqual(
          [...stored.latest].sort((a, b) => a.eventTimeMs - b.eventTimeMs),
          want,
          'every bar once, equal to what was produced, at its last revision',
        );
        assert.deepEqual(
          stored.superseded.map((b) => [b.eventTimeMs, b.revision]).sort((a, b) => a[0]! - b[0]!),
          [
            [T0 + REVISED_EARLY * TF, 0],
            [T0 + REVISED_LATE * TF, 0],
          ],
          'each older revision exactly once in the revisions tree',
        );
        assert.equal(stored.manifests.length, 2, 'one manifest per daily window');
      } finally {
        await stopService(windower);
      }
    });
});
