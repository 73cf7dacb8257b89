import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { DeadLetterSchema } from '@perpflow/contracts';
import {
  buildDeadLetter,
  type DeadLetterSource,
  deadLetterToMessage,
  MAX_DEAD_LETTER_HEADER_BYTES,
  MAX_DEAD_LETTER_KEY_BYTES,
  MAX_DEAD_LETTER_MESSAGE_BYTES,
  MAX_DEAD_LETTER_PAYLOAD_BYTES,
} from './dead-letters.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const src = (over: Partial<DeadLetterSource>): DeadLetterSource => ({
  topic: 'perpflow.raw.ohlcv.v1',
  partition: 3,
  offset: '17',
  key: 'binanceusdm|BTC/USDT:USDT',
  value: Buffer.from('{"bad":true}'),
  headers: { 'perpflow-schema': 'candle/v1' },
  ...over,
});
const build = (s: DeadLetterSource) =>
  buildDeadLetter(
    s,
    { ruleId: 'contract.type', message: 'bad', exchange: s.key, symbol: s.key },
    'aligner',
    Date.UTC(2024, 2, 1),
  );
const messageBytes = (s: DeadLetterSource) =>
  Buffer.byteLength(deadLetterToMessage(build(s), 'aligner').value as string);

describe('dead letters are bounded', () => {
  it('keeps a small record whole, with no truncated field', () => {
    const l = DeadLetterSchema.parse(build(src({})));
    assert.equal(l.key, 'binanceusdm|BTC/USDT:USDT');
    assert.equal(l.payload, '{"bad":true}');
    assert.deepEqual(l.headers, { 'perpflow-schema': 'candle/v1' });
    assert.equal(l.truncated, undefined);
  });

  it('cuts a 160 KB key to 1 KiB and records its size and sha256 (the issue #15 case: 1.1 MB before)', () => {
    const key = `${'k'.repeat(160 * 1024)}|BTC/USDT:USDT`;
    const l = DeadLetterSchema.parse(build(src({ key })));
    assert.equal(Buffer.byteLength(l.key ?? ''), MAX_DEAD_LETTER_KEY_BYTES);
    assert.deepEqual(l.truncated, { key: { bytes: Buffer.byteLength(key), sha256: sha(key) } });
    assert.ok((l.exchange ?? '').length <= 128 && (l.symbol ?? '').length <= 128);
    assert.ok(messageBytes(src({ key })) < 8 * 1024, `${messageBytes(src({ key }))} bytes`);
  });

  it('never splits a UTF-8 character when cutting a key', () => {
    const key = 'é'.repeat(MAX_DEAD_LETTER_KEY_BYTES); // 2 bytes each
    const l = build(src({ key: `x${key}` }));
    assert.equal(l.key, `x${'é'.repeat(MAX_DEAD_LETTER_KEY_BYTES / 2 - 1)}`);
  });

  it('keeps whole headers up to 16 KiB and records the originals count, size and sha256', () => {
    const headers = { a: '1', big: 'h'.repeat(100_000), b: '2' };
    const l = DeadLetterSchema.parse(build(src({ headers })));
    assert.deepEqual(l.headers, { a: '1', b: '2' });
    assert.deepEqual(l.truncated?.headers, {
      bytes: 2 + 100_003 + 2,
      count: 3,
      sha256: sha(JSON.stringify(Object.entries(headers))),
    });
  });

  it('cuts a payload over 64 KiB and records its sha256', () => {
    const value = Buffer.alloc(200_000, 0x61);
    const l = DeadLetterSchema.parse(build(src({ value })));
    assert.equal(l.payload.length, MAX_DEAD_LETTER_PAYLOAD_BYTES);
    assert.equal(l.payloadTruncated, true);
    assert.equal(l.payloadBytes, 200_000);
    assert.deepEqual(l.truncated?.payload, { bytes: 200_000, sha256: sha(value) });
  });

  it('stays under the bound, and the bound under the broker limit, when every part is at its worst', () => {
    // Control characters: each one JSON-escaped to six bytes.
    const worst = src({
      key: '\u0001'.repeat(300_000),
      value: Buffer.alloc(1_000_000, 0x01),
      headers: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`h${i}`, '\u0001'.repeat(1_000)])),
    });
    const bytes = messageBytes(worst);
    assert.ok(bytes <= MAX_DEAD_LETTER_MESSAGE_BYTES, `${bytes} > ${MAX_DEAD_LETTER_MESSAGE_BYTES}`);
    assert.ok(MAX_DEAD_LETTER_MESSAGE_BYTES < 1024 * 1024 - 64 * 1024);
    assert.ok(Object.keys(build(worst).headers).length * 1_003 <= MAX_DEAD_LETTER_HEADER_BYTES);
  });
});
