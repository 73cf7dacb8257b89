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
