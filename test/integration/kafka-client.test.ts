/**
 * createKafkaClient, the one Kafka client every service starts from (packages/kafka's
 * port: topics, the idempotent producer, the admin, group consumers), against the stack's
 * broker: topics created once; co-partitioned members get partition p of both topics; every
 * record reaches a handler and nothing is committed until a handler commits; a handler error
 * that is not retriable ends consumption through `onGiveUp` instead of a silent stop.
 * Assumes `npm run stack -- up`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createKafkaClient,
  type ConnectedAdmin,
  type FetchedBatch,
  type GroupConsumer,
  type RecordProducer,
} from '@perpflow/kafka';
import { STACK, uniqueName, waitFor } from '../src/harness.js';

const PARTITIONS = 3;

describe('createKafkaClient against the stack broker', () => {
  const client = createKafkaClient({
    clientId: 'perpflow-test-kafka-client',
    brokers: STACK.kafkaBrokers.split(','),
  });
  const a = uniqueName('t.integration.kafka-client-a');
  const b = uniqueName('t.integration.kafka-client-b');
  const specs = [
    { topic: a, numPartitions: PARTITIONS },
    { topic: b, numPartitions: PARTITIONS },
  ];
  /** `<topic>/<partition>/<offset>` of every record produced. */
  const produced = new Set<string>();
  let admin: ConnectedAdmin;
  let producer: RecordProducer;
  const members: GroupConsumer[] = [];

  before(async () => {
    const created = await client.ensureTopics(specs);
    assert.deepEqual([...created].sort(), [a, b].sort(), 'both topics created');
    assert.deepEqual(await client.ensureTopics(specs), [], 'a second call creates nothing');
    admin = client.admin();
    await admin.connect();
    producer = client.idempotentProducer();
    await producer.connect();
    // Partition p of topic a holds 2 + p records, of topic b one.
    for (const [topic, count] of [
      [a, (p: number) => 2 + p],
      [b, () => 1],
    ] as const)
      for (let p = 0; p < PARTITIONS; p++) {
        const n = count(p);
        await producer.send({
          topic,
          messages: Array.from({ length: n }, (_, i) => ({
            partition: p,
            key: `k${p}`,
            value: `${topic}.${p}.${i}`,
          })),
        });
        for (let i = 0; i < n; i++) produced.add(`${topic}/${p}/${i}`);
      }
  });

  after(async () => {
    for (const m of members) await m.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
  });

  it('hands every record to co-partitioned members and commits only what a handler commits', async () => {
    const groupId = uniqueName('g.kafka-client');
    const handled = new Set<string>();
    const latest: Record<string, number[]>[] = [{}, {}];
    const handle = async (batch: FetchedBatch) => {
      for (const m of batch.messages) {
        assert.equal(m.value?.toString(), `${batch.topic}.${batch.partition}.${m.offset}`);
        handled.add(`${batch.topic}/${batch.partition}/${m.offset}`);
      }
    };
    for (const i of [0, 1]) {
      const member = client.groupConsumer({
        groupId,
        coPartitioned: true,
        sessionTimeoutMs: 10_000,
        maxWaitTimeMs: 200,
      });
      members.push(member);
      member.onAssignment((assignment) => {
        latest[i] = assignment;
      });
      await member.consume({ topics: [a, b], fromBeginning: true, handle });
    }
    const partitionsOf = (asg: Record<string, number[]>, topic: string) => [...(asg[topic] ?? [])].sort();
    // The group settles when the two members' latest assignments split the partitions.
    await waitFor(
      'both members assigned',
      async () => {
        const mine = latest.map((asg) => partitionsOf(asg, a));
        return mine[0]!.length > 0 && mine[1]!.length > 0 && mine[0]!.length + mine[1]!.length === PARTITIONS;
      },
      60_000,
      100,
    );
    for (const asg of latest)
      assert.deepEqual(partitionsOf(asg, b), partitionsOf(asg, a), 'partition p of both topics together');
    assert.deepEqual(
      [...partitionsOf(latest[0]!, a), ...partitionsOf(latest[1]!, a)].sort(),
      [0, 1, 2],
      'each partition to one member',
    );
    await waitFor(
      `${produced.size} records handled`,
      async () => handled.size === produced.size,
      60_000,
      100,
    );
    assert.deepEqual([...handled].sort(), [...produced].sort());

    const committed = async () =>
      (await admin.fetchOffsets({ groupId, topics: [a, b] }))
        .flatMap((t) => t.partitions.map((p) => `${t.topic}/${p.partition}=${p.offset}`))
        .sort();
    assert.deepEqual(
      await committed(),
      [a, b].flatMap((t) => [0, 1, 2].map((p) => `${t}/${p}=-1`)).sort(),
      'nothing committed by the client on its own',
    );
    // Each member commits the ends of its own partitions.
    for (const [i, member] of members.entries())
      await member.commitOffsets(
        [a, b].flatMap((topic) =>
          partitionsOf(latest[i]!, topic).map((partition) => ({
            topic,
            partition,
            offset: String(topic === a ? 2 + partition : 1),
          })),
        ),
      );
    assert.deepEqual(
      await committed(),
      [...[0, 1, 2].map((p) => `${a}/${p}=${2 + p}`), ...[0, 1, 2].map((p) => `${b}/${p}=1`)].sort(),
    );
  });

  it('ends consumption through onGiveUp when a handler error is not retriable, naming it', async () => {
    const member = client.groupConsumer({
      groupId: uniqueName('g.kafka-client-give-up'),
      maxWaitTimeMs: 200,
    });
    members.push(member);
    const tried: number[] = [];
    const gaveUp = new Promise<Error>((resolve) => {
      void member.consume({
        topics: [a],
        fromBeginning: true,
        handle: async (batch) => {
          tried.push(batch.partition);
          throw Object.assign(new Error('poison batch'), { retriable: false });
        },
        onGiveUp: resolve,
      });
    });
    const error = await Promise.race([
      gaveUp,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('onGiveUp was not called within 60 s')), 60_000).unref(),
      ),
    ]);
    assert.match(error.message, /poison batch/);
    // The fetch may have handed out one batch per partition before the first error ended it.
    assert.ok(tried.length >= 1, 'the handler ran');
    assert.equal(
      new Set(tried).size,
      tried.length,
      `no batch retried (partitions tried: ${tried.join(', ')})`,
    );
  });
});
