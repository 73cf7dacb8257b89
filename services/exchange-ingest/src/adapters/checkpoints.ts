import type { Redis } from 'ioredis';

/**
 * Per-stream progress, in Redis (AOF on, so it survives a restart). A checkpoint
 * is written only AFTER Kafka acknowledged the records it covers: a crash between
 * the two re-publishes at most one page, whose records are identical but for
 * receivedAtMs — the aligner drops them as duplicates of the same key and content.
 */
export interface CheckpointStore {
  get(key: string): Promise<number | null>;
  set(key: string, valueMs: number): Promise<void>;
  getMany(keys: string[]): Promise<(number | null)[]>;
  setMany(entries: [key: string, valueMs: number][]): Promise<void>;
}

export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'perpflow:ckpt:',
  ) {}
  async get(key: string): Promise<number | null> {
    const v = await this.redis.get(this.prefix + key);
    return v === null ? null : Number(v);
  }
  async set(key: string, valueMs: number): Promise<void> {
    await this.redis.set(this.prefix + key, String(valueMs));
  }
  async setMany(entries: [key: string, valueMs: number][]): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.mset(entries.flatMap(([k, v]) => [this.prefix + k, String(v)]));
  }
  async getMany(keys: string[]): Promise<(number | null)[]> {
    if (keys.length === 0) return [];
    const vs = await this.redis.mget(keys.map((k) => this.prefix + k));
    return vs.map((v) => (v === null ? null : Number(v)));
  }
}

export function checkpointKey(
  scope: 'live' | string,
  exchange: string,
  symbol: string,
  feed: string,
): string {
  return `${scope}:${exchange}|${symbol}|${feed}`;
}
