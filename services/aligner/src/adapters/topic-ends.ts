import type { PipelineTopicNames } from '@perpflow/contracts';
import type { OffsetsAdmin } from '@perpflow/kafka';

/**
 * The high watermark of every raw topic-partition, and where the group's consumption of it
 * starts when the aligner has processed nothing of it: the committed offset, else the
 * earliest retained offset (ALIGNER_FROM_BEGINNING) or the log end. Two round trips per
 * topic; asked only when an empty raw topic holds up its partition's merged order.
 */
export async function rawTopicEnds(
  admin: OffsetsAdmin,
  groupId: string,
  fromBeginning: boolean,
  names: PipelineTopicNames,
): Promise<Map<string, Map<number, { high: bigint; start: bigint }>>> {
  const topics = Object.values(names.raw);
  const [committed, ...offsets] = await Promise.all([
    admin.fetchOffsets({ groupId, topics }),
    ...topics.map((topic) => admin.fetchTopicOffsets(topic)),
  ]);
  const out = new Map<string, Map<number, { high: bigint; start: bigint }>>();
  topics.forEach((topic, i) => {
    const commits = new Map(
      (committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [
        p.partition,
        BigInt(p.offset),
      ]),
    );
    const byPartition = new Map<number, { high: bigint; start: bigint }>();
    for (const p of offsets[i] ?? []) {
      const high = BigInt(p.high);
      const c = commits.get(p.partition);
      const start = c !== undefined && c >= 0n ? c : fromBeginning ? BigInt(p.low) : high;
      byPartition.set(p.partition, { high, start });
    }
    out.set(topic, byPartition);
  });
  return out;
}
