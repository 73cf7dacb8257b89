/**
 * Just enough of the Kafka wire protocol to ask a broker for its metadata (Metadata v1)
 * without a client library: the stack's readiness probe must not depend on which
 * Kafka client the services happen to use. Pure: bytes in, values out.
 */

export const METADATA_API_KEY = 3;
export const METADATA_VERSION = 1;

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
}

export interface TopicInfo {
  name: string;
  errorCode: number;
  internal: boolean;
  partitions: number;
}

export interface ClusterMetadata {
  correlationId: number;
  brokers: BrokerInfo[];
  controllerId: number;
  topics: TopicInfo[];
}

/** A size-prefixed Metadata v1 request for all topics (request header v1). */
export function encodeMetadataRequest(correlationId: number, clientId: string): Buffer {
  const client = Buffer.from(clientId, 'utf8');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + client.length + 4);
  let o = body.writeInt16BE(METADATA_API_KEY, 0);
  o = body.writeInt16BE(METADATA_VERSION, o);
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(client.length, o);
  o += client.copy(body, o);
  body.writeInt32BE(-1, o); // null topic array: every topic
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/** Length of the first complete size-prefixed frame in `buf`, or null while incomplete. */
export function completeFrameLength(buf: Buffer): number | null {
  if (buf.length < 4) return null;
  const total = 4 + buf.readInt32BE(0);
  return buf.length >= total ? total : null;
}

class Reader {
  private o = 0;
  constructor(private readonly buf: Buffer) {}
  int8(): number {
    const v = this.buf.readInt8(this.o);
    this.o += 1;
    return v;
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.o);
    this.o += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.o);
    this.o += 4;
    return v;
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    const v = this.buf.toString('utf8', this.o, this.o + len);
    this.o += len;
    return v;
  }
  string(): string {
    const v = this.nullableString();
    if (v === null) throw new Error('kafka-wire: unexpected null string');
    return v;
  }
  array<T>(item: () => T): T[] {
    const n = this.int32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }
}

/** Decodes a size-prefixed Metadata v1 response frame. Throws on a truncated frame. */
export function decodeMetadataResponse(frame: Buffer): ClusterMetadata {
  const r = new Reader(frame.subarray(4, completeFrameLength(frame) ?? frame.length));
  const correlationId = r.int32();
  const brokers = r.array(() => {
    const nodeId = r.int32();
    const host = r.string();
    const port = r.int32();
    r.nullableString(); // rack
    return { nodeId, host, port };
  });
  const controllerId = r.int32();
  const topics = r.array(() => {
    const errorCode = r.int16();
    const name = r.string();
    const internal = r.int8() !== 0;
    const partitions = r.array(() => {
      r.int16(); // error code
      r.int32(); // partition index
      r.int32(); // leader
      r.array(() => r.int32()); // replicas
      r.array(() => r.int32()); // in-sync replicas
      return null;
    }).length;
    return { name, errorCode, internal, partitions };
  });
  return { correlationId, brokers, controllerId, topics };
}
