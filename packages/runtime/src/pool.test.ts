import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachPool } from './pool.js';

describe('forEachPool', () => {
  it('runs every item once, starting them in order, with at most `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    await forEachPool([5, 1, 4, 2, 3, 0, 6], 3, async (ms) => {
      started.push(ms);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
    });
    assert.deepEqual(started, [5, 1, 4, 2, 3, 0, 6]);
    assert.equal(most, 3);
    assert.equal(inFlight, 0);
  });

  it('runs nothing for no items, and one at a time with a limit of 1', async () => {
    let calls = 0;
    await forEachPool([], 4, async () => {
      calls++;
    });
    assert.equal(calls, 0);
    let inFlight = 0;
    let most = 0;
    await forEachPool([1, 1, 1], 1, async (ms) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
    });
    assert.equal(most, 1);
  });
});
