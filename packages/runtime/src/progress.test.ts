import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, Progress } from './progress.js';

function meter(tty: boolean) {
  let t = 0;
  const out: string[] = [];
  const p = new Progress({
    unit: 'jobs',
    label: 'bf-1',
    tty,
    now: () => t,
    windowMs: 10_000,
    write: (s) => out.push(s),
  });
  return { p, out, advance: (ms: number) => (t += ms) };
}

describe('progress lines', () => {
  it('durations read as people write them', () => {
    assert.deepEqual([0, 1_499, 59_000, 61_000, 3_600_000, 3_725_000, -1, Number.NaN].map(formatDuration), [
      '0s',
      '1s',
      '59s',
      '1m01s',
      '1h00m',
      '1h02m',
      '?',
      '?',
    ]);
  });

  it('plain output: a line at most every 5 s, with the rate over the window and the ETA from it, and the last line always', () => {
    const { p, out, advance } = meter(false);
    p.update(0, 100);
    for (let i = 1; i <= 10; i++) {
      advance(1_000);
      p.update(i * 2, 100); // 2 jobs/s
    }
    p.update(20, 100, '', true);
    assert.deepEqual(out, [
      'bf-1 [........................]   0.0%  0/100 jobs  ETA ?\n',
      'bf-1 [##......................]  10.0%  10/100 jobs  2.0 jobs/s  ETA 45s\n',
      'bf-1 [#####...................]  20.0%  20/100 jobs  2.0 jobs/s  ETA 40s\n',
      'bf-1 [#####...................]  20.0%  20/100 jobs  2.0 jobs/s  ETA 40s\n',
    ]);
  });

  it('a stall shows: the rate falls over the window and the ETA grows', () => {
    const { p, out, advance } = meter(false);
    p.update(0, 100);
    advance(5_000);
    p.update(50, 100); // 10/s
    for (let i = 0; i < 4; i++) {
      advance(5_000);
      p.update(50, 100);
    }
    assert.match(out[1]!, /10\.0 jobs\/s {2}ETA 5s/);
    assert.match(out.at(-1)!, /50\/100 jobs {2}0\.00 jobs\/s {2}ETA \?/);
  });

  it('terminal output redraws in place, pads over a longer line and ends with a newline', () => {
    const { p, out, advance } = meter(true);
    p.update(0, 10, 'waiting for workers');
    advance(300);
    p.update(10, 10, '', true);
    assert.ok(out[0]!.startsWith('\rbf-1 [') && out[0]!.endsWith('waiting for workers'));
    assert.ok(out[1]!.startsWith('\rbf-1 [########################] 100.0%  10/10 jobs'));
    assert.ok(out[1]!.endsWith(' \n'));
    assert.ok(out[1]!.length >= out[0]!.length + 1);
    assert.match(out[1]!, /done/);
  });
});
