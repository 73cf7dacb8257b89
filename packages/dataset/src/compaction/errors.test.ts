import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRetriable, PerpflowError } from '@perpflow/contracts';
import { CompactionInputError, CompactionSourceChanged } from './month.js';

describe('compaction errors belong to the one error family', () => {
  it('retry() retries a changed source and gives up on bad input (isRetriable reads the family)', () => {
    const changed = new CompactionSourceChanged('day 2024-03-02 was rewritten while compacting');
    assert.ok(changed instanceof PerpflowError);
    assert.equal(isRetriable(changed), true);
    assert.equal(changed.name, 'CompactionSourceChanged');
    assert.equal(isRetriable(new CompactionInputError('no windows')), false);
  });
});
