/**
 * Eight hot spots of kafkajs 2.2.4's produce and fetch paths (its last release, pinned),
 * replaced in its module cache. All give the same bytes, partitions and fetched objects;
 * only their cost changes.
 *
 * - **Encoder buffers.** kafkajs builds every record, and every header of it, in an `Encoder`
 *   whose constructor takes `Buffer.alloc(512)` (and whose growth takes another
 *   `Buffer.alloc`): a new zero-filled ArrayBuffer each, seven or more per bar message. Here
 *   they come from Node's shared pool (`Buffer.allocUnsafe`). An encoder only ever exposes
 *   the bytes it wrote (`buf.slice(0, offset)`, copies up to `offset`), so what the pool slot
 *   held before is never read.
 * - **CRC-32C.** kafkajs checksums each record batch one byte at a time; `crc32c` below
 *   takes eight bytes a step from eight tables (slicing-by-8), same polynomial and result.
 * - **Varints.** `writeUVarInt` (every record's length, offset delta, key, value and header
 *   lengths) pushed its bytes to an array, made a Buffer of it and copied that in; here they
 *   are written in place. `writeVarLong` and `sizeOfVarLong` (every record's timestamp
 *   delta) went through BigInt arithmetic in kafkajs's Long; for an integer in the 32-bit
 *   range a 64-bit zigzag varint has the same bytes as the 32-bit one, so those take the
 *   varint path, and any other value (a Long, a bigint, a larger number) the original.
 * - **murmur2.** The default partitioner hashes every message's key with a murmur2 written
 *   on kafkajs's Long (BigInt): three 64-bit multiplications per 4 bytes of key. Its result
 *   is the low 32 bits, and the low 32 bits of a product or an xor depend only on the low 32
 *   bits of the operands, so `murmur2` below computes it in 32 bits with `Math.imul`.
 *
 * - **The produce request in one pass.** kafkajs builds an encoder per header, per record,
 *   three per record batch and one per partition and topic, each copied into the next and
 *   grown by powers of two: about 10 kB of buffers per bar message, freed only when the
 *   garbage collector runs. An uncompressed produce request (v3, which v4-v7 extend) is now
 *   sized first and written into one buffer of that size; compressed requests, and messages
 *   of shapes it does not write (a numeric key, a null header value, a timestamp delta
 *   beyond 32 bits), take kafkajs's own encoder, which gives the same bytes or error.
 * - **Request framing.** Every request's size, header and body in one buffer of its size,
 *   not copied into a growing encoder and that into another.
 * - **Grouping by partition.** kafkajs grouped a send's messages by partition copying the
 *   partition's array for every message added (n²/2 copies for n messages to one partition,
 *   which a step's bars are); here each message is appended.
 * - **The fetched record decoder.** kafkajs decodes each record's timestamp delta through
 *   BigInt arithmetic (a Long per byte), sums the timestamp and the offset as Longs and
 *   prints them, and copies the headers object once per header. Here a record is read with
 *   plain numbers where they are exact (deltas of up to four varint bytes, sums below 2^53)
 *   into the same object, each header name's text made once while the names repeat; any
 *   other record, and a header named `__proto__`, take kafkajs's own decoder.
 *
 * Measured on the aligner's bar messages (bench/src/produce-alone.ts, docs/BENCHMARKS.md).
 * The replacement must happen before kafkajs's own modules load, which is why this module
 * is the first import of client.ts, and client.ts the first of this package. If kafkajs was
 * loaded before (another import order), the modules already loaded keep the originals: the
 * bytes are the same, only the cost differs; `kafkajsFastPaths()` says which it was.
 */
import { createRequire } from 'node:module';
import { sep } from 'node:path';

const require = createRequire(import.meta.url);

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) tables for slicing-by-8. */
const T = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n] as number;
  for (let s = 1; s < 8; s++) {
    c = (T[c & 0xff] as number) ^ (c >>> 8);
    T[s * 256 + n] = c;
  }
}

/** CRC-32C of `buf` as an unsigned 32-bit integer (what Kafka's record batch header holds). */
export function crc32c(buf: Uint8Array): number {
  let crc = -1;
  let i = 0;
  const n = buf.length;
  for (; i + 8 <= n; i += 8) {
    const a =
      crc ^
      ((buf[i] as number) |
        ((buf[i + 1] as number) << 8) |
        ((buf[i + 2] as number) << 16) |
        ((buf[i + 3] as number) << 24));
    crc =
      (T[1792 + (a & 0xff)] as number) ^
      (T[1536 + ((a >>> 8) & 0xff)] as number) ^
      (T[1280 + ((a >>> 16) & 0xff)] as number) ^
      (T[1024 + (a >>> 24)] as number) ^
      (T[768 + (buf[i + 4] as number)] as number) ^
      (T[512 + (buf[i + 5] as number)] as number) ^
      (T[256 + (buf[i + 6] as number)] as number) ^
      (T[buf[i + 7] as number] as number);
  }
  for (; i < n; i++) crc = (T[(crc ^ (buf[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** The partition hash of kafkajs's default partitioner (Java's murmur2), in 32-bit arithmetic. */
export function murmur2(key: unknown): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  switch (length & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur2's tail takes the bytes left, each case adding one
    case 3:
      h ^= (data[whole + 2] as number) << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: as above
    case 2:
      h ^= (data[whole + 1] as number) << 8;
    case 1:
      h ^= data[whole] as number;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

interface EncoderInstance {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
  writeUVarInt(value: number): EncoderInstance;
  writeVarLong(value: unknown): EncoderInstance;
  writeInt8(value: number): EncoderInstance;
  writeInt16(value: number): EncoderInstance;
  writeInt32(value: number): EncoderInstance;
  writeInt64(value: unknown): EncoderInstance;
  writeUInt32(value: number): EncoderInstance;
}
interface EncoderClass {
  new (initialSize?: number): EncoderInstance;
  nextPowerOfTwo(value: number): number;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: unknown): number;
  prototype: EncoderInstance;
}

/** An integer a 32-bit zigzag varint holds: its 64-bit encoding has the same bytes. */
const isInt32 = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647;

/** Bytes of a zigzag varint of a 32-bit integer (kafkajs's `sizeOfVarInt`). */
function varIntSize(value: number): number {
  let v = (value << 1) ^ (value >> 31);
  let n = 1;
  while ((v & 0xffffff80) !== 0) {
    n++;
    v >>>= 7;
  }
  return n;
}

/** Writes a zigzag varint of a 32-bit integer at `at`; returns the offset after it. */
function putVarInt(buf: Buffer, at: number, value: number): number {
  let v = (value << 1) ^ (value >> 31);
  while ((v & 0xffffff80) !== 0) {
    buf[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[at++] = v;
  return at;
}

/** Byte length of a key, value or header value: -1 for null, NaN for what is left to kafkajs. */
function bytesLength(v: unknown): number {
  if (v === null || v === undefined) return -1;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  return Buffer.isBuffer(v) ? v.length : Number.NaN;
}

/** Writes bytes of length `length` (bytesLength's) after their varint length; returns the offset after them. */
function putBytes(buf: Buffer, at: number, v: unknown, length: number): number {
  at = putVarInt(buf, at, length);
  if (length <= 0) return at;
  if (typeof v === 'string') buf.write(v, at, length, 'utf8');
  else (v as Buffer).copy(buf, at);
  return at + length;
}

/** A message as kafkajs's produce request takes it. */
interface ProduceMessage {
  key?: unknown;
  value?: unknown;
  headers?: unknown;
  timestamp?: unknown;
}
interface ProduceRequestFields {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: {
    topic: string;
    partitions: { partition: number; firstSequence?: number; messages: ProduceMessage[] }[];
  }[];
}
interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse: () => boolean;
  encode: () => Promise<EncoderInstance>;
}

/**
 * Lengths the sizing pass worked out (record body, key, value, header count, each header's
 * key and value), read back in the same order by the writing pass.
 */
let lengths = new Int32Array(1 << 16);
let lengthsUsed = 0;

function noteLength(n: number): void {
  if (lengthsUsed === lengths.length) {
    const grown = new Int32Array(lengths.length * 2);
    grown.set(lengths);
    lengths = grown;
  }
  lengths[lengthsUsed++] = n;
}

/**
 * The bytes of one record (record batch v0: length, attributes, timestamp and offset
 * deltas, key, value, headers) with its lengths noted; NaN for a record this does not
 * write: a key or value neither null, a string nor a Buffer, headers that are not an
 * object or hold a value neither a string nor a Buffer (an array value is one header per
 * element), a delta beyond 32 bits.
 */
function sizeRecord(m: ProduceMessage, offsetDelta: number, timestampDelta: number): number {
  const headers = m.headers === undefined ? {} : m.headers;
  if (!isInt32(timestampDelta) || typeof headers !== 'object' || headers === null) return Number.NaN;
  const keyLength = bytesLength(m.key);
  const valueLength = bytesLength(m.value);
  if (Number.isNaN(keyLength) || Number.isNaN(valueLength)) return Number.NaN;
  const bodyAt = lengthsUsed;
  noteLength(0);
  noteLength(keyLength);
  noteLength(valueLength);
  noteLength(0);
  let count = 0;
  let size = 0;
  const all = headers as Record<string, unknown>;
  for (const k of Object.keys(all)) {
    const v = all[k];
    const many = Array.isArray(v);
    const n = many ? v.length : 1;
    for (let j = 0; j < n; j++) {
      const one: unknown = many ? v[j] : v;
      const vl =
        typeof one === 'string' ? Buffer.byteLength(one, 'utf8') : Buffer.isBuffer(one) ? one.length : -1;
      if (vl < 0) return Number.NaN;
      const kl = Buffer.byteLength(k, 'utf8');
      noteLength(kl);
      noteLength(vl);
      count++;
      size += varIntSize(kl) + kl + varIntSize(vl) + vl;
    }
  }
  const body =
    1 +
    varIntSize(timestampDelta) +
    varIntSize(offsetDelta) +
    (keyLength < 0 ? 1 : varIntSize(keyLength) + keyLength) +
    (valueLength < 0 ? 1 : varIntSize(valueLength) + valueLength) +
    varIntSize(count) +
    size;
  lengths[bodyAt] = body;
  lengths[bodyAt + 3] = count;
  return varIntSize(body) + body;
}

/** Writes a record sizeRecord measured, reading its lengths from `lengthsUsed` on. */
function putRecord(
  buf: Buffer,
  at: number,
  m: ProduceMessage,
  offsetDelta: number,
  timestampDelta: number,
): number {
  const body = lengths[lengthsUsed++] as number;
  const keyLength = lengths[lengthsUsed++] as number;
  const valueLength = lengths[lengthsUsed++] as number;
  const count = lengths[lengthsUsed++] as number;
  at = putVarInt(buf, at, body);
  buf[at++] = 0; // attributes: none
  at = putVarInt(buf, at, timestampDelta);
  at = putVarInt(buf, at, offsetDelta);
  at = putBytes(buf, at, m.key, keyLength);
  at = putBytes(buf, at, m.value, valueLength);
  at = putVarInt(buf, at, count);
  if (count === 0) return at;
  const all = m.headers as Record<string, unknown>;
  for (const k of Object.keys(all)) {
    const v = all[k];
    const many = Array.isArray(v);
    const n = many ? v.length : 1;
    for (let j = 0; j < n; j++) {
      at = putBytes(buf, at, k, lengths[lengthsUsed++] as number);
      at = putBytes(buf, at, many ? v[j] : v, lengths[lengthsUsed++] as number);
    }
  }
  return at;
}

const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;
/**
 * Bytes of a partition's entry before its records: partition, record set size, then the
 * batch's first offset, length, leader epoch, magic, CRC, attributes, last offset delta,
 * first and max timestamps, producer id, epoch, first sequence and record count.
 */
const PARTITION_OVERHEAD = 4 + 4 + 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

/** Per partition of the request being written: its first timestamp, max timestamp and `Date.now()`. */
const partitionTimes: number[] = [];

/**
 * An uncompressed produce request (v3, the body every later version kafkajs speaks sends)
 * written in one pass into one buffer of its size, with kafkajs's bytes. kafkajs builds an
 * encoder per header, per record, three per record batch and one per partition and topic,
 * each a power of two copied into the next: for the aligner's bars, about 10 kB of buffers
 * per message, which the garbage collector frees only when it runs. `undefined` for a
 * compressed request or a message outside sizeRecord's shapes: the caller then runs
 * kafkajs's own. `fromValue` is kafkajs's Long.fromValue (the default producer id).
 */
function writeProduceRequest(
  Encoder: EncoderClass,
  fromValue: (v: number) => unknown,
  fields: ProduceRequestFields,
): EncoderInstance | undefined {
  const { acks, timeout, transactionalId = null, compression = 0, topicData } = fields;
  const { producerId = fromValue(-1), producerEpoch = 0 } = fields;
  if (compression !== 0 || !Array.isArray(topicData)) return undefined;
  lengthsUsed = 0;
  let p = 0;
  let size = 2 + (transactionalId == null ? 0 : Buffer.byteLength(transactionalId, 'utf8')) + 2 + 4 + 4;
  for (const { topic, partitions } of topicData) {
    if (typeof topic !== 'string' || !Array.isArray(partitions)) return undefined;
    size += 2 + Buffer.byteLength(topic, 'utf8') + 4;
    for (const { partition, messages } of partitions) {
      if (!isInt32(partition) || !Array.isArray(messages)) return undefined;
      // kafkajs's own choice of timestamps: the messages' (sorted as its default sort does),
      // or now.
      const dateNow = Date.now();
      let firstTimestamp = dateNow;
      let maxTimestamp = dateNow;
      const stamped = messages.map((m) => m.timestamp).filter((t) => t != null);
      if (stamped.length > 0) {
        if (!stamped.every((t) => typeof t === 'number')) return undefined;
        stamped.sort();
        firstTimestamp = stamped[0] as number;
        maxTimestamp = stamped[stamped.length - 1] as number;
      }
      partitionTimes[3 * p] = firstTimestamp;
      partitionTimes[3 * p + 1] = maxTimestamp;
      partitionTimes[3 * p + 2] = dateNow;
      p++;
      size += PARTITION_OVERHEAD;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i] as ProduceMessage;
        if (typeof m !== 'object' || m === null) return undefined;
        const r = sizeRecord(m, i, ((m.timestamp as number) || dateNow) - firstTimestamp);
        if (Number.isNaN(r)) return undefined;
        size += r;
      }
    }
  }
  const e = new Encoder(0);
  e.buf = Buffer.allocUnsafe(size);
  e.offset = 0;
  if (transactionalId == null) e.writeInt16(-1);
  else {
    const n = Buffer.byteLength(transactionalId, 'utf8');
    e.writeInt16(n);
    e.offset += e.buf.write(transactionalId, e.offset, n, 'utf8');
  }
  e.writeInt16(acks).writeInt32(timeout).writeInt32(topicData.length);
  lengthsUsed = 0;
  p = 0;
  for (const { topic, partitions } of topicData) {
    const n = Buffer.byteLength(topic, 'utf8');
    e.writeInt16(n);
    e.offset += e.buf.write(topic, e.offset, n, 'utf8');
    e.writeInt32(partitions.length);
    for (const { partition, firstSequence = 0, messages } of partitions) {
      const firstTimestamp = partitionTimes[3 * p] as number;
      const maxTimestamp = partitionTimes[3 * p + 1] as number;
      const dateNow = partitionTimes[3 * p + 2] as number;
      p++;
      e.writeInt32(partition);
      const setSizeAt = e.offset;
      e.writeInt32(0).writeInt64(fromValue(0));
      const batchLengthAt = e.offset;
      e.writeInt32(0).writeInt32(0).writeInt8(MAGIC_BYTE); // length, partition leader epoch, magic
      const crcAt = e.offset;
      e.writeUInt32(0);
      const bodyAt = e.offset;
      e.writeInt16(transactionalId ? TRANSACTIONAL_MASK : 0)
        .writeInt32(messages.length - 1)
        .writeInt64(firstTimestamp)
        .writeInt64(maxTimestamp)
        .writeInt64(producerId)
        .writeInt16(producerEpoch)
        .writeInt32(firstSequence)
        .writeInt32(messages.length);
      const buf = e.buf;
      let at = e.offset;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i] as ProduceMessage;
        at = putRecord(buf, at, m, i, ((m.timestamp as number) || dateNow) - firstTimestamp);
      }
      e.offset = at;
      buf.writeInt32BE(at - setSizeAt - 4, setSizeAt);
      buf.writeInt32BE(at - batchLengthAt - 4, batchLengthAt);
      buf.writeUInt32BE(crc32c(buf.subarray(bodyAt, at)), crcAt);
    }
  }
  if (e.offset !== size) throw new Error(`produce request: wrote ${e.offset} bytes of ${size} sized`);
  return e;
}

/**
 * A request framed (size, api key and version, correlation id, client id, then the body)
 * in one buffer of its size, with kafkajs's bytes: kafkajs copies the body into a growing
 * encoder, and that into another behind the size.
 */
async function frameRequest(
  Encoder: EncoderClass,
  {
    correlationId,
    clientId,
    request: { apiKey, apiVersion, encode },
  }: {
    correlationId: number;
    clientId: string | null;
    request: { apiKey: number; apiVersion: number; encode: () => Promise<EncoderInstance> };
  },
): Promise<EncoderInstance> {
  const payload = await encode();
  if (payload == null || !Buffer.isBuffer(payload.buf))
    throw new Error('value should be an instance of Encoder');
  const idLength = clientId == null ? 0 : Buffer.byteLength(clientId, 'utf8');
  const size = 4 + 2 + 2 + 4 + 2 + idLength + payload.offset;
  const e = new Encoder(0);
  e.buf = Buffer.allocUnsafe(size);
  e.offset = 0;
  e.writeInt32(size - 4)
    .writeInt16(apiKey)
    .writeInt16(apiVersion)
    .writeInt32(correlationId);
  if (clientId == null) e.writeInt16(-1);
  else {
    e.writeInt16(idLength);
    e.offset += e.buf.write(clientId, e.offset, idLength, 'utf8');
  }
  e.offset += payload.buf.copy(e.buf, e.offset, 0, payload.offset);
  return e;
}

/** What the record decoder reads a record with (kafkajs's `Decoder`). */
interface RecordDecoderInstance {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarIntBytes(): Buffer | null;
  readVarIntString(): string | null;
}

/** What kafkajs's record batch decoder gives each record's decoder. */
interface RecordBatchContext {
  firstOffset?: unknown;
  firstTimestamp?: unknown;
  magicByte?: unknown;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: unknown;
}

/** A record as kafkajs's fetch gives it. */
interface DecodedRecord {
  magicByte: unknown;
  attributes: number;
  timestamp: unknown;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, unknown>;
  isControlRecord: boolean;
  batchContext: RecordBatchContext;
}

const LOG_APPEND_TIME = 1;
let lastText: unknown = null;
let lastInteger = Number.NaN;

/** The safe integer kafkajs's decimal text of a 64-bit field holds (as its Long prints it), or NaN. */
function safeIntegerOf(text: unknown): number {
  if (text === lastText) return lastInteger;
  if (typeof text !== 'string') return Number.NaN;
  const n = Number(text);
  lastText = text;
  lastInteger = Number.isSafeInteger(n) && String(n) === text ? n : Number.NaN;
  return lastInteger;
}

/** Whether `buf[at, at + n)` holds exactly `bytes` (a JS loop: cheaper than a native call for short texts). */
export function sameBytes(buf: Uint8Array, at: number, n: number, bytes: Uint8Array): boolean {
  if (bytes.length !== n) return false;
  for (let i = 0; i < n; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

/**
 * The header names of the last record read, by position, with their bytes: a topic's
 * records carry the same names in the same order, so the name's text is made once, not
 * once per record (a Buffer slice and a UTF-8 decode each).
 */
const headerNames: { bytes: Buffer; text: string }[] = [];

/**
 * A header name as kafkajs's `readVarIntString` reads it (null for length -1; past the end
 * of the bytes, what is there), or `undefined` for a length below -1 (kafkajs would move
 * backwards), which is left to kafkajs.
 */
function readHeaderName(decoder: RecordDecoderInstance, position: number): string | null | undefined {
  const n = decoder.readVarInt();
  if (n === -1) return null;
  if (n < -1) return undefined;
  const buf = decoder.buffer;
  const at = decoder.offset;
  decoder.offset = at + n;
  const known = headerNames[position];
  if (known !== undefined && at + n <= buf.length && sameBytes(buf, at, n, known.bytes)) return known.text;
  const text = buf.toString('utf8', at, at + n);
  if (position < 64 && at + n <= buf.length)
    headerNames[position] = { bytes: Buffer.from(buf.subarray(at, at + n)), text };
  return text;
}

/**
 * One fetched record decoded as kafkajs's record decoder (record batch v0) decodes it, to
 * the same object, without its 64-bit arithmetic on BigInt (a Long per byte of the
 * timestamp delta, a Long sum and its text for the timestamp and the offset) or a copy of
 * the headers object per header. `undefined` with the decoder where it was for what it
 * leaves to kafkajs: a timestamp delta of more than four bytes, a sum beyond 2^53, a
 * header named `__proto__`, a header count larger than the bytes left could hold. Bytes
 * that end before the record does are read as kafkajs reads them (past the end, a varint
 * is 0 and bytes are cut short).
 */
function readRecord(decoder: RecordDecoderInstance, context: RecordBatchContext): DecodedRecord | undefined {
  const {
    firstOffset,
    firstTimestamp,
    magicByte,
    isControlBatch = false,
    timestampType,
    maxTimestamp,
  } = context;
  const buf = decoder.buffer;
  const start = decoder.offset;
  if (start >= buf.length) return undefined;
  const attributes = decoder.readInt8();
  let at = decoder.offset;
  let v = 0;
  let shift = 0;
  let b: number;
  do {
    if (shift === 28 || at >= buf.length) return undefined;
    b = buf[at++] as number;
    v |= (b & 0x7f) << shift;
    shift += 7;
  } while (b >= 0x80);
  decoder.offset = at;
  const timestampDelta = (v >>> 1) ^ -(v & 1);
  let timestamp: unknown;
  if (timestampType === LOG_APPEND_TIME && maxTimestamp) timestamp = maxTimestamp;
  else {
    const t = safeIntegerOf(firstTimestamp) + timestampDelta;
    if (!Number.isSafeInteger(t)) return undefined;
    timestamp = String(t);
  }
  const offsetDelta = decoder.readVarInt();
  const o = safeIntegerOf(firstOffset) + offsetDelta;
  if (!Number.isSafeInteger(o)) return undefined;
  const key = decoder.readVarIntBytes();
  const value = decoder.readVarIntBytes();
  const count = decoder.readVarInt();
  // kafkajs: -1 is no headers; another negative length throws, a length beyond the bytes
  // reads past them.
  if (count < -1 || count * 2 > buf.length - decoder.offset) return undefined;
  const headers: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const name = readHeaderName(decoder, i);
    if (name === undefined || name === '__proto__') return undefined;
    const k = name as string; // a null name is the key "null", as in kafkajs
    const hv = decoder.readVarIntBytes();
    const had = headers[k];
    headers[k] = had === undefined ? hv : Array.isArray(had) ? had.concat([hv]) : [had, hv];
  }
  return {
    magicByte,
    attributes,
    timestamp,
    offset: String(o),
    key,
    value,
    headers,
    isControlRecord: isControlBatch,
    batchContext: context,
  };
}

/** What kafkajs's producer groups by partition before it builds a request. */
interface GroupFields {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}

/**
 * The messages of one send by the partition the partitioner picks, as kafkajs's
 * `groupMessagesPerPartition` gives them (an object of partition → messages in send order),
 * in one pass: kafkajs copied a partition's array for every message added to it, so a send
 * of n messages to one partition (a step's bars: one key, one partition) copied n²/2 entries.
 */
function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupFields): Record<string, unknown[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<string, unknown[]> = {};
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition];
    if (current === undefined) result[partition] = [message];
    else current.push(message);
  }
  return result;
}

/** The kafkajs release whose internals this replaces; any other is left as it is. */
export const KAFKAJS_PATCHED_VERSION = '2.2.4';
export const kafkajsVersion = (require('kafkajs/package.json') as { version: string }).version;

const KAFKAJS_SRC = `${sep}kafkajs${sep}src${sep}`;
/** kafkajs modules loaded before the replacement (they keep the original paths). */
const loadedBefore = Object.keys(require.cache).filter((k) => k.includes(KAFKAJS_SRC)).length;

/** Loads kafkajs's module at `path` (if it is not loaded yet) and replaces its exports with `value`. */
function replaceExports(path: string, value: unknown): void {
  require(path);
  const loaded = require.cache[path];
  if (loaded) loaded.exports = value;
}

const slicedCrc32c = (buffer: Buffer): number => crc32c(buffer);
let PooledEncoder: unknown = null;
let onePassProduce: unknown = null;
let onePassFrame: unknown = null;
let onePassDecodeRecord: unknown = null;

if (kafkajsVersion === KAFKAJS_PATCHED_VERSION) {
  const encoderPath = require.resolve('kafkajs/src/protocol/encoder.js');
  const crcPath = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
  const Original = require(encoderPath) as EncoderClass;
  // Growth: for every encoder, wherever it was made (a method, so it applies to all of them).
  Original.prototype.ensureAvailable = function ensureAvailable(this: EncoderInstance, length: number): void {
    if (this.offset + length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Original.nextPowerOfTwo(this.offset + length));
      this.buf.copy(grown, 0, 0, this.offset);
      this.buf = grown;
    }
  };
  // Varints written in place (at most 5 bytes for 32 bits), with kafkajs's own loop.
  Original.prototype.writeUVarInt = function writeUVarInt(
    this: EncoderInstance,
    value: number,
  ): EncoderInstance {
    this.ensureAvailable(5);
    const buf = this.buf;
    let at = this.offset;
    let v = value;
    while ((v & 0xffffff80) !== 0) {
      buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[at++] = v & 0x7f;
    this.offset = at;
    return this;
  };
  const writeVarLong = Original.prototype.writeVarLong;
  Original.prototype.writeVarLong = function writeVarLongInt32(this: EncoderInstance, value: unknown) {
    return isInt32(value) ? this.writeUVarInt((value << 1) ^ (value >> 31)) : writeVarLong.call(this, value);
  };
  const sizeOfVarLong = Original.sizeOfVarLong;
  Original.sizeOfVarLong = function sizeOfVarLongInt32(this: EncoderClass, value: unknown): number {
    return isInt32(value) ? Original.sizeOfVarInt(value) : sizeOfVarLong.call(this, value);
  };
  // Construction: a constructor with the class's prototype and statics, its buffer from the pool.
  function Pooled(this: EncoderInstance, initialSize = 511): void {
    this.buf = Buffer.allocUnsafe(Original.nextPowerOfTwo(initialSize));
    this.offset = 0;
  }
  Pooled.prototype = Original.prototype;
  Object.setPrototypeOf(Pooled, Original);
  PooledEncoder = Pooled;
  replaceExports(encoderPath, Pooled);
  replaceExports(crcPath, slicedCrc32c);
  replaceExports(require.resolve('kafkajs/src/producer/partitioners/default/murmur2.js'), murmur2);
  // The produce request (v3, which v4-v7 extend) and the request framing: the exports are
  // replaced before the modules that take them load (the produce API's versions require
  // their request module when a request is made; the connection takes the framing when it
  // loads).
  const producePath = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
  const framePath = require.resolve('kafkajs/src/protocol/request.js');
  const originalProduce = require(producePath) as (fields: ProduceRequestFields) => ProduceRequest;
  const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: number): unknown };
  const Encoder = Pooled as unknown as EncoderClass;
  const produce = (fields: ProduceRequestFields): ProduceRequest => {
    const request = originalProduce(fields);
    return {
      ...request,
      encode: async () => writeProduceRequest(Encoder, (v) => Long.fromValue(v), fields) ?? request.encode(),
    };
  };
  const frame = (r: Parameters<typeof frameRequest>[1]) => frameRequest(Encoder, r);
  onePassProduce = produce;
  onePassFrame = frame;
  // The record decoder: replaced before the record batch decoder, which takes it when it loads.
  const recordDecoderPath = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');
  const originalDecodeRecord = require(recordDecoderPath) as (
    decoder: RecordDecoderInstance,
    context?: RecordBatchContext,
  ) => DecodedRecord;
  const decodeRecord = (decoder: RecordDecoderInstance, context?: RecordBatchContext): DecodedRecord => {
    const start = decoder.offset;
    const record = readRecord(decoder, context ?? {});
    if (record !== undefined) return record;
    decoder.offset = start;
    return originalDecodeRecord(decoder, context);
  };
  onePassDecodeRecord = decodeRecord;
  replaceExports(recordDecoderPath, decodeRecord);
  replaceExports(
    require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js'),
    groupMessagesPerPartition,
  );
  replaceExports(producePath, produce);
  replaceExports(framePath, frame);
}

/**
 * Whether kafkajs's modules export the pooled encoder, the sliced CRC-32C, the 32-bit
 * murmur2 and the one-pass record and record batch (all of them, or some). With kafkajs
 * modules loaded before (`kafkajsModulesLoadedBefore` > 0), those already loaded keep what
 * they took.
 */
export function kafkajsFastPaths(): {
  kafkajsVersion: string;
  encoder: boolean;
  crc32c: boolean;
  murmur2: boolean;
  produceRequest: boolean;
  requestFrame: boolean;
  groupByPartition: boolean;
  recordDecoder: boolean;
  kafkajsModulesLoadedBefore: number;
} {
  const applies = kafkajsVersion === KAFKAJS_PATCHED_VERSION;
  return {
    kafkajsVersion,
    encoder: applies && require('kafkajs/src/protocol/encoder.js') === PooledEncoder,
    crc32c: applies && require('kafkajs/src/protocol/recordBatch/crc32C/index.js') === slicedCrc32c,
    murmur2: applies && require('kafkajs/src/producer/partitioners/default/murmur2.js') === murmur2,
    produceRequest:
      applies && require('kafkajs/src/protocol/requests/produce/v3/request.js') === onePassProduce,
    requestFrame: applies && require('kafkajs/src/protocol/request.js') === onePassFrame,
    groupByPartition:
      applies && require('kafkajs/src/producer/groupMessagesPerPartition.js') === groupMessagesPerPartition,
    recordDecoder:
      applies && require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') === onePassDecodeRecord,
    kafkajsModulesLoadedBefore: loadedBefore,
  };
}
