import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Assigns partition p of EVERY subscribed topic to the same group member.
 *
 * The aligner joins four raw topics by key. With the same partition count and
 * the same (murmur2) partitioner, one key lands on the same partition number in
 * each topic; kafkajs' default round-robin assigner would still hand those
 * partitions to different members. This one keeps a key's four streams together.
 * Partition numbers are dealt round-robin over the sorted member ids, so the
 * assignment is deterministic for a given membership.
 */
export function assignCoPartitioned(
  memberIds: readonly string[],
  partitionsByTopic: Record<string, readonly number[]>,
): Record<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const out: Record<string, Record<string, number[]>> = {};
  for (const m of members) out[m] = {};
  if (members.length === 0) return out;
  for (const [topic, partitions] of Object.entries(partitionsByTopic)) {
    for (const p of [...partitions].sort((a, b) => a - b)) {
      const member = members[p % members.length]!;
      const byTopic = out[member]!;
      const list = byTopic[topic] ?? [];
      list.push(p);
      byTopic[topic] = list;
    }
  }
  return out;
}

export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'PerpflowCoPartitioned',
  version: 1,
  async assign({ members, topics }) {
    const partitionsByTopic: Record<string, number[]> = {};
    for (const topic of topics)
      partitionsByTopic[topic] = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
    const assignment = assignCoPartitioned(
      members.map((m) => m.memberId),
      partitionsByTopic,
    );
    return Object.entries(assignment).map(([memberId, a]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: a,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: 'PerpflowCoPartitioned',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
