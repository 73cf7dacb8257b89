import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completeFrameLength, decodeMetadataResponse, encodeMetadataRequest } from './kafka-wire.js';

function str(s: string): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(s));
  b.writeInt16BE(Buffer.byteLength(s), 0);
  b.write(s, 2);
  return b;
}
function i16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v, 0);
  return b;
}
function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v, 0);
  return b;
}
function frame(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([i32(body.length), body]);
}

describe('kafka-wire', () => {
  it('encodes a size-prefixed Metadata v1 request for every topic', () => {
    const req = encodeMetadataRequest(7, 'probe');
    assert.equal(req.readInt32BE(0), req.length - 4);
    assert.equal(req.readInt16BE(4), 3); // api key Metadata
    assert.equal(req.readInt16BE(6), 1); // version
    assert.equal(req.readInt32BE(8), 7); // correlation id
    assert.equal(req.toString('utf8', 14, 19), 'probe');
    assert.equal(req.readInt32BE(19), -1); // null topics: all
  });

  it('waits for the whole frame before decoding', () => {
    const f = frame(i32(1), i32(0), i32(0), i32(0));
    assert.equal(completeFrameLength(f.subarray(0, 3)), null);
    assert.equal(completeFrameLength(f.subarray(0, f.length - 1)), null);
    assert.equal(completeFrameLength(Buffer.concat([f, Buffer.from([9, 9])])), f.length);
  });

  it('decodes brokers, controller and topics with their partition counts', () => {
    const partition = (p: number) => Buffer.concat([i16(0), i32(p), i32(1), i32(1), i32(1), i32(1), i32(1)]);
    const f = frame(
      i32(42),
      i32(1), // one broker
      i32(1),
      str('127.0.0.1'),
      i32(39092),
      i16(-1), // null rack
      i32(1), // controller id
      i32(2), // two topics
      i16(0),
      str('perpflow.raw.ohlcv.v1'),
      Buffer.from([0]),
      i32(2),
      partition(0),
      partition(1),
      i16(0),
      str('__consumer_offsets'),
      Buffer.from([1]),
      i32(1),
      partition(0),
    );
    assert.deepEqual(decodeMetadataResponse(f), {
      correlationId: 42,
      brokers: [{ nodeId: 1, host: '127.0.0.1', port: 39092 }],
      controllerId: 1,
      topics: [
        { name: 'perpflow.raw.ohlcv.v1', errorCode: 0, internal: false, partitions: 2 },
        { name: '__consumer_offsets', errorCode: 0, internal: true, partitions: 1 },
      ],
    });
  });

  it('throws on a truncated frame instead of returning partial metadata', () => {
    const f = frame(i32(42), i32(1), i32(1), str('127.0.0.1'));
    assert.throws(() => decodeMetadataResponse(f));
  });
});
