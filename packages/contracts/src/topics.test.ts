import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FEEDS,
  feedOfTopic,
  formatRawThrough,
  MAX_RAW_POSITIONS,
  parseRawThrough,
  pipelineTopicNames,
  TOPICS,
} from './topics.js';

describe('pipelineTopicNames', () => {
  it('puts every pipeline topic under the prefix, and gives TOPICS for none', () => {
    assert.equal(pipelineTopicNames(''), TOPICS);
    const staged = pipelineTopicNames('staging.');
    assert.deepEqual(staged, {
      raw: {
        ohlcv: 'staging.perpflow.raw.ohlcv.v1',
        open_interest: 'staging.perpflow.raw.open_interest.v1',
        funding: 'staging.perpflow.raw.funding.v1',
        liquidation: 'staging.perpflow.raw.liquidation.v1',
      },
      alignedBar: 'staging.perpflow.aligned.bar.v1',
      deadLetter: 'staging.perpflow.dlq.v1',
    });
    for (const feed of FEEDS) {
      assert.equal(feedOfTopic(staged.raw[feed], staged), feed);
      // Another pipeline's topic is not a raw topic of this one, either way round.
      assert.equal(feedOfTopic(staged.raw[feed]), null);
      assert.equal(feedOfTopic(TOPICS.raw[feed], staged), null);
    }
    assert.equal(feedOfTopic(staged.alignedBar, staged), null);
  });

  it('refuses a prefix Kafka would refuse, or one too long, naming it', () => {
    for (const bad of ['staging/', 'a b.', 'é.', 'x'.repeat(65)])
      assert.throws(() => pipelineTopicNames(bad), new RegExp(`topic prefix "${bad}": letters, digits`));
  });
});

describe('perpflow-raw-through header', () => {
  it('formats sorted by topic and partition, and parses back', () => {
    const positions = [
      { topic: TOPICS.raw.open_interest, partition: 3, offset: '13' },
      { topic: TOPICS.raw.ohlcv, partition: 11, offset: '9007199254740993' },
      { topic: TOPICS.raw.ohlcv, partition: 3, offset: '0' },
    ];
    const text = formatRawThrough(positions);
    assert.equal(
      text,
      'perpflow.raw.ohlcv.v1:3:0,perpflow.raw.ohlcv.v1:11:9007199254740993,perpflow.raw.open_interest.v1:3:13',
    );
    assert.deepEqual(parseRawThrough(text), [positions[2], positions[1], positions[0]]);
    assert.deepEqual(parseRawThrough(''), []);
  });

  it('names what is wrong with a header it cannot read', () => {
    const cases: [string, RegExp][] = [
      ['perpflow.raw.ohlcv.v1:3', /is not <topic>:<partition>:<offset>/],
      ['../etc:3:1', /is not <topic>:<partition>:<offset>/],
      ['perpflow.raw.ohlcv.v1:-1:5', /is not <topic>:<partition>:<offset>/],
      ['perpflow.raw.ohlcv.v1:3:1.5', /the offset is not a whole number/],
      ['perpflow.raw.ohlcv.v1:3:12345678901234567890', /the offset is not a whole number/],
      ['perpflow.raw.ohlcv.v1:3:01', /the offset is not a whole number/],
      ['perpflow.raw.ohlcv.v1:3:1,perpflow.raw.ohlcv.v1:3:2', /perpflow\.raw\.ohlcv\.v1:3 named twice/],
      [
        Array.from({ length: MAX_RAW_POSITIONS + 1 }, (_, i) => `t:${i}:1`).join(','),
        /more than 64 positions/,
      ],
    ];
    for (const [text, error] of cases) {
      const r = parseRawThrough(text);
      assert.ok(!Array.isArray(r), text);
      assert.match(r.error, error, text);
    }
  });
});
