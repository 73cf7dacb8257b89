/**
 * Four hot spots of kafkajs 2.2.4's produce path (its last release, pinned), replaced in its
 * module cache. All give the same bytes and partitions; only their cost changes.
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

/** The kafkajs release whose internals this replaces; any other is left as it is. */
export const KAFKAJS_PATCHED_VERSION = '2.2.4';
export const kafkajsVersion = (require('kafkajs/package.json') as { version: string }).version;

const KAFKAJS_SRC = `${sep}kafkajs${sep}src${sep}`;
/** kafkajs modules loaded before the replacement (they keep the original paths). */
const loadedBefore = Object.keys(require.cache).filter((k) => k.includes(KAFKAJS_SRC)).length;

const slicedCrc32c = (buffer: Buffer): number => crc32c(buffer);
let PooledEncoder: unknown = null;

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
  const encoderModule = require.cache[encoderPath];
  if (encoderModule) encoderModule.exports = Pooled;
  require(crcPath);
  const crcModule = require.cache[crcPath];
  if (crcModule) crcModule.exports = slicedCrc32c;
  const murmurPath = require.resolve('kafkajs/src/producer/partitioners/default/murmur2.js');
  require(murmurPath);
  const murmurModule = require.cache[murmurPath];
  if (murmurModule) murmurModule.exports = murmur2;
}

/** Whether kafkajs's modules take the pooled encoder, the sliced CRC-32C and the 32-bit murmur2 (all of them, or some). */
export function kafkajsFastPaths(): {
  kafkajsVersion: string;
  encoder: boolean;
  crc32c: boolean;
  murmur2: boolean;
  kafkajsModulesLoadedBefore: number;
} {
  const applies = kafkajsVersion === KAFKAJS_PATCHED_VERSION;
  return {
    kafkajsVersion,
    encoder: applies && require('kafkajs/src/protocol/encoder.js') === PooledEncoder,
    crc32c: applies && require('kafkajs/src/protocol/recordBatch/crc32C/index.js') === slicedCrc32c,
    murmur2: applies && require('kafkajs/src/producer/partitioners/default/murmur2.js') === murmur2,
    kafkajsModulesLoadedBefore: loadedBefore,
  };
}
