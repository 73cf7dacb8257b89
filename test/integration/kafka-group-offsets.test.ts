/**
 * setGroupOffsets and startGroupsAtLogEnd (test/src/kafka-io.ts) against the stack's
 * broker. setGroupOffsets: the offsets it
 * reports set are the ones the broker answers, and a group it cannot set fails with the
 * group, the topic and the broker's reason instead of resolving (kafkajs's setOffsets
 * alone once resolved without a commit and left a test waiting 300 s). startGroupsAtLogEnd:
 * every group it names has the ends committed on every partition of every topic, and a
 * member that joins later reads exactly the records produced after it returned.
 * Assumes `npm run stack -- up`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureTopics } from '@perpflow/kafka';
import type { Admin, Consumer } from 'kafkajs';
import { uniqueName } from '../src/harness.js';
import { setGroupOffsets, startGroupsAtLogEnd, testKafka } from '../src/kafka-io.js';

describe('setGroupOffsets', () => {
  const kafka = testKafka();
  const topic = uniqueName('t.integration.group-offsets');
  const empty = `${topic}.empty`;
  let admin: Admin;
  let member: Consumer | undefined;

  before(async () => {
    admin = kafka.admin();
    await admin.connect();
    // ensureTopics waits until the new topic's partitions have a leader, which kafkajs's
    // waitForLeaders does not retry on a fresh broker (UNKNOWN_TOPIC_OR_PARTITION).
    await ensureTopics(kafka, [
      { topic, numPartitions: 3 },
      { topic: empty, numPartitions: 2 },
    ]);
    const producer = kafka.producer();
    await producer.connect();
    // Partition p holds 2 + p messages: offsets up to its end are committable.
    await producer.send({
      topic,
      messages: [0, 1, 2].flatMap((partition) =>
        Array.from({ length: 2 + partition }, (_, i) => ({ partition, value: `m${partition}.${i}` })),
      ),
    });
    await producer.disconnect();
  });

  after(async () => {
    await member?.disconnect();
    await admin.deleteTopics({ topics: [topic, empty] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('commits the offsets of an empty group, and the broker answers exactly those', async () => {
    const groupId = uniqueName('g.group-offsets');
    const wanted = [
      { partition: 0, offset: '2' },
      { partition: 1, offset: '0' },
      { partition: 2, offset: '3' },
    ];
    await setGroupOffsets(admin, groupId, topic, wanted);
    const [got] = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.deepEqual(
      got?.partitions
        .map((p) => ({ partition: p.partition, offset: p.offset }))
        .sort((a, b) => a.partition - b.partition),
      wanted,
    );
    // Moved again (backwards on one partition): the new offsets replace the old.
    await setGroupOffsets(admin, groupId, topic, [{ partition: 0, offset: '1' }]);
    const [again] = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.equal(again?.partitions.find((p) => p.partition === 0)?.offset, '1');
    assert.equal(again?.partitions.find((p) => p.partition === 2)?.offset, '3');
  });

  it('gives up on a group with a running member, naming the group, the topic and the reason', async () => {
    const groupId = uniqueName('g.group-offsets-busy');
    member = kafka.consumer({ groupId, sessionTimeout: 10_000 });
    await member.connect();
    await member.subscribe({ topic, fromBeginning: true });
    let joined = false;
    member.on(member.events.GROUP_JOIN, () => {
      joined = true;
    });
    await member.run({ eachMessage: async () => undefined });
    const deadline = Date.now() + 60_000;
    while (!joined) {
      assert.ok(Date.now() < deadline, 'the member did not join its group in 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const started = Date.now();
    await assert.rejects(
      setGroupOffsets(admin, groupId, topic, [{ partition: 0, offset: '0' }], 1_500),
      (err: Error) => {
        assert.match(
          err.message,
          new RegExp(`^group ${groupId} did not take its offsets on ${topic} in \\d+ attempts \\(1500 ms\\)`),
        );
        assert.match(err.message, /must have no running instances, current state: \w+/);
        return true;
      },
    );
    // It retried until its own deadline, and no longer than a retry past it.
    assert.ok(Date.now() - started >= 1_500, `gave up after ${Date.now() - started} ms`);
  });

  it('startGroupsAtLogEnd: each group at the ends of every topic; a later member reads only what came after', async () => {
    const groups = [uniqueName('g.log-end-a'), uniqueName('g.log-end-b')];
    // Partition p of `topic` holds 2 + p messages (before); `empty` holds none.
    const ends = await startGroupsAtLogEnd(kafka, groups, [topic, empty]);
    const want = new Map([
      [`${topic}/0`, 2n],
      [`${topic}/1`, 3n],
      [`${topic}/2`, 4n],
      [`${empty}/0`, 0n],
      [`${empty}/1`, 0n],
    ]);
    assert.deepEqual(new Map([...ends].sort()), want);
    for (const groupId of groups) {
      const got = new Map<string, bigint>();
      for (const t of await admin.fetchOffsets({ groupId, topics: [topic, empty] }))
        for (const p of t.partitions) got.set(`${t.topic}/${p.partition}`, BigInt(p.offset));
      assert.deepEqual(new Map([...got].sort()), want, `offsets of ${groupId}`);
    }

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [0, 1, 2].map((partition) => ({ partition, value: `after${partition}` })),
    });
    await producer.send({ topic: empty, messages: [{ partition: 1, value: 'after-empty1' }] });
    await producer.disconnect();
    const reader = kafka.consumer({ groupId: groups[0]!, maxWaitTimeInMs: 100 });
    const read: string[] = [];
    try {
      await reader.connect();
      // fromBeginning would start a group without offsets at offset 0: the committed ends win.
      await reader.subscribe({ topics: [topic, empty], fromBeginning: true });
      await reader.run({
        eachMessage: async ({ topic: t, partition, message }) => {
          read.push(`${t === topic ? 'topic' : 'empty'}/${partition}@${message.offset}=${message.value}`);
        },
      });
      const deadline = Date.now() + 60_000;
      while (read.length < 4) {
        assert.ok(Date.now() < deadline, `read ${read.length} of 4 in 60 s: ${read.join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await reader.disconnect();
    }
    assert.deepEqual(read.sort(), [
      'empty/1@0=after-empty1',
      'topic/0@2=after0',
      'topic/1@3=after1',
      'topic/2@4=after2',
    ]);
  });
});
