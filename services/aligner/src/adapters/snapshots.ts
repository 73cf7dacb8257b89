import type { Redis } from 'ioredis';

/**
 * Per-partition state snapshots in Redis. A snapshot holds the state of every
 * stream whose key hashes to partition p AND the next offset of each raw topic's
 * partition p that the state includes. It is written after the outputs of those
 * offsets are acknowledged by Kafka and BEFORE the offsets are committed; on
 * restart the snapshot's offsets win (records below them are skipped).
 */
export interface PartitionSnapshot {
  /** topic → next offset to process (as a decimal string). */
  offsets: Record<string, string>;
  /** Opaque JSON state of the partition's streams. */
  state: unknown;
  savedAtMs: number;
}

export interface SnapshotStore {
  load(partition: number): Promise<PartitionSnapshot | null>;
  save(partition: number, snapshot: PartitionSnapshot): Promise<void>;
}

export class RedisSnapshotStore implements SnapshotStore {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {}
  private key(p: number): string {
    return `perpflow:aligner:${this.namespace}:p${p}`;
  }
  async load(partition: number): Promise<PartitionSnapshot | null> {
    const raw = await this.redis.get(this.key(partition));
    return raw === null ? null : (JSON.parse(raw) as PartitionSnapshot);
  }
  async save(partition: number, snapshot: PartitionSnapshot): Promise<void> {
    await this.redis.set(this.key(partition), JSON.stringify(snapshot));
  }
}
