/**
 * The aligner's crash table (docs/ARCHITECTURE.md ④) on the real Kafka and Redis: the
 * process SIGKILLs itself at one step of a batch (test-only ALIGNER_CRASH_AT), is
 * restarted, and then every bar identity (eventTimeMs, revision) on the aligned topic
 * has one content, no bar is missing, and the last revision of every bar equals an
 * uncrashed in-process run of the aligner's engine over the same records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AlignedBar,
  type Feed,
  sampleCandle,
  sampleLiquidation,
  sampleOpenInterest,
} from '@perpflow/contracts';
import { TOPICS } from '../src/harness.js';
import { loadConfig, loadEngineConfig } from '../../services/aligner/src/config.js';
import { createPartitionEngine } from '../../services/aligner/src/domain/engine.js';
import type { EngineInput } from '../../services/aligner/src/domain/engine-types.js';
import {
  freePort,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import {
  ensurePipelineTopics,
  produceRaw,
  readTopic,
  setGroupOffsets,
  testKafka,
  topicEndOffsets,
  waitGroupCaughtUp,
} from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 3, 1);
const N = 300;
const EX = 'binanceusdm';
const STEPS = ['after-log-append', 'after-produce', 'after-snapshot', 'before-commit'] as const;

function inputsOf(symbol: string): { feed: Feed; record: EngineInput<number>['record'] }[] {
  const out: { feed: Feed; record: EngineInput<number>['record'] }[] = [];
  for (let i = 0; i < N; i++) {
    const t = T0 + i * TF;
    const close = 100 + 5 * Math.sin(i / 9);
    out.push({
      feed: 'ohlcv',
      record: sampleCandle({
        exchange: EX,
        symbol,
        openTimeMs: t,
        eventTimeMs: t,
        receivedAtMs: t + 61_000,
        open: 100,
        high: Math.max(100, close) + 1,
        low: Math.min(100, close) - 1,
        close,
        volume: 10 + (i % 11),
        source: 'backfill',
      }),
    });
  }
  for (let k = 0; k < N / 5; k++) {
    const t = T0 + k * 5 * TF + 30_000;
    out.push({
      feed: 'open_interest',
      record: sampleOpenInterest({
        exchange: EX,
        symbol,
        eventTimeMs: t,
        receivedAtMs: t + 100,
        openInterest: 1_000 + k,
        source: 'backfill',
      }),
    });
  }
  for (let k = 0; k < N / 7; k++) {
    const t = T0 + k * 7 * TF + 15_000;
    out.push({
      feed: 'liquidation',
      record: sampleLiquidation({
        exchange: EX,
        symbol,
        eventTimeMs: t,
        receivedAtMs: t + 50,
        side: k % 2 ? 'buy' : 'sell',
        price: 100,
        amount: 1 + k,
        source: 'backfill',
      }),
    });
  }
  return out;
}

/** eventTimeMs → last revision of an uncrashed in-process run (order-independent). */
function reference(inputs: { feed: Feed; record: EngineInput<number>['record'] }[]): Map<number, AlignedBar> {
  const engine = createPartitionEngine(
    loadEngineConfig(loadConfig({ ALIGNER_ALLOWED_LATENESS_MS: '0' })),
    null,
  );
  const out = engine.apply(
    inputs.map((x, i) => ({ ...x, ref: i })),
    T0 + 30 * 86_400_000,
  );
  const last = new Map<number, AlignedBar>();
  for (const b of out.bars)
    if ((last.get(b.eventTimeMs)?.revision ?? -1) < b.revision) last.set(b.eventTimeMs, b);
  return last;
}

describe('aligner crash table on Kafka and Redis', { timeout: 600_000 }, () => {
  const kafka = testKafka();
  let aligner: ServiceProcess | null = null;
  before(async () => {
    await ensurePipelineTopics();
  });
  after(async () => {
    if (aligner) await stopService(aligner, 'SIGKILL');
  });

  for (const step of STEPS)
    it(`SIGKILL ${step} (3rd batch to reach it), restart: one content per identity, every bar, last revisions as uncrashed`, async () => {
      const symbol = `C${Date.now().toString(36).toUpperCase()}/USDT:USDT`;
      const key = `${EX}|${symbol}`;
      const group = uniqueName(`e2e-aligner-crash-${step}`);
      const port = await freePort();
      const inputs = inputsOf(symbol);
      // The group starts at the topics' ends: the crash hits batches of this test's records.
      const admin = kafka.admin();
      await admin.connect();
      const rawBefore = await topicEndOffsets(admin, Object.values(TOPICS.raw));
      for (const topic of Object.values(TOPICS.raw)) {
        const ends = await admin.fetchTopicOffsets(topic);
        await setGroupOffsets(
          admin,
          group,
          topic,
          ends.map((e) => ({ partition: e.partition, offset: e.high })),
        );
      }
      await admin.disconnect();
      // Sends of 20: one Kafka record batch each, so the aligner gets many batches per topic
      // (a fetch returns whole record batches) and kafkajs interleaves the topics.
      for (const feed of ['ohlcv', 'open_interest', 'liquidation'] as const) {
        const items = inputs
          .filter((x) => x.feed === feed)
          .map((x) => ({ exchange: EX, symbol, value: x.record }));
        for (let i = 0; i < items.length; i += 20)
          await produceRaw(kafka, TOPICS.raw[feed], items.slice(i, i + 20));
      }
      const env = (crashAt: string) => ({
        KAFKA_BROKERS: STACK.kafkaBrokers,
        REDIS_URL: STACK.redisUrl,
        ALIGNER_GROUP_ID: group,
        ALIGNER_ALLOWED_LATENESS_MS: '0',
        // Small fetches: many batches per topic, interleaved; a snapshot every few batches.
        ALIGNER_FETCH_MAX_BYTES_PER_PARTITION: '16384',
        ALIGNER_SNAPSHOT_INTERVAL_RECORDS: '60',
        ALIGNER_CRASH_AT: crashAt,
        // The restarted aligner gets the partitions once the killed member's session ends
        // (30 s by default); it heartbeats within each batch, so 10 s holds under load.
        ALIGNER_SESSION_TIMEOUT_MS: '10000',
        METRICS_PORT: String(port),
        LOG_LEVEL: 'warn',
      });
      // The crash may come before /readyz answers: that run is not waited for.
      const start = (crashAt: string) =>
        startService({
          name: `aligner-crash-${step}`,
          workspace: 'services/aligner',
          env: env(crashAt),
          readyPort: crashAt === '' ? port : null,
          readyTimeoutMs: 90_000,
        });

      try {
        await crashAndCheck();
      } finally {
        // A process left by a failed assertion would align the next test's records in its own group.
        if (aligner) await stopService(aligner, 'SIGKILL');
        aligner = null;
      }

      async function crashAndCheck(): Promise<void> {
        aligner = await start(`${step}:3`);
        const first = aligner;
        assert.equal(
          await Promise.race([
            first.exited,
            new Promise((r) => setTimeout(() => r('still running'), 120_000)),
          ]),
          'SIGKILL',
          `the aligner did not reach ${step} three times`,
        );
        aligner = await start('');
        const all = new Set(
          inputs
            .filter((x) => x.feed === 'ohlcv')
            .map((x) => (x.record as { openTimeMs: number }).openTimeMs),
        );
        await waitFor(
          'every bar after the restart',
          async () => {
            const bars = (await readTopic(kafka, TOPICS.alignedBar, (k) => k === key)).map(
              (m) => JSON.parse(m.value.toString()) as AlignedBar,
            );
            return new Set(bars.map((b) => b.eventTimeMs)).size >= all.size;
          },
          120_000,
        );
        // Every input is in Kafka: commits at the topics' ends mean every revision is out.
        await waitGroupCaughtUp(kafka, group, Object.values(TOPICS.raw), rawBefore);
        await stopService(aligner!);
        aligner = null;

        const bars = (await readTopic(kafka, TOPICS.alignedBar, (k) => k === key)).map(
          (m) => JSON.parse(m.value.toString()) as AlignedBar,
        );
        const byIdentity = new Map<string, string>();
        for (const b of bars) {
          const id = `${b.eventTimeMs}/${b.revision}`;
          const content = JSON.stringify(b);
          const seen = byIdentity.get(id);
          assert.ok(seen === undefined || seen === content, `identity ${id} published with two contents`);
          byIdentity.set(id, content);
        }
        const last = new Map<number, AlignedBar>();
        for (const b of bars)
          if ((last.get(b.eventTimeMs)?.revision ?? -1) < b.revision) last.set(b.eventTimeMs, b);
        assert.deepEqual(
          [...last.keys()].sort((a, b) => a - b),
          [...all].sort((a, b) => a - b),
          'a bar is missing or extra',
        );
        const want = reference(inputs);
        for (const [t, b] of want) {
          const { revision: _a, ...w } = b;
          const { revision: _b, ...g } = last.get(t)!;
          assert.deepEqual(g, w, `bar ${new Date(t).toISOString()}`);
        }
        console.log(
          `${step}: ${bars.length} messages, ${byIdentity.size} identities, ${last.size} bars, ${bars.length - byIdentity.size} re-deliveries`,
        );
      }
    });
});
