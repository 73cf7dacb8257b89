import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32c, kafkajsFastPaths } from './kafkajs-fast-paths.js';

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

function encodeIn(preamble: string): string {
  const r = spawnSync(
    process.execPath,
    ['--conditions=@perpflow/source', '--import', 'tsx', '--input-type=commonjs', '-e', preamble + ENCODE],
    { cwd: PACKAGE_DIR, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
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
});
