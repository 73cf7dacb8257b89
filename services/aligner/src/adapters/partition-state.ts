import { PerpflowError } from '@perpflow/contracts';
import type { Feed } from '@perpflow/contracts';
import type { Redis } from 'ioredis';
import type { ConsumedBatch, ConsumedMessage } from '../domain/batch.js';

/**
 * A full snapshot of one partition: the state of every stream whose key hashes to
 * partition p AND the next offset of each raw topic's partition p that it includes.
 */
export interface PartitionSnapshot {
  /** topic → next offset to process (as a decimal string). */
  offsets: Record<string, string>;
  /** Opaque JSON state of the partition's streams. */
  state: unknown;
  savedAtMs: number;
}

/**
 * One step of the write-ahead log: the runs of records in the order the engine took them
 * (one run per raw topic, in the merged order of docs/ARCHITECTURE.md ③), and the offsets
 * after them.
 */
export interface LoggedBatch {
  /** 1, 2, 3, … for the partition, never reused (a snapshot does not reset it). */
  seq: number;
  batches: ConsumedBatch[];
  /** topic → next offset to process after this batch (all four raw topics). */
  offsets: Record<string, string>;
}

/** What a partition's new owner reads: snapshot + log since it, and the last sequence number. */
export interface StoredPartition {
  snapshot: PartitionSnapshot | null;
  log: LoggedBatch[];
  seq: number;
}

/** Another writer changed the partition's log since this process read it (zombie or rebalance). */
export class StalePartitionStateError extends PerpflowError {
  readonly code = 'ALIGNER_STALE_STATE';
  readonly retriable = true;
  constructor(partition: number, expected: number, detail: string) {
    super(`partition ${partition}: state sequence is not ${expected} any more (${detail}); reloading`);
  }
}

/**
 * Per-partition state in Redis: a full snapshot every so often and, between snapshots,
 * a write-ahead log of the batches processed since. Every write is conditional on the
 * partition's sequence number (compare-and-set in one Lua script, atomic like MULTI),
 * so two writers can never interleave their batches in one log.
 */
export interface PartitionStateStore {
  load(partition: number): Promise<StoredPartition>;
  /** Appends `entry` iff the stored sequence is `entry.seq - 1`; else StalePartitionStateError. */
  append(partition: number, entry: LoggedBatch): Promise<void>;
  /** Writes the snapshot and empties the log iff the stored sequence is still `seq`. */
  snapshot(partition: number, seq: number, snapshot: PartitionSnapshot): Promise<void>;
}

const APPEND = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur ~= tonumber(ARGV[1]) then return redis.error_reply('STALE ' .. cur) end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], cur + 1)
return cur + 1`;

const SNAPSHOT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur ~= tonumber(ARGV[1]) then return redis.error_reply('STALE ' .. cur) end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[2])
return cur`;

type ScriptCall = (k1: string, k2: string, k3OrArg: string, ...args: string[]) => Promise<unknown>;

export class RedisPartitionStateStore implements PartitionStateStore {
  private readonly appendScript: ScriptCall;
  private readonly snapshotScript: ScriptCall;

  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {
    redis.defineCommand('perpflowAlignerAppend', { numberOfKeys: 2, lua: APPEND });
    redis.defineCommand('perpflowAlignerSnapshot', { numberOfKeys: 3, lua: SNAPSHOT });
    const r = redis as unknown as Record<string, ScriptCall>;
    this.appendScript = r.perpflowAlignerAppend!.bind(redis);
    this.snapshotScript = r.perpflowAlignerSnapshot!.bind(redis);
  }

  /** The snapshot key is the one of earlier versions (a snapshot without log restores as before). */
  private keys(p: number) {
    const base = `perpflow:aligner:${this.namespace}:p${p}`;
    return { snapshot: base, log: `${base}:log`, seq: `${base}:seq` };
  }

  async load(partition: number): Promise<StoredPartition> {
    const k = this.keys(partition);
    const res = await this.redis.multi().get(k.seq).get(k.snapshot).lrange(k.log, 0, -1).exec();
    if (!res) throw new Error(`partition ${partition}: Redis aborted the state read`);
    for (const [err] of res) if (err) throw err;
    const seq = Number((res[0]![1] as string | null) ?? '0');
    const snap = res[1]![1] as string | null;
    const log = (res[2]![1] as string[]).map(decodeLoggedBatch);
    return { seq, snapshot: snap === null ? null : (JSON.parse(snap) as PartitionSnapshot), log };
  }

  async append(partition: number, entry: LoggedBatch): Promise<void> {
    const k = this.keys(partition);
    try {
      await this.appendScript(k.seq, k.log, String(entry.seq - 1), encodeLoggedBatch(entry));
    } catch (err) {
      throw stale(err, partition, entry.seq - 1);
    }
  }

  async snapshot(partition: number, seq: number, snapshot: PartitionSnapshot): Promise<void> {
    const k = this.keys(partition);
    try {
      await this.snapshotScript(k.seq, k.log, k.snapshot, String(seq), JSON.stringify(snapshot));
    } catch (err) {
      throw stale(err, partition, seq);
    }
  }
}

function stale(err: unknown, partition: number, expected: number): unknown {
  const msg = (err as Error)?.message ?? '';
  return msg.startsWith('STALE')
    ? new StalePartitionStateError(partition, expected, `found ${msg.slice(6)}`)
    : err;
}

/** JSON of one log entry. Values travel as latin1 text: exact for any bytes, and plain for ASCII JSON. */
export function encodeLoggedBatch(e: LoggedBatch): string {
  return JSON.stringify({
    seq: e.seq,
    offsets: e.offsets,
    batches: e.batches.map((b) => ({
      topic: b.topic,
      partition: b.partition,
      feed: b.feed,
      nowMs: b.nowMs,
      messages: b.messages.map((m) => [
        m.offset,
        m.key,
        m.value === null ? null : m.value.toString('latin1'),
        m.headers,
        m.timestampMs ?? null,
      ]),
    })),
  });
}

type EncodedMessage = [string, string | null, string | null, Record<string, string>, (number | null)?];
interface EncodedBatch {
  topic: string;
  partition: number;
  feed: Feed;
  nowMs: number;
  messages: EncodedMessage[];
}

/** Also reads the entries of earlier versions: one batch of one topic, no timestamps. */
export function decodeLoggedBatch(text: string): LoggedBatch {
  const j = JSON.parse(text) as {
    seq: number;
    offsets: Record<string, string>;
    batches?: EncodedBatch[];
  } & Partial<EncodedBatch>;
  const batches = j.batches ?? [j as EncodedBatch];
  return {
    seq: j.seq,
    offsets: j.offsets,
    batches: batches.map((b) => ({
      topic: b.topic,
      partition: b.partition,
      feed: b.feed,
      nowMs: b.nowMs,
      messages: b.messages.map(
        ([offset, key, value, headers, timestampMs]): ConsumedMessage => ({
          offset,
          key,
          value: value === null ? null : Buffer.from(value, 'latin1'),
          headers,
          ...(typeof timestampMs === 'number' ? { timestampMs } : {}),
        }),
      ),
    })),
  };
}
