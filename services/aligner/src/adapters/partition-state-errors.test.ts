import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRetriable, PerpflowError } from '@perpflow/contracts';
import { StalePartitionStateError } from './partition-state.js';

describe('StalePartitionStateError', () => {
  it('is a retriable member of the error family (retry() reloads and tries again)', () => {
    const err = new StalePartitionStateError(3, 17, 'another member wrote 18');
    assert.ok(err instanceof PerpflowError);
    assert.equal(isRetriable(err), true);
    assert.equal(err.code, 'ALIGNER_STALE_STATE');
    assert.match(err.message, /^partition 3: state sequence is not 17 any more \(another member wrote 18\)/);
  });
});
