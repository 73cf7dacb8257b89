import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleCandle, TOPICS } from '@perpflow/contracts';
import { headersToStrings, toMessage } from './messages.js';
import { pipelineTopics } from './topics.js';

describe('toMessage', () => {
  it('keys by exchange|symbol, carries the record as JSON and the standard headers', () => {
    const c = sampleCandle();
    const m = toMessage(c, {
      kind: 'candle',
      producer: 'exchange-ingest',
      producedAtMs: 1_709_251_300_000,
      source: 'live',
    });
    assert.equal(m.key, 'binanceusdm|BTC/USDT:USDT');
    assert.deepEqual(JSON.parse(String(m.value)), c);
    assert.deepEqual(headersToStrings(m.headers), {
      'perpflow-schema': 'candle/v1',
      'perpflow-producer': 'exchange-ingest',
      'perpflow-produced-at-ms': '1709251300000',
      'perpflow-source': 'live',
    });
  });
});

describe('headersToStrings', () => {
  it('gives each header its own value as text, record after record, whatever it gave before', () => {
    // Values of one name that repeat, change at one byte, change length, pass 64 bytes,
    // are not UTF-8, repeat across names; a repeated header's values joined; strings kept.
    const values = [
      'candle/v1',
      'candle/v1',
      'candle/v2',
      'candle/v22',
      'x'.repeat(65),
      'x'.repeat(65),
      'é€',
      '',
      'candle/v2',
    ];
    for (const [i, v] of values.entries()) {
      const bytes = Buffer.from(v);
      assert.deepEqual(
        headersToStrings({
          'perpflow-schema': bytes,
          other: Buffer.from(values[values.length - 1 - i]!),
          s: 'plain',
        }),
        { 'perpflow-schema': v, other: values[values.length - 1 - i], s: 'plain' },
        `record ${i}`,
      );
      bytes.fill(0); // the caller's buffer changes afterwards (kafkajs reuses nothing, but a text must not follow it)
      assert.equal(headersToStrings({ 'perpflow-schema': Buffer.from(v) })['perpflow-schema'], v);
    }
    const notUtf8 = Buffer.from([0xff, 0xfe, 0x41]);
    assert.equal(headersToStrings({ h: notUtf8 }).h, notUtf8.toString('utf8'));
    assert.deepEqual(headersToStrings({ h: [Buffer.from('a'), Buffer.from('b')] }), { h: 'a,b' });
    assert.deepEqual(headersToStrings({ h: undefined, g: Buffer.from('1') }), { g: '1' });
    assert.deepEqual(headersToStrings(undefined), {});
    // More names than the bound: each still gets its own value.
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`n${i}`, Buffer.from(String(i))]));
    assert.deepEqual(
      headersToStrings(many),
      Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`n${i}`, String(i)])),
    );
    assert.deepEqual(
      headersToStrings(many),
      Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`n${i}`, String(i)])),
    );
  });
});

describe('pipelineTopics', () => {
  it('lists the four raw topics, the aligned topic and the dead-letter topic once each', () => {
    const names = pipelineTopics(TOPICS, 6).map((t) => t.topic);
    assert.deepEqual(
      names.sort(),
      [...Object.values(TOPICS.raw), TOPICS.alignedBar, TOPICS.deadLetter].sort(),
    );
    assert.equal(pipelineTopics(TOPICS, 6).find((t) => t.topic === TOPICS.raw.ohlcv)?.numPartitions, 6);
  });
});
