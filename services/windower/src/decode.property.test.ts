import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeadLetter, DeadLetterSchema, sampleAlignedBar } from '@perpflow/contracts';
import { deadLetterToMessage, MAX_DEAD_LETTER_MESSAGE_BYTES } from '@perpflow/kafka';
import { createRegistry } from '@perpflow/metrics';
import { createLogger } from '@perpflow/runtime';
import fc from 'fast-check';
import type { Batch } from 'kafkajs';
import type { ObjectStore } from './adapters/s3.js';
import { WindowStore } from './adapters/window-store.js';
import { createWindowerMetrics } from './metrics.js';
import { WindowerPipeline } from './pipeline.js';

const TOPIC = 'perpflow.aligned.bar.v1';
const T0 = Date.UTC(2024, 2, 1);
const NOW = T0 + 2 * 86_400_000;
const bar = (i: number) =>
  sampleAlignedBar({ eventTimeMs: T0 + i * 60_000, knownAtMs: T0 + (i + 1) * 60_000 + 500 });
const deep = (d: number, open: string, close: string) => open.repeat(d) + close.repeat(d);

class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  async put(key: string, body: Uint8Array) {
    this.objects.set(key, body);
  }
  async get(key: string) {
    return this.objects.get(key) ?? null;
  }
  async exists(key: string) {
    return this.objects.has(key);
  }
  async list(prefix: string) {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix));
  }
  async delete(key: string) {
    this.objects.delete(key);
  }
}

function setup() {
  const metrics = createWindowerMetrics(createRegistry('windower-decode-test'), () => NOW);
  const letters: DeadLetter[] = [];
  const pipeline = new WindowerPipeline({
    consumer: { async commitOffsets() {}, pause() {}, resume() {} },
    deadLetters: {
      async send(l) {
        letters.push(...l);
      },
    },
    prefix: 'ds',
    liveVersion: null,
    versionPin: { pin: async () => undefined },
    windows: new WindowStore(new MemoryStore(), 'ds', 'test'),
    metrics,
    logger: createLogger({ service: 'windower-test', level: 'silent' }),
    now: () => NOW,
    options: {
      topic: TOPIC,
      flushIntervalMs: 0,
      allowedLatenessMs: 0,
      maxBufferedRows: 1_000_000,
      windowIdleMs: 60_000,
      retryMaxDelayMs: 50,
      freshnessMaxSeries: 1,
    },
  });
  return { pipeline, metrics, letters };
}

interface Raw {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

const hostile: fc.Arbitrary<Raw> = fc.record({
  key: fc.oneof(
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.integer({ min: 1_000, max: 200_000 }).map((n) => Buffer.from(`${'k'.repeat(n)}|X`)),
  ),
  value: fc.oneof(
    fc.constant(null),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
    fc.integer({ min: 1, max: 30_000 }).map((d) => Buffer.from(`{"open":${deep(d, '[', ']')}}`)),
    fc.integer({ min: 1, max: 12_000 }).map((d) => Buffer.from(`{"open":${deep(d, '{"a":', '}')}}`)),
    fc
      .integer({ min: 60_000, max: 200_000 })
      .map((n) => Buffer.from(JSON.stringify({ ...bar(0), symbol: 'x'.repeat(n) }))),
    fc
      .constantFrom('1e400', '9'.repeat(400))
      .map((n) => Buffer.from(JSON.stringify(bar(0)).replace('"close":', `"close":${n},"c":`))),
    fc.nat({ max: 50 }).map((i) => Buffer.from(JSON.stringify(bar(i)))),
  ),
  headers: fc.oneof(
    fc.dictionary(
      fc.string({ maxLength: 20 }),
      fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
      { maxKeys: 4 },
    ),
    fc.integer({ min: 1_000, max: 100_000 }).map((n) => ({ big: Buffer.from('h'.repeat(n)) })),
  ),
});

const asBatch = (raws: Raw[]): Batch =>
  ({
    topic: TOPIC,
    partition: 0,
    messages: raws.map((r, i) => ({ ...r, offset: String(i), timestamp: '0', attributes: 0 })),
  }) as unknown as Batch;

describe('the windower decode path on hostile input', () => {
  it('never throws; every record becomes a bar in the book or one bounded dead letter', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostile, { minLength: 1, maxLength: 5 }), async (raws) => {
        const { pipeline, metrics, letters } = setup();
        pipeline.handleBatch(asBatch(raws));
        await pipeline.flush(true);
        const barsIn = (await metrics.barsIn.get()).values.reduce((s, v) => s + v.value, 0);
        assert.equal(barsIn + letters.length, raws.length);
        assert.equal(new Set(letters.map((l) => l.source.offset)).size, letters.length);
        for (const l of letters) {
          const bytes = Buffer.byteLength(deadLetterToMessage(l, 'windower').value as string);
          assert.ok(bytes <= MAX_DEAD_LETTER_MESSAGE_BYTES, `dead letter of ${bytes} bytes`);
          DeadLetterSchema.parse(l);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('dead-letters a 5,000-deep record and writes the bars around it', async () => {
    const { pipeline, metrics, letters } = setup();
    const good = (i: number) => ({ key: null, value: Buffer.from(JSON.stringify(bar(i))), headers: {} });
    pipeline.handleBatch(
      asBatch([
        good(0),
        {
          key: null,
          value: Buffer.from(
            JSON.stringify(bar(1)).replace('"open":', `"open":${deep(5_000, '[', ']')},"x":`),
          ),
          headers: {},
        },
        good(1),
      ]),
    );
    await pipeline.flush(true);
    assert.deepEqual(
      letters.map((l) => [l.source.offset, l.ruleId]),
      [['1', 'contract.type']],
    );
    assert.equal(
      (await metrics.rowsWritten.get()).values.reduce((s, v) => s + v.value, 0),
      2,
    );
  });
});
