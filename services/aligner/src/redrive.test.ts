import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleDeadLetter, TOPICS } from '@perpflow/contracts';
import { readDeadLetter, redriveDecision } from './redrive.js';

describe('redriveDecision', () => {
  it('re-drives matching letters from raw topics only, never truncated ones', () => {
    const l = sampleDeadLetter();
    assert.equal(redriveDecision(l, { rule: 'ohlc.high_below_low' }), 'redrive');
    assert.equal(redriveDecision(l, { rule: 'contract.json' }), 'filtered');
    assert.equal(redriveDecision(l, { symbol: 'ETH/USDT:USDT' }), 'filtered');
    assert.equal(redriveDecision(l, { rule: l.ruleId, sinceMs: l.deadLetteredAtMs + 1 }), 'filtered');
    assert.equal(redriveDecision({ ...l, payloadTruncated: true }, { rule: l.ruleId }), 'truncated');
    assert.equal(
      redriveDecision(
        { ...l, source: { topic: 'exchange:binanceusdm/fetchOHLCV', partition: 0, offset: '0' } },
        { rule: l.ruleId },
      ),
      'no-source-topic',
    );
  });

  it('re-drives a windower dead letter to the aligned topic it came from', () => {
    const l = sampleDeadLetter({
      stage: 'windower',
      ruleId: 'windower.key',
      source: { topic: TOPICS.alignedBar, partition: 2, offset: '9' },
    });
    assert.equal(redriveDecision(l, { rule: 'windower.key' }), 'redrive');
    // The aligner's letters come from raw topics only: an aligned source there is not its own.
    assert.equal(redriveDecision({ ...l, stage: 'aligner' }, { rule: 'windower.key' }), 'no-source-topic');
    assert.equal(redriveDecision({ ...l, stage: 'ingest' }, { rule: 'windower.key' }), 'no-source-topic');
  });

  it('never re-drives a letter whose key or headers were cut (it would not be the original)', () => {
    const l = sampleDeadLetter();
    const cut = { bytes: 200_000, sha256: 'a'.repeat(64) };
    assert.equal(redriveDecision({ ...l, truncated: { key: cut } }, { rule: l.ruleId }), 'truncated');
    assert.equal(
      redriveDecision({ ...l, truncated: { headers: { ...cut, count: 3 } } }, { rule: l.ruleId }),
      'truncated',
    );
  });
});

describe('readDeadLetter', () => {
  it('tells a record that is not JSON, or not a dead letter, from a dead letter', () => {
    assert.deepEqual(readDeadLetter(Buffer.from('{"truncated json')), { invalid: 'not-json' });
    assert.deepEqual(readDeadLetter(Buffer.from([0xff, 0xfe, 0x00])), { invalid: 'not-json' });
    assert.deepEqual(readDeadLetter(null), { invalid: 'not-schema' });
    assert.deepEqual(readDeadLetter(Buffer.from('{"ruleId":"x"}')), { invalid: 'not-schema' });
    const l = sampleDeadLetter();
    assert.deepEqual(readDeadLetter(Buffer.from(JSON.stringify(l))), { letter: l });
  });
});
