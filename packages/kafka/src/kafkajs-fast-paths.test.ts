import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32c, kafkajsFastPaths, murmur2 } from './kafkajs-fast-paths.js';

const require = createRequire(import.meta.url);
const PACKAGE_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * A record batch as kafkajs's produce request builds it (records with keys, JSON values and
 * six headers of varied sizes, one value large enough to grow its encoder several times),
 * after the pool's free space was filled with 0xAB, as hex. Run in child processes: one with
 * kafkajs as it is, the others with the replacement.
 */
const ENCODE = `
const { createRequire } = require('node:module');
const req = createRequire(process.cwd() + '/package.json');
const Record = req('kafkajs/src/protocol/recordBatch/record/v0/index.js');
const { RecordBatch } = req('kafkajs/src/protocol/recordBatch/v0/index.js');
for (let i = 0; i < 64; i++) Buffer.allocUnsafe(100 + i).fill(0xab);
const records = [];
for (let i = 0; i < 300; i++) {
  const value = JSON.stringify({ i, close: 100 + i / 7, note: 'ü'.repeat(i % 5), pad: i === 7 ? 'x'.repeat(70000) : '' });
  const headers = { 'perpflow-schema': 'aligned_bar.v1', 'perpflow-producer': 'aligner/g' + i, 'perpflow-produced-at-ms': String(1796543392839 + i), 'perpflow-schema-version': '3', 'perpflow-dataset-version': 'dv-0123456789abcdef', 'perpflow-raw-through': 'perpflow.raw.ohlcv.v1:3:' + (1234567 + i) };
  records.push(Record({ offsetDelta: i, timestampDelta: i * 37, key: Buffer.from('binanceusdm|S' + (i % 13) + '/USDT:USDT'), value: Buffer.from(value), headers }));
}
RecordBatch({ firstTimestamp: 1796543392839, maxTimestamp: 1796543392839 + 299 * 37, lastOffsetDelta: 299, records })
  .then((e) => console.log(e.buffer.toString('hex')));
`;

/**
 * Produce requests of every shape kafkajs's producer can send, framed as its connection
 * frames them, one line each (the bytes as hex, or what it threw), with `Date.now` fixed:
 * keys and values null, undefined, strings with multi-byte characters, Buffers, empty and at
 * the varints' length edges, numbers and typed arrays; headers absent, empty, repeated
 * through arrays, with Buffer, empty, multi-byte, numeric and null values; message
 * timestamps absent, set (sorted as kafkajs sorts them), zero, strings, beyond 32 bits of
 * delta; requests with no messages, several topics and partitions, a transactional id, a
 * producer id, epoch and sequence, gzip, a null message, and a client id absent or multi-byte.
 */
const VARIANTS = `
const { createRequire } = require('node:module');
const req = createRequire(process.cwd() + '/package.json');
const { protocol } = req('kafkajs/src/protocol/requests/produce/index.js');
const frame = req('kafkajs/src/protocol/request.js');
const Long = req('kafkajs/src/utils/long.js');
Date.now = () => 1796543392839;
const show = async (version, fields, clientId = 'perpflow') => {
  try {
    const { request } = protocol({ version })(fields);
    const framed = await frame({ correlationId: 77, clientId, request });
    return framed.buffer.toString('hex');
  } catch (e) { return 'throws ' + e.name + ': ' + e.message; }
};
const base = { acks: -1, timeout: 30000, compression: 0 };
const one = (messages, extra = {}) => ({ ...base, ...extra, topicData: [{ topic: 'perpflow.aligned.v1', partitions: [{ partition: 3, firstSequence: 5, messages }] }] });
const keys = [null, undefined, '', 'k', 'binanceusdm|BTC/USDT:USDT', 'äöü€𝄞', Buffer.alloc(0), Buffer.from([0, 255, 7]), 'x'.repeat(63), 'x'.repeat(64), Buffer.alloc(8192, 3), 42];
const values = [null, '', '{"a":1}', 'ü'.repeat(70), Buffer.alloc(127, 1), Buffer.alloc(128, 2), 'y'.repeat(16384), 3.5, new Uint8Array([1, 2])];
const headerSets = [undefined, {}, { a: 'b' }, { 'perpflow-schema': 'aligned_bar/v1', 'é': Buffer.from('ü'), empty: '' },
  { many: ['1', Buffer.from('2'), ''], none: [], one: 'x'.repeat(200) }, { bad: null }, { bad: 7 }, { arr: ['ok', null] }, null];
const stamps = [[undefined, undefined], [1796543392000, 1796543393000], [1796543399000, 1796543391000], [0, 5], [999, 1000],
  ['1796543392000', '1796543392001'], [1796543392839, 1796543392839 + 2 ** 31], [1796543392839 + 2 ** 31 - 1, 1796543392839], [null, 7]];
const lines = [];
(async () => {
  for (const key of keys) for (const value of values) lines.push(await show(7, one([{ key, value, headers: { h: 'v' } }])));
  for (const headers of headerSets) lines.push(await show(7, one([{ key: 'k', value: 'v', headers }])));
  for (const [a, b] of stamps) {
    lines.push(await show(7, one([{ value: 'a', timestamp: a }, { value: 'b', timestamp: b }])));
    lines.push(await show(7, one([{ value: 'a', timestamp: a }, { value: 'b', timestamp: b }, { value: 'c' }])));
  }
  const many = (n) => Array.from({ length: n }, (_, i) => ({ key: 'k' + (i % 7), value: 'v'.repeat(i * 9), headers: { i: String(i), 'perpflow-raw-through': 'perpflow.raw.ohlcv.v1:3:' + i } }));
  lines.push(await show(7, one([])));
  lines.push(await show(7, one(many(300))));
  lines.push(await show(3, one(many(40))));
  lines.push(await show(7, { ...base, topicData: [] }));
  lines.push(await show(7, { ...base, topicData: [
    { topic: 'a', partitions: [{ partition: 0, messages: many(3) }, { partition: 11, firstSequence: 2 ** 31 - 1, messages: many(20) }] },
    { topic: 'b.ü', partitions: [{ partition: 1, firstSequence: 9, messages: many(1) }] }] }));
  lines.push(await show(7, one(many(10), { transactionalId: 'tx-ü', producerId: Long.fromNumber(4242), producerEpoch: 3 })));
  lines.push(await show(7, one(many(10), { producerId: 99, producerEpoch: 0 })));
  lines.push(await show(7, one(many(10), { transactionalId: '' })));
  lines.push(await show(7, one(many(10), { compression: 1 })));
  lines.push(await show(7, one([{ value: 'a' }, null])));
  lines.push(await show(7, one(many(2)), null));
  lines.push(await show(7, one(many(2)), 'client-ü'));
  for (const l of lines) console.log(l);
})();
`;

/**
 * Fetched records of every shape decoded by kafkajs's record batch decoder, one line each
 * (util.inspect of what it gave, or what it threw): keys, values and headers as the
 * produce request writes them (repeated header names, names an object inherits such as
 * `constructor` and `__proto__`, null values), timestamp deltas at the varints' edges and
 * beyond 32 bits, a first timestamp of -1, log-append time, first offsets beyond 2^53;
 * then one record's bytes cut at every length, and header counts that lie.
 */
const DECODE = `
const { createRequire } = require('node:module');
const { inspect } = require('node:util');
const req = createRequire(process.cwd() + '/package.json');
const Decoder = req('kafkajs/src/protocol/decoder.js');
const Encoder = req('kafkajs/src/protocol/encoder.js');
const RecordBatchDecoder = req('kafkajs/src/protocol/recordBatch/v0/decoder.js');
const RecordDecoder = req('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');
const Long = req('kafkajs/src/utils/long.js');
const show = async (f) => { try { return inspect(await f(), { depth: 6, breakLength: Infinity }).replace(/\\n */g, ' '); } catch (e) { return 'throws ' + e.name + ': ' + e.message; } };
// One record's bytes, written by hand (length, attributes, deltas, key, value, headers).
const varint = (e, v) => e.writeVarInt(v);
const record = ({ tsDelta = 0, offsetDelta = 0, key = null, value = null, headers = [] }) => {
  const body = new Encoder().writeInt8(0).writeVarLong(tsDelta);
  varint(body, offsetDelta);
  body.writeVarIntBytes(key).writeVarIntBytes(value);
  varint(body, headers.length);
  for (const [k, v] of headers) body.writeVarIntString(k).writeVarIntBytes(v);
  return new Encoder().writeVarInt(body.size()).writeEncoder(body).buffer;
};
const batch = (records, { firstOffset = 0, firstTimestamp = 1796543392839, maxTimestamp = 1796543392999, logAppend = false } = {}) => {
  const body = new Encoder().writeInt16(logAppend ? 8 : 0).writeInt32(records.length - 1).writeInt64(firstTimestamp).writeInt64(maxTimestamp)
    .writeInt64(-1).writeInt16(0).writeInt32(0).writeInt32(records.length);
  for (const r of records) body.writeBuffer(r);
  const b = new Encoder().writeInt32(0).writeInt8(2).writeUInt32(0).writeEncoder(body);
  return new Encoder().writeInt64(firstOffset).writeInt32(b.size()).writeEncoder(b).buffer;
};
const headerSets = [[], [['a', 'b']], [['a', '1'], ['a', '2']], [['a', '1'], ['b', 'x'], ['a', '2'], ['a', '3']],
  [['constructor', 'c']], [['toString', 't'], ['toString', 'u']], [['__proto__', 'p']], [['1', 'n'], ['z', 'y'], ['0', 'm']],
  [['a', null], ['a', null]], [['é€', 'ü'], ['', '']], [['perpflow-schema', 'aligned_bar/v1'], ['perpflow-producer', 'aligner'], ['perpflow-raw-through', 'perpflow.raw.ohlcv.v1:3:1234567']]];
const deltas = [0, 1, -1, 63, -64, 64, 8191, 8192, 2 ** 20, 2 ** 27 - 1, -(2 ** 27), 2 ** 27, -(2 ** 27) - 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 34, 2 ** 40, -(2 ** 45)];
const lines = [];
(async () => {
  for (const headers of headerSets)
    lines.push(await show(() => RecordBatchDecoder(new Decoder(batch([record({ key: Buffer.from('k'), value: Buffer.from('{}'), headers })])))));
  for (const d of deltas) {
    lines.push(await show(() => RecordBatchDecoder(new Decoder(batch([record({ tsDelta: d, offsetDelta: 1 })])))));
    lines.push(await show(() => RecordBatchDecoder(new Decoder(batch([record({ offsetDelta: d > 0 && d < 2 ** 31 ? d : 3 })], { firstOffset: Long.fromString('9007199254740000') })))));
  }
  const named = (headers) => record({ key: Buffer.from('k'), value: Buffer.from('v'), headers });
  lines.push(await show(() => RecordBatchDecoder(new Decoder(batch([
    named([['perpflow-schema', 'a'], ['perpflow-producer', 'b']]), named([['perpflow-schema', 'a'], ['perpflow-producer', 'b']]),
    named([['perpflow-schemb', 'a'], ['perpflow-producer', 'c']]), named([[null, 'x'], ['perpflow-producer', 'd']]),
    named([['perpflow-schema', 'e']]), named([['perpflow-schema', 'f'], ['perpflow-schema', 'g'], ['perpflow-producer', 'h']])])))));
  const plain = [record({ key: null, value: Buffer.from('v') }), record({ key: Buffer.alloc(0), value: null, offsetDelta: 1, tsDelta: 5 })];
  lines.push(await show(() => RecordBatchDecoder(new Decoder(batch(plain, { firstTimestamp: -1 })))));
  lines.push(await show(() => RecordBatchDecoder(new Decoder(batch(plain, { logAppend: true })))));
  lines.push(await show(() => RecordBatchDecoder(new Decoder(batch(plain, { logAppend: true, maxTimestamp: 0 })))));
  lines.push(await show(() => RecordBatchDecoder(new Decoder(batch(plain, { firstOffset: Long.fromString('9007199254740991') })))));
  lines.push(await show(() => RecordBatchDecoder(new Decoder(batch(plain, { firstTimestamp: Long.fromString('9007199254740991') })))));
  lines.push(await show(() => RecordBatchDecoder(new Decoder(batch(plain, { firstOffset: Long.fromString('-9223372036854775808') })))));
  const context = { firstOffset: '100', firstTimestamp: '1796543392839', magicByte: 2, timestampType: 0, maxTimestamp: '1796543392999' };
  const one = record({ tsDelta: 300, offsetDelta: 2, key: Buffer.from('key'), value: Buffer.from('value'), headers: [['h', 'v'], ['h', 'w']] });
  const body = one.subarray(1); // past the record’s length varint, as the batch decoder hands it over: 23 bytes
  for (let n = 0; n <= body.length; n++) lines.push(await show(() => RecordDecoder(new Decoder(body.subarray(0, n)), context)));
  lines.push(await show(() => RecordDecoder(new Decoder(body))));
  lines.push(await show(() => RecordDecoder(new Decoder(body), { ...context, firstOffset: 'x' })));
  lines.push(await show(() => RecordDecoder(new Decoder(body), { ...context, firstTimestamp: undefined })));
  lines.push(await show(() => RecordDecoder(new Decoder(body), { ...context, isControlBatch: true, magicByte: undefined })));
  for (const count of [-1, -2, 0, 2, 3, 40]) {
    const e = new Encoder().writeInt8(0).writeVarLong(0);
    varint(e, 0);
    e.writeVarIntBytes(null).writeVarIntBytes(Buffer.from('v'));
    varint(e, count);
    e.writeVarIntString('a').writeVarIntBytes(Buffer.from('1')).writeVarIntString('b').writeVarIntBytes(null);
    lines.push(await show(() => RecordDecoder(new Decoder(e.buffer), context)));
  }
  for (const l of lines) console.log(l);
})();
`;

/**
 * Sends grouped by partition as kafkajs's producer groups them, one line per send (the
 * groups as JSON, or what it threw): no partitions, no messages, messages with keys hashed
 * over 1, 3 and 12 partitions, explicit partitions, keyless messages (round robin, with a
 * fixed seed), partitions without a leader, and a partitioner that returns odd values.
 */
const GROUP = `
const { createRequire } = require('node:module');
const req = createRequire(process.cwd() + '/package.json');
globalThis.crypto.getRandomValues = (b) => b.fill(7); // the round robin's start, fixed
const group = req('kafkajs/src/producer/groupMessagesPerPartition.js');
const createPartitioner = req('kafkajs/src/producer/partitioners/default/index.js');
const meta = (n, leaderless = []) => Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: leaderless.includes(i) ? -1 : 1 }));
const keyed = (n) => Array.from({ length: n }, (_, i) => ({ key: 'binanceusdm|S' + (i % 17) + '/USDT:USDT', value: String(i) }));
const show = (f) => { try { return JSON.stringify(f()); } catch (e) { return 'throws ' + e.name + ': ' + e.message; } };
const lines = [];
const p = () => createPartitioner();
lines.push(show(() => group({ topic: 't', partitionMetadata: [], messages: keyed(3), partitioner: p() })));
lines.push(show(() => group({ topic: 't', partitionMetadata: meta(12), messages: [], partitioner: p() })));
for (const n of [1, 3, 12]) lines.push(show(() => group({ topic: 't', partitionMetadata: meta(n), messages: keyed(500), partitioner: p() })));
lines.push(show(() => group({ topic: 't', partitionMetadata: meta(12), messages: keyed(40).map((m, i) => ({ ...m, partition: i % 5 === 0 ? 11 - (i % 3) : undefined })), partitioner: p() })));
lines.push(show(() => group({ topic: 't', partitionMetadata: meta(6, [2, 4]), messages: Array.from({ length: 30 }, (_, i) => ({ value: String(i) })), partitioner: p() })));
const odd = [3, '2', -1, 'x', 3, undefined, 0, '2'];
lines.push(show(() => group({ topic: 't', partitionMetadata: meta(4), messages: keyed(8), partitioner: ({ message }) => odd[Number(message.value)] })));
for (const l of lines) console.log(l);
`;

/**
 * Every varint kafkajs's encoder writes, and its size functions, for values at each byte
 * length's edges, both signs, beyond 32 bits, non-integers, NaN, -0, strings and bigints
 * (and a Long), then 20,000 pseudo-random integers of every magnitude: one line per value,
 * its bytes as hex or what it threw.
 */
const VARINTS = `
const { createRequire } = require('node:module');
const req = createRequire(process.cwd() + '/package.json');
const Encoder = req('kafkajs/src/protocol/encoder.js');
const Long = req('kafkajs/src/utils/long.js');
const values = [0, -0, 1, -1, 63, -64, 64, -65, 127, 128, 8191, -8192, 8192, 16383, 16384, 2 ** 20, 2 ** 27 - 1, 2 ** 27,
  2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 35, -(2 ** 40),
  2 ** 53 - 1, -(2 ** 53 - 1), 1.5, -0.5, NaN, '300', '-7', 12345678901234n, -5n, Long.fromNumber(1796543392839)];
let seed = 11;
for (let i = 0; i < 20000; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  const magnitude = 2 ** (seed % 54);
  seed = (seed * 1103515245 + 12345) >>> 0;
  values.push(Math.floor((seed / 2 ** 32) * magnitude) * (seed & 1 ? -1 : 1));
}
const show = (f) => { try { return f(); } catch (e) { return 'throws ' + e.name; } };
for (const v of values) {
  const cells = [
    show(() => new Encoder().writeUVarInt(v).buffer.toString('hex')),
    show(() => new Encoder().writeVarInt(v).buffer.toString('hex')),
    show(() => new Encoder().writeVarLong(v).buffer.toString('hex')),
    show(() => Encoder.sizeOfVarLong(v)),
    show(() => Encoder.sizeOfVarInt(v)),
    show(() => new Encoder().writeVarIntBytes(Buffer.alloc(typeof v === 'number' && v >= 0 && v < 5000 ? v : 3)).buffer.length),
  ];
  console.log(String(typeof v === 'object' ? 'Long ' + v.value : v) + ' ' + cells.join(' '));
}
`;

/**
 * Partition keys: every length 0-80 of pseudo-random bytes (Buffers), strings with
 * multi-byte characters, numbers and the pipeline's own keys; kafkajs's murmur2 of each, one
 * line per key. KEYS alone builds the keys in this process.
 */
const KEYS = `
const keys = [];
let seed = 5;
for (let len = 0; len <= 80; len++)
  for (let j = 0; j < 25; j++) {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) { seed = (seed * 1103515245 + 12345) >>> 0; b[i] = seed >>> 24; }
    keys.push(b);
  }
for (const ex of ['binanceusdm', 'bybit', 'okx', 'hyperliquid'])
  for (const sym of ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT', 'DOGE/USDT:USDT', '1000PEPE/USDT:USDT', 'S13/USDT:USDT'])
    keys.push(ex + '|' + sym);
keys.push('', 'ü', 'äöü€𝄞'.repeat(7), 0, 12345, -1, 3.5);
`;
const MURMUR2 = `${KEYS}
const { createRequire } = require('node:module');
const murmur2 = createRequire(process.cwd() + '/package.json')('kafkajs/src/producer/partitioners/default/murmur2.js');
for (const k of keys) console.log(murmur2(k));
`;

function encodeIn(preamble: string, script = ENCODE): string {
  const r = spawnSync(
    process.execPath,
    ['--conditions=@perpflow/source', '--import', 'tsx', '--input-type=commonjs', '-e', preamble + script],
    // A wrong varint loop can spin forever (a sign-extending shift): fail, not hang.
    { cwd: PACKAGE_DIR, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  assert.equal(r.error, undefined, `the child process: ${r.error?.message}`);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** The script's lines with the fast paths in place, after checking that each of `paths` is. */
function patchedLines(script: string, paths: string[]): string[] {
  const check = paths.map((p) => `s.${p}`).join(' && ');
  return encodeIn(
    `require('@perpflow/kafka'); const s = require('@perpflow/kafka').kafkajsFastPaths(); if (!(${check})) throw new Error('not patched');`,
    script,
  ).split('\n');
}

/** The same lines, one by one (a failure names the first line that differs). */
function assertSameLines(patched: string[], original: string[]): void {
  assert.equal(patched.length, original.length);
  for (let i = 0; i < original.length; i++) assert.equal(patched[i], original[i], `line ${i}`);
}

describe('kafkajs fast paths', () => {
  it('computes CRC-32C: the standard check value, and kafkajs’s own answer for any bytes and offset', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    const bytewise = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
    let seed = 7;
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      big[i] = seed >>> 24;
    }
    for (let len = 0; len <= 300; len++)
      for (const at of [0, 1, 3, 5]) {
        const b = big.subarray(at, at + len);
        assert.equal(crc32c(b), bytewise(b), `length ${len} at byte offset ${at}`);
      }
    assert.equal(crc32c(big), bytewise(big));
  });

  it('is in place in this process (imported before kafkajs)', () => {
    const state = kafkajsFastPaths();
    assert.deepEqual(state, {
      kafkajsVersion: '2.2.4',
      encoder: true,
      crc32c: true,
      murmur2: true,
      produceRequest: true,
      requestFrame: true,
      groupByPartition: true,
      recordDecoder: true,
      kafkajsModulesLoadedBefore: 0,
    });
    const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => { buf: Buffer };
    assert.equal(
      new Encoder().buf.buffer.byteLength,
      Buffer.poolSize,
      'an encoder’s buffer is a slice of the pool',
    );
  });

  it('gives kafkajs’s record batch byte for byte, imported before kafkajs or after it', () => {
    const original = encodeIn('');
    assert.ok(original.length > 2 * 100_000, `the batch is ${original.length / 2} bytes`);
    const patched = encodeIn(
      "require('@perpflow/kafka'); if (!require('@perpflow/kafka').kafkajsFastPaths().encoder) throw new Error('not patched');",
    );
    assert.equal(patched, original);
    const late = encodeIn(
      "require('kafkajs'); const s = require('@perpflow/kafka').kafkajsFastPaths(); if (s.kafkajsModulesLoadedBefore === 0) throw new Error('kafkajs was not loaded first');",
    );
    assert.equal(late, original);
  });

  it('gives kafkajs’s produce request bytes, or its error, for messages and requests of every shape', () => {
    const original = encodeIn('', VARIANTS).split('\n');
    assert.equal(original.length, 12 * 9 + 9 + 9 * 2 + 12);
    // Shapes left to kafkajs, and kafkajs's answers to them, are among the lines.
    assert.ok(
      original.some((l) => l.startsWith('throws TypeError')),
      'a null header value throws in kafkajs',
    );
    assert.ok(original.filter((l) => !l.startsWith('throws')).length > 100, 'most shapes encode');
    assertSameLines(patchedLines(VARIANTS, ['produceRequest', 'requestFrame']), original);
  });

  it('decodes fetched records of every shape to kafkajs’s objects, or its error', () => {
    const original = encodeIn('', DECODE).split('\n');
    assert.equal(original.length, 11 + 20 * 2 + 1 + 6 + 24 + 4 + 6);
    assert.ok(
      original.some((l) => l.includes('constructor: [ [Function: Object], <Buffer 63> ]')),
      'an inherited name',
    );
    assert.ok(
      original.some((l) => l.startsWith('throws')),
      'some shapes throw in kafkajs',
    );
    assertSameLines(patchedLines(DECODE, ['recordDecoder']), original);
  });

  it('groups every send by partition as kafkajs does, in send order', () => {
    const original = encodeIn('', GROUP).split('\n');
    assert.equal(original.length, 8);
    assert.ok(original[2]!.length > 500 * 10, 'the groups are printed in full');
    assertSameLines(patchedLines(GROUP, ['groupByPartition']), original);
  });

  it('hashes every partition key as kafkajs’s murmur2 does, so each message keeps its partition', () => {
    const theirs = encodeIn('', MURMUR2).split('\n').map(Number);
    const keys = new Function(`${KEYS}; return keys;`)() as unknown[];
    assert.equal(theirs.length, keys.length);
    assert.equal(keys.length, 81 * 25 + 24 + 7);
    assert.ok(
      theirs.some((h) => h < 0),
      'kafkajs returns signed 32-bit hashes (the partitioner makes them positive)',
    );
    for (let i = 0; i < keys.length; i++)
      assert.equal(murmur2(keys[i]), theirs[i], `key ${i}: ${String(keys[i])}`);
  });

  it('writes and sizes every varint as kafkajs does, in the 32-bit range and beyond it', () => {
    const original = encodeIn('', VARINTS).split('\n');
    assert.equal(original.length, 39 + 20_000);
    assert.ok(
      original.some((l) => l.startsWith('1.5 ') && l.includes('throws RangeError')),
      'a non-integer varlong throws in kafkajs (BigInt of 1.5)',
    );
    const patched = encodeIn(
      "require('@perpflow/kafka'); if (!require('@perpflow/kafka').kafkajsFastPaths().encoder) throw new Error('not patched');",
      VARINTS,
    ).split('\n');
    assert.equal(patched.length, original.length);
    for (let i = 0; i < original.length; i++) assert.equal(patched[i], original[i], `line ${i}`);
  });
});
