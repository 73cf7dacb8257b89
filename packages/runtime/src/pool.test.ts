import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachPool, inOrderAhead } from './pool.js';

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

describe('inOrderAhead', () => {
  const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('yields every result in task order while at most `ahead` tasks are running or waiting', async () => {
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    // Later tasks finish first: the order of results is still the tasks'.
    const times = [30, 5, 20, 1, 10, 2, 15, 0];
    const tasks = times.map((ms, i) => async () => {
      started.push(i);
      inFlight++;
      most = Math.max(most, inFlight);
      await delay(ms);
      inFlight--;
      return i;
    });
    const out: number[] = [];
    for await (const r of inOrderAhead(tasks, 3)) out.push(r);
    assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(most, 3);
  });

  it('holds at most `ahead` results the reader has not taken', async () => {
    let started = 0;
    const tasks = Array.from({ length: 10 }, (_, i) => async () => {
      started++;
      return i;
    });
    const it = inOrderAhead(tasks, 4);
    assert.deepEqual(await it.next(), { value: 0, done: false });
    await delay(5);
    // One taken, four more started to refill: 5 in all, never the whole list.
    assert.equal(started, 5);
    await it.return(undefined);
    await delay(5);
    assert.equal(started, 5, 'breaking off starts nothing more');
  });

  it('throws a failed task at its turn, after the results before it, without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const tasks = [
        async () => {
          await delay(20);
          return 'a';
        },
        async () => {
          throw new Error('task 1 failed');
        },
        async () => 'c',
      ];
      const out: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const r of inOrderAhead(tasks, 3)) out.push(r);
        })(),
        /task 1 failed/,
      );
      assert.deepEqual(out, ['a']);
      await delay(10);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('runs one task at a time with ahead 1, nothing for no tasks, and refuses ahead < 1', async () => {
    let inFlight = 0;
    let most = 0;
    const out: number[] = [];
    const tasks = [3, 1, 2].map((ms) => async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await delay(ms);
      inFlight--;
      return ms;
    });
    for await (const r of inOrderAhead(tasks, 1)) out.push(r);
    assert.deepEqual(out, [3, 1, 2]);
    assert.equal(most, 1);
    for await (const _ of inOrderAhead([], 2)) assert.fail('no task, no result');
    await assert.rejects(inOrderAhead([], 0).next(), RangeError);
  });
});
