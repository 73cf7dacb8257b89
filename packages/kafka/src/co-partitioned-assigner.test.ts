import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignCoPartitioned } from './co-partitioned-assigner.js';

describe('assignCoPartitioned', () => {
  const topics = { a: [0, 1, 2, 3, 4, 5], b: [0, 1, 2, 3, 4, 5], c: [5, 4, 3, 2, 1, 0] };
  it('gives partition p of every topic to the same member', () => {
    const out = assignCoPartitioned(['m2', 'm1'], topics);
    for (const member of Object.values(out)) assert.deepEqual(member.a, member.b);
    for (const member of Object.values(out)) assert.deepEqual(member.a, member.c);
    assert.deepEqual(out.m1?.a, [0, 2, 4]);
    assert.deepEqual(out.m2?.a, [1, 3, 5]);
  });
  it('covers every partition exactly once and is deterministic for a membership', () => {
    const members = ['x', 'y', 'z', 'w'];
    const out = assignCoPartitioned(members, topics);
    for (const [topic, parts] of Object.entries(topics)) {
      const assigned = Object.values(out).flatMap((m) => m[topic] ?? []);
      assert.deepEqual(assigned.sort(), [...parts].sort());
    }
    assert.deepEqual(assignCoPartitioned([...members].reverse(), topics), out);
  });
  it('hands everything to a lone member', () => {
    assert.deepEqual(assignCoPartitioned(['only'], { a: [0, 1] }), { only: { a: [0, 1] } });
  });
});
