import { Message, type Schema } from 'apache-arrow';
import { BufferRegion, FieldNode, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';

/**
 * The Arrow IPC stream parquet-wasm reads (`Table.fromIPCStream`), written directly:
 * the schema message encoded once per schema, then one record batch whose body is
 * our column buffers copied once into the one output array. apache-arrow's
 * `tableToIPC` re-encodes the schema, goes through a byte queue and joins the chunks
 * again: 10 % of the encoder for a 1,440-row file. Only flat columns (no children,
 * no dictionaries), which is all the aligned-bar layout has.
 */
export interface IpcColumn {
  nullCount: number;
  /** The column's Arrow buffers in IPC order: validity (null when no nulls), then offsets/values. */
  buffers: readonly (ArrayBufferView | null)[];
}

const CONTINUATION = 0xffffffff;
const pad8 = (n: number) => (n + 7) & ~7;

/** A message framed as in the stream format: continuation, padded length, flatbuffer, padding. */
function framed(metadata: Uint8Array): Uint8Array {
  const size = pad8(8 + metadata.byteLength);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, CONTINUATION, true);
  view.setInt32(4, size - 8, true);
  out.set(metadata, 8);
  return out;
}

const schemaMessages = new WeakMap<Schema, Uint8Array>();

function schemaMessage(schema: Schema): Uint8Array {
  let m = schemaMessages.get(schema);
  if (m === undefined) {
    m = framed(Message.encode(Message.from(schema)));
    schemaMessages.set(schema, m);
  }
  return m;
}

/** schema + one record batch of `length` rows + end-of-stream, as one array. */
export function ipcStreamOf(schema: Schema, length: number, columns: readonly IpcColumn[]): Uint8Array {
  const nodes: FieldNode[] = [];
  const regions: BufferRegion[] = [];
  let bodyLength = 0;
  for (const c of columns) {
    nodes.push(new FieldNode(length, c.nullCount));
    for (const b of c.buffers) {
      const n = b === null ? 0 : b.byteLength;
      regions.push(new BufferRegion(bodyLength, n));
      bodyLength += pad8(n);
    }
  }
  const head = schemaMessage(schema);
  const batch = framed(
    Message.encode(Message.from(new RecordBatchHeader(length, nodes, regions, null), bodyLength)),
  );
  const out = new Uint8Array(head.byteLength + batch.byteLength + bodyLength + 8);
  out.set(head, 0);
  out.set(batch, head.byteLength);
  let at = head.byteLength + batch.byteLength;
  for (const c of columns)
    for (const b of c.buffers) {
      if (b === null) continue;
      out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at);
      at += pad8(b.byteLength);
    }
  // End of stream: continuation marker and a zero length.
  new DataView(out.buffer).setUint32(out.byteLength - 8, CONTINUATION, true);
  return out;
}
