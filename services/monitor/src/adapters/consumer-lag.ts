import type { OffsetsAdmin } from '@perpflow/kafka';

export interface GroupLag {
  group: string;
  topic: string;
  /** Log end minus committed offset, summed over the topic's partitions (a partition without a commit counts from its log start). */
  messages: number;
}

/** Reads the lag of consumer groups from their committed offsets (Kafka admin API). */
export async function readConsumerLag(admin: OffsetsAdmin, groups: readonly string[]): Promise<GroupLag[]> {
  const out: GroupLag[] = [];
  const ends = new Map<string, Map<number, { high: number; low: number }>>();
  for (const group of groups) {
    const committed = await admin.fetchOffsets({ groupId: group });
    for (const { topic, partitions } of committed) {
      let end = ends.get(topic);
      if (!end) {
        end = new Map(
          (await admin.fetchTopicOffsets(topic)).map((p) => [
            p.partition,
            { high: Number(p.high), low: Number(p.low) },
          ]),
        );
        ends.set(topic, end);
      }
      let messages = 0;
      let any = false;
      for (const p of partitions) {
        const e = end.get(p.partition);
        if (!e) continue;
        const offset = Number(p.offset);
        any = any || offset >= 0;
        messages += Math.max(0, e.high - (offset >= 0 ? offset : e.low));
      }
      if (any) out.push({ group, topic, messages });
    }
  }
  return out;
}
