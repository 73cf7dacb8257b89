import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimClock } from './clock.js';

describe('SimClock', () => {
  const HOUR = 3_600_000;
  const at = (wallMs: number, speed = 1) => {
    let wall = wallMs;
    const clock = new SimClock({ wallNow: () => wall, speed });
    return { clock, tick: (ms: number) => (wall += ms) };
  };

  it('advanceTo moves simulated time to the moment given, and never back', () => {
    const { clock, tick } = at(1_000_000, 60);
    clock.advanceTo(5_000_000);
    assert.equal(clock.now(), 5_000_000);
    tick(1_000);
    assert.equal(clock.now(), 5_060_000, 'time runs on at its speed from there');
    clock.advanceTo(5_000_000);
    assert.equal(clock.now(), 5_060_000, 'a moment already passed leaves it where it is');
  });

  it('advanceToMiddleOf goes to the nearest middle of a period ahead, or stays on one', () => {
    for (const [start, want] of [
      [10 * HOUR, 10.5 * HOUR],
      [10 * HOUR + 1, 10.5 * HOUR],
      [10.5 * HOUR, 10.5 * HOUR],
      [10.5 * HOUR + 1, 11.5 * HOUR],
      [11 * HOUR - 1, 11.5 * HOUR],
    ]) {
      const { clock } = at(start as number);
      clock.advanceToMiddleOf(HOUR);
      assert.equal(clock.now(), want, `from ${start}`);
    }
  });
});
