import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queueName } from './queue.js';

describe('backfill queue names', () => {
  it('one queue per exchange, per shard when sharded, under a prefix that separates deployments', () => {
    assert.equal(queueName('binanceusdm'), 'perpflow-backfill-binanceusdm');
    assert.equal(queueName('bybit', { index: 0, count: 1 }), 'perpflow-backfill-bybit');
    assert.equal(queueName('bybit', { index: 1, count: 3 }), 'perpflow-backfill-bybit-shard-1-of-3');
    assert.equal(queueName('bybit', { index: 1, count: 3 }, 'run-7'), 'run-7-bybit-shard-1-of-3');
  });
});
