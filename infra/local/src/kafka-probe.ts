/**
 * Readiness probe of the stack's Kafka broker: exits 0 when <host:port> answers a
 * Metadata request listing at least one broker, 1 otherwise (within the timeout).
 * Usage: node --import tsx infra/local/src/kafka-probe.ts 127.0.0.1:39092 [--topics] [timeoutMs]
 * With --topics it prints the topic names, one per line (a kafka-topics --list that
 * needs no JVM start).
 */
import { connect } from 'node:net';
import {
  type ClusterMetadata,
  completeFrameLength,
  decodeMetadataResponse,
  encodeMetadataRequest,
} from './kafka-wire.js';

export function fetchMetadata(host: string, port: number, timeoutMs: number): Promise<ClusterMetadata> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buf = Buffer.alloc(0);
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () =>
      fail(new Error(`no Metadata answer from ${host}:${port} within ${timeoutMs} ms`)),
    );
    socket.once('error', fail);
    socket.once('connect', () => socket.write(encodeMetadataRequest(1, 'perpflow-stack-probe')));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const len = completeFrameLength(buf);
      if (len === null) return;
      socket.end();
      try {
        resolve(decodeMetadataResponse(buf.subarray(0, len)));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

async function main(argv: string[]): Promise<number> {
  const [address = '127.0.0.1:39092', ...rest] = argv;
  const listTopics = rest.includes('--topics');
  const timeoutMs = Number(rest.find((a) => /^\d+$/.test(a)) ?? 3000);
  const sep = address.lastIndexOf(':');
  const md = await fetchMetadata(address.slice(0, sep), Number(address.slice(sep + 1)), timeoutMs);
  if (md.brokers.length === 0) throw new Error(`${address} answered Metadata with no brokers`);
  if (listTopics) for (const t of md.topics.map((t) => t.name).sort()) console.log(t);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`kafka-probe: ${err.message}`);
    process.exit(1);
  },
);
