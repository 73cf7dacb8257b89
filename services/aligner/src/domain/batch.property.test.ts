import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAlignConfig } from '@perpflow/align';
import { DeadLetterSchema, sampleCandle, streamKey, TOPICS } from '@perpflow/contracts';
import { MAX_DEAD_LETTER_MESSAGE_BYTES } from '@perpflow/kafka';
import { parseQualityConfig } from '@perpflow/quality';
import fc from 'fast-check';
import { type ConsumedMessage, runBatch } from './batch.js';
import { createPartitionEngine } from './engine.js';

const T0 = Date.UTC(2024, 2, 1);
const config = { quality: parseQualityConfig({}), align: parseAlignConfig({ allowedLatenessMs: 0 }) };
const good = (i: number) =>
  sampleCandle({
    openTimeMs: T0 + i * 60_000,
    eventTimeMs: T0 + i * 60_000,
    receivedAtMs: T0 + i * 60_000 + 61_000,
  });
const KEY = streamKey(good(0).exchange, good(0).symbol);

const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);

/** Values a hostile or broken producer can put in a raw topic. */
const hostileValue: fc.Arbitrary<Buffer | null> = fc.oneof(
  fc.constant(null),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), // arbitrary bytes, invalid UTF-8
  fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
  fc.integer({ min: 1, max: 30_000 }).map((d) => Buffer.from(`{"open":${deep(d, '[', ']')}}`)),
  fc.integer({ min: 1, max: 12_000 }).map((d) => Buffer.from(`{"open":${deep(d, '{"a":', '}')}}`)),
  fc
    .integer({ min: 1, max: 20_000 })
    .map((d) => Buffer.from(JSON.stringify({ ...good(0), symbol: '['.repeat(d) }))),
  fc
    .integer({ min: 60_000, max: 200_000 })
    .map((n) => Buffer.from(JSON.stringify({ ...good(0), exchange: 'x'.repeat(n) }))),
  fc
    .constantFrom('1e400', '-1e400', '9'.repeat(400), `0.${'0'.repeat(400)}1`)
    .map((n) => Buffer.from(JSON.stringify(good(0)).replace('"close":', `"close":${n},"c":`))),
  fc.nat({ max: 50 }).map((i) => Buffer.from(JSON.stringify(good(i)))),
);

const hostileKey: fc.Arbitrary<string | null> = fc.oneof(
  fc.constant(null),
  fc.constant(KEY),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: 1_000, max: 200_000 }).map((n) => `${'k'.repeat(n)}|X`),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('utf8')),
);

const hostileHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), { maxKeys: 5 }),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => ({ big: 'h'.repeat(n), small: '1' })),
  fc
    .integer({ min: 10, max: 2_000 })
    .map((n) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}-${'n'.repeat(20)}`, 'v'.repeat(20)])),
    ),
);

const message: fc.Arbitrary<Omit<ConsumedMessage, 'offset'>> = fc.record({
  key: hostileKey,
  value: hostileValue,
  headers: hostileHeaders,
});

describe('the aligner decode path (runBatch) on hostile input', () => {
  it('never throws; every message becomes an engine input or exactly one bounded dead letter', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), (msgs) => {
        const engine = createPartitionEngine(config, null);
        const messages = msgs.map((m, i) => ({ ...m, offset: String(i) }));
        const r = runBatch(
          engine,
          { topic: TOPICS.raw.ohlcv, partition: 0, feed: 'ohlcv', nowMs: T0 + 3_600_000, messages },
          'aligner',
        );
        // Contract dead letters come first, one per rejected message, in offset order.
        const contract = r.deadLetters.slice(0, r.contractRules.length);
        const taken = r.output.rejected.length + (messages.length - r.contractRules.length);
        assert.ok(taken >= r.output.rejected.length);
        const offsets = new Set<string>();
        for (const [i, dl] of contract.entries()) {
          const bytes = Buffer.byteLength(dl.value as string);
          assert.ok(bytes <= MAX_DEAD_LETTER_MESSAGE_BYTES, `dead letter of ${bytes} bytes`);
          const letter = DeadLetterSchema.parse(JSON.parse(dl.value as string));
          assert.equal(letter.ruleId, r.contractRules[i]);
          assert.match(letter.ruleId, /^contract\./);
          offsets.add(letter.source.offset);
        }
        assert.equal(offsets.size, r.contractRules.length, 'one dead letter per rejected message');
        for (const m of messages)
          if (m.value === null || m.key !== KEY)
            assert.ok(offsets.has(m.offset), `offset ${m.offset} not quarantined`);
        for (const dl of r.deadLetters.slice(r.contractRules.length))
          assert.ok(Buffer.byteLength(dl.value as string) <= MAX_DEAD_LETTER_MESSAGE_BYTES);
      }),
      { numRuns: 150 },
    );
  });

  it('dead-letters a 5,000-deep record as contract.type and aligns the good records around it', () => {
    const engine = createPartitionEngine(config, null);
    const messages: ConsumedMessage[] = [
      { offset: '0', key: KEY, value: Buffer.from(JSON.stringify(good(0))), headers: {} },
      { offset: '1', key: KEY, value: Buffer.from(`{"open":${deep(5_000, '[', ']')}}`), headers: {} },
      { offset: '2', key: KEY, value: Buffer.from(JSON.stringify(good(1))), headers: {} },
      { offset: '3', key: KEY, value: Buffer.from(JSON.stringify(good(2))), headers: {} },
    ];
    const r = runBatch(
      engine,
      { topic: TOPICS.raw.ohlcv, partition: 0, feed: 'ohlcv', nowMs: T0 + 3_600_000, messages },
      'aligner',
    );
    assert.equal(r.deadLetters.length, 1);
    const letter = DeadLetterSchema.parse(JSON.parse(r.deadLetters[0]!.value as string));
    assert.equal(letter.source.offset, '1');
    assert.equal(letter.ruleId, r.contractRules[0]);
    assert.match(letter.message, /open: must be of type number/);
    assert.deepEqual(
      r.bars.map((b) => b.eventTimeMs),
      [T0, T0 + 60_000, T0 + 120_000],
    );
  });

  it('dead-letters a record whose key is not its exchange|symbol as contract.key', () => {
    const engine = createPartitionEngine(config, null);
    const other = { ...good(1), symbol: 'ETH/USDT:USDT' };
    const messages: ConsumedMessage[] = [
      { offset: '0', key: KEY, value: Buffer.from(JSON.stringify(good(0))), headers: {} },
      { offset: '1', key: KEY, value: Buffer.from(JSON.stringify(other)), headers: {} },
      { offset: '2', key: null, value: Buffer.from(JSON.stringify(good(1))), headers: {} },
      { offset: '3', key: KEY, value: Buffer.from(JSON.stringify(good(2))), headers: {} },
    ];
    const r = runBatch(
      engine,
      { topic: TOPICS.raw.ohlcv, partition: 0, feed: 'ohlcv', nowMs: T0 + 3_600_000, messages },
      'aligner',
    );
    assert.deepEqual(r.contractRules, ['contract.key', 'contract.key']);
    const letters = r.deadLetters.map((m) => DeadLetterSchema.parse(JSON.parse(m.value as string)));
    assert.deepEqual(
      letters.map((l) => [l.source.offset, l.ruleId]),
      [
        ['1', 'contract.key'],
        ['2', 'contract.key'],
      ],
    );
    assert.match(letters[0]!.message, /"binanceusdm\|ETH\/USDT:USDT"/);
    assert.match(letters[1]!.message, /message key missing/);
  });
});
