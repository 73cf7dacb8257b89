import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAlignConfig } from '@perpflow/align';
import { sampleCandle, TOPICS } from '@perpflow/contracts';
import { parseQualityConfig } from '@perpflow/quality';
import { createLogger } from '@perpflow/runtime';
import type { Batch, Consumer, Message, Producer } from 'kafkajs';
import type { PartitionSnapshot, SnapshotStore } from './adapters/snapshots.js';
import { createPartitionEngine } from './domain/engine.js';
import { createAlignerMetrics } from './metrics.js';
import { AlignerPipeline } from './pipeline.js';

const T0 = Date.UTC(2024, 2, 1);
const engineConfig = { quality: parseQualityConfig({}), align: parseAlignConfig({ allowedLatenessMs: 0 }) };

function batchOf(partition: number, firstOffset: number, count: number): Batch {
  const messages = Array.from({ length: count }, (_, i) => {
    const t = T0 + (firstOffset + i) * 60_000;
    const c = sampleCandle({ openTimeMs: t, eventTimeMs: t, receivedAtMs: t + 61_000, source: 'backfill' });
    return {
      offset: String(firstOffset + i),
      key: Buffer.from(`${c.exchange}|${c.symbol}`),
      value: Buffer.from(JSON.stringify(c)),
      headers: {},
      timestamp: '0',
      attributes: 0,
    };
  });
  return {
    topic: TOPICS.raw.ohlcv,
    partition,
    highWatermark: String(firstOffset + count),
    messages,
    lastOffset: () => String(firstOffset + count - 1),
  } as unknown as Batch;
}

describe('AlignerPipeline', () => {
  it('never produces a batch twice when kafkajs re-delivers it while its snapshot is still being saved', async () => {
    const saved = new Map<number, PartitionSnapshot>();
    let slowSave: (() => void) | null = null;
    const snapshots: SnapshotStore = {
      load: async (p) => saved.get(p) ?? null,
      save: async (p, s) => {
        // The first save hangs until released: the rebalance and re-delivery happen meanwhile.
        if (!slowSave && saved.size === 0) await new Promise<void>((r) => (slowSave = r));
        saved.set(p, JSON.parse(JSON.stringify(s)));
      },
    };
    const sent: Message[] = [];
    const producer = {
      send: async ({ topic, messages }: { topic: string; messages: Message[] }) => {
        if (topic === TOPICS.alignedBar) sent.push(...messages);
        return [];
      },
    } as unknown as Producer;
    const consumer = { commitOffsets: async () => {} } as unknown as Consumer;
    const pipeline = new AlignerPipeline({
      consumer,
      producer,
      snapshots,
      createEngine: (s) => createPartitionEngine(engineConfig, s),
      metrics: createAlignerMetrics(),
      logger: createLogger({ service: 'test', level: 'fatal' }),
      now: () => T0 + 86_400_000,
    });
    const heartbeat = async () => {};
    const first = pipeline.handleBatch(batchOf(3, 0, 10), heartbeat);
    await new Promise((r) => setTimeout(r, 20));
    pipeline.onAssignment({ [TOPICS.raw.ohlcv]: [3] }); // a rebalance while the save hangs
    const again = pipeline.handleBatch(batchOf(3, 0, 10), heartbeat); // the same records again
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(slowSave, 'the first batch is saving its snapshot');
    (slowSave as () => void)();
    await Promise.all([first, again]);
    const bars = sent.map((m) => JSON.parse(String(m.value)) as { eventTimeMs: number; revision: number });
    assert.equal(bars.length, 10, `bars produced: ${bars.length}`);
    assert.equal(new Set(bars.map((b) => `${b.eventTimeMs}:${b.revision}`)).size, 10);
    assert.equal(saved.get(3)?.offsets[TOPICS.raw.ohlcv], '10');
  });
});
