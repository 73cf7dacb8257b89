import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleDeadLetter } from '@perpflow/contracts';
import { redriveDecision } from './redrive.js';

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
      'not-raw',
    );
  });
});
