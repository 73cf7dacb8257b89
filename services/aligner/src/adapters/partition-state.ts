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

/** A snapshot to write: the partition state's JSON text in pieces (PartitionEngine.snapshotJson). */
export interface PartitionSnapshotWrite {
  offsets: Record<string, string>;
  stateJson: Iterable<string>;
  savedAtMs: number;
}

/**
 * The stored snapshot's bytes: the text of `JSON.stringify({ offsets, state, savedAtMs })`,
 * made from the state's pieces, each turned into bytes as it comes; what `load` reads back
 * as a PartitionSnapshot.
 */
export function snapshotDocument(s: PartitionSnapshotWrite): Buffer {
  const parts = [Buffer.from(`{"offsets":${JSON.stringify(s.offsets)},"state":`)];
  for (const piece of s.stateJson) parts.push(Buffer.from(piece));
  parts.push(Buffer.from(`,"savedAtMs":${JSON.stringify(s.savedAtMs)}}`));
  return Buffer.concat(parts);
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
 * The partition's state in Redis does not decode (a snapshot that is not JSON, a log entry
 * cut or altered): not an outage that passes, so the pipeline stalls the partition after
 * its attempts instead of retrying it for ever. `topic` and `offset` say where, for the
 * stall's log line and metric: topic `state`, offset the key (and the entry's index).
 */
export class CorruptPartitionStateError extends PerpflowError {
  readonly code = 'ALIGNER_CORRUPT_STATE';
  readonly retriable = false;
  readonly topic = 'state';
  readonly offset: string;
  constructor(partition: number, where: string, cause: unknown) {
    super(
      `partition ${partition}: ${where} does not decode (${(cause as Error)?.message ?? String(cause)}); the partition cannot restore its state`,
      { cause, context: { partition, where } },
    );
    this.offset = where;
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
  snapshot(partition: number, seq: number, snapshot: PartitionSnapshotWrite): Promise<void>;
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

type ScriptCall = (k1: string, k2: string, k3OrArg: string, ...args: (string | Buffer)[]) => Promise<unknown>;

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
    const res = await this.redis.multi().get(k.seq).get(k.snapshot).lrangeBuffer(k.log, 0, -1).exec();
    if (!res) throw new Error(`partition ${partition}: Redis aborted the state read`);
    for (const [err] of res) if (err) throw err;
    const seq = Number((res[0]![1] as string | null) ?? '0');
    const snap = res[1]![1] as string | null;
    const log = (res[2]![1] as Buffer[]).map((entry, i) => {
      try {
        return decodeLoggedBatch(entry);
      } catch (err) {
        throw new CorruptPartitionStateError(partition, `write-ahead log entry ${i} of ${k.log}`, err);
      }
    });
    let snapshot: PartitionSnapshot | null = null;
    try {
      snapshot = snap === null ? null : (JSON.parse(snap) as PartitionSnapshot);
    } catch (err) {
      throw new CorruptPartitionStateError(partition, `snapshot ${k.snapshot}`, err);
    }
    return { seq, snapshot, log };
  }

  async append(partition: number, entry: LoggedBatch): Promise<void> {
    const k = this.keys(partition);
    try {
      await this.appendScript(k.seq, k.log, String(entry.seq - 1), encodeLoggedBatch(entry));
    } catch (err) {
      throw stale(err, partition, entry.seq - 1);
    }
  }

  async snapshot(partition: number, seq: number, snapshot: PartitionSnapshotWrite): Promise<void> {
    const k = this.keys(partition);
    try {
      await this.snapshotScript(k.seq, k.log, k.snapshot, String(seq), snapshotDocument(snapshot));
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

/**
 * One log entry's bytes (format 2): a marker byte, then the entry in little-endian fields:
 * seq (float64); offsets (u16 count, topic and offset texts); runs (u16 count), each its
 * topic, partition (int32), feed, nowMs (float64) and records (u32 count), each record its
 * offset, key (null: length -1), value bytes as received (null: length -1), headers (u16
 * count, name and value texts) and timestamp (float64, NaN when absent). Texts are a u32
 * byte length and UTF-8. The value's bytes are copied as they are: the JSON entries of
 * format 1 escaped every value into a JSON string, which Redis's socket then encoded again.
 */
export function encodeLoggedBatch(e: LoggedBatch): Buffer {
  w.at = 0;
  w.u8(ENTRY_FORMAT_2);
  w.f64(e.seq);
  const topics = Object.keys(e.offsets);
  w.u16(topics.length);
  for (const t of topics) {
    w.text(t);
    w.text(e.offsets[t] as string);
  }
  w.u16(e.batches.length);
  for (const b of e.batches) {
    w.text(b.topic);
    w.i32(b.partition);
    w.text(b.feed);
    w.f64(b.nowMs);
    w.u32(b.messages.length);
    for (const m of b.messages) {
      w.text(m.offset);
      if (m.key === null) w.i32(-1);
      else w.text(m.key);
      if (m.value === null) w.i32(-1);
      else w.bytes(m.value);
      const names = Object.keys(m.headers);
      w.u16(names.length);
      for (const n of names) {
        w.text(n);
        w.text(m.headers[n] as string);
      }
      w.f64(m.timestampMs ?? Number.NaN);
    }
  }
  return Buffer.from(w.buf.subarray(0, w.at));
}

/** The first byte of a format-2 entry; a format-1 entry is JSON and starts with `{`. */
const ENTRY_FORMAT_2 = 0xb2;

/** The encoder's buffer, reused from entry to entry (encoding is synchronous). */
class EntryWriter {
  buf = Buffer.allocUnsafe(1 << 16);
  at = 0;
  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }
  u16(v: number): void {
    if (v > 0xffff) throw new Error(`write-ahead log entry: ${v} items where at most 65,535 fit`);
    this.room(2);
    this.at = this.buf.writeUInt16LE(v, this.at);
  }
  i32(v: number): void {
    this.room(4);
    this.at = this.buf.writeInt32LE(v, this.at);
  }
  u32(v: number): void {
    this.room(4);
    this.at = this.buf.writeUInt32LE(v, this.at);
  }
  f64(v: number): void {
    this.room(8);
    this.at = this.buf.writeDoubleLE(v, this.at);
  }
  /**
   * UTF-8 after its byte length; room for the longest (3 bytes per UTF-16 unit). ASCII (offsets,
   * keys, header names and values) is copied unit by unit: a Buffer.write per short text cost
   * more than JSON.stringify of the whole entry.
   */
  text(s: string): void {
    const len = s.length;
    this.room(4 + 3 * len);
    const buf = this.buf;
    const start = this.at + 4;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
    }
    const n = i === len ? len : buf.write(s, start, 'utf8');
    buf.writeUInt32LE(n, this.at);
    this.at = start + n;
  }
  bytes(b: Buffer): void {
    this.room(4 + b.length);
    this.buf.writeUInt32LE(b.length, this.at);
    this.buf.set(b, this.at + 4);
    this.at += 4 + b.length;
  }
}
const w = new EntryWriter();

/** Reads a format-2 entry; every length is checked against the bytes left. */
class EntryReader {
  at = 0;
  constructor(private readonly buf: Buffer) {}
  need(n: number, what: string): void {
    if (n < 0 || this.at + n > this.buf.length)
      throw new Error(`${what} at byte ${this.at} needs ${n} bytes; the entry has ${this.buf.length}`);
  }
  /** Checks that `n` bytes are left for `what` and moves past them; returns where they start. */
  take(n: number, what: string): number {
    this.need(n, what);
    const at = this.at;
    this.at += n;
    return at;
  }
  u8(what: string): number {
    return this.buf[this.take(1, what)] as number;
  }
  u16(what: string): number {
    return this.buf.readUInt16LE(this.take(2, what));
  }
  i32(what: string): number {
    return this.buf.readInt32LE(this.take(4, what));
  }
  f64(what: string): number {
    return this.buf.readDoubleLE(this.take(8, what));
  }
  /** A text, or null where its length is -1 and `nullable`. */
  text(what: string, nullable = false): string | null {
    const n = this.i32(what);
    if (n === -1 && nullable) return null;
    const at = this.take(n, what);
    return this.buf.toString('utf8', at, at + n);
  }
  bytes(what: string): Buffer | null {
    const n = this.i32(what);
    if (n === -1) return null;
    const at = this.take(n, what);
    return Buffer.from(this.buf.subarray(at, at + n));
  }
}

function decodeFormat2(buf: Buffer): LoggedBatch {
  const r = new EntryReader(buf);
  r.u8('marker');
  const seq = r.f64('seq');
  const offsets: Record<string, string> = {};
  for (let n = r.u16('offset count'), i = 0; i < n; i++) {
    const topic = r.text('offset topic') as string;
    offsets[topic] = r.text('offset') as string;
  }
  const batches: ConsumedBatch[] = [];
  for (let n = r.u16('run count'), i = 0; i < n; i++) {
    const topic = r.text('run topic') as string;
    const partition = r.i32('run partition');
    const feed = r.text('run feed') as Feed;
    const nowMs = r.f64('run nowMs');
    const messages: ConsumedMessage[] = [];
    for (let m = r.i32('record count'), j = 0; j < m; j++) {
      const offset = r.text('record offset') as string;
      const key = r.text('record key', true);
      const value = r.bytes('record value');
      const headers: Record<string, string> = {};
      for (let h = r.u16('header count'), k = 0; k < h; k++) {
        const name = r.text('header name') as string;
        headers[name] = r.text('header value') as string;
      }
      const timestampMs = r.f64('record timestamp');
      messages.push(
        Number.isNaN(timestampMs)
          ? { offset, key, value, headers }
          : { offset, key, value, headers, timestampMs },
      );
    }
    batches.push({ topic, partition, feed, nowMs, messages });
  }
  if (r.at !== buf.length) throw new Error(`${buf.length - r.at} bytes after the entry's end`);
  return { seq, offsets, batches };
}

/**
 * A log entry of any format: format 2 (encodeLoggedBatch's bytes), or the JSON of format 1
 * (as text or its UTF-8 bytes), including its earliest entries of one run and no timestamps.
 */
export function decodeLoggedBatch(entry: Buffer | string): LoggedBatch {
  if (typeof entry !== 'string' && entry[0] === ENTRY_FORMAT_2) return decodeFormat2(entry);
  return decodeFormat1(typeof entry === 'string' ? entry : entry.toString('utf8'));
}

/** Format 1 (the JSON entries of earlier versions): values as latin1 text. Written by tests and old logs only. */
export function encodeLoggedBatchFormat1(e: LoggedBatch): string {
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

/** Format 1, also its earliest entries: one batch of one topic, no timestamps. */
function decodeFormat1(text: string): LoggedBatch {
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
