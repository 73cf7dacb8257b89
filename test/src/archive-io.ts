import { createHash } from 'node:crypto';
import {
  type ArchiveManifest,
  type ArchiveRow,
  type DayIndex,
  decodeArchiveParquet,
  parseArchiveManifest,
  parseDayIndex,
} from '@perpflow/archive';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka, Message } from 'kafkajs';
import { getBytes, listKeys } from './dataset-io.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** What the archive under a prefix holds, read the way a reader would (indexes → manifests → objects) plus a full listing to catch orphans. */
export interface StoredArchive {
  indexes: { key: string; index: DayIndex }[];
  /** Objects the indexes name, with their manifest and rows; `shaOk`: the manifest's sha256 is the object's. */
  indexed: { key: string; manifest: ArchiveManifest; rows: ArchiveRow[]; shaOk: boolean }[];
  /** Every .parquet key in the bucket under the prefix (indexed or not). */
  listedObjects: string[];
  listedManifests: string[];
  ledgers: string[];
}

export async function readArchive(client: S3Client, prefix: string): Promise<StoredArchive> {
  const indexKeys = (await listKeys(client, prefix)).filter((k) => k.endsWith('/_index.json'));
  const indexes: StoredArchive['indexes'] = [];
  for (const key of indexKeys) indexes.push({ key, index: parseDayIndex(await getBytes(client, key)) });
  const indexed: StoredArchive['indexed'] = [];
  for (const { index } of indexes)
    for (const o of index.objects) {
      const manifest = parseArchiveManifest(await getBytes(client, o.manifestKey));
      const body = await getBytes(client, o.key);
      indexed.push({
        key: o.key,
        manifest,
        rows: decodeArchiveParquet(body),
        shaOk: sha256(body) === manifest.object.sha256 && o.sha256 === manifest.object.sha256,
      });
    }
  // Listed after the indexes were read: the archiver puts an object and its manifest before
  // the index entry naming them, so every indexed object is in this listing. (Listed before,
  // a flush landing between the two showed an indexed object missing from the listing: an
  // e2e run at five files at once.)
  const keys = await listKeys(client, prefix);
  return {
    indexes,
    indexed,
    listedObjects: keys.filter((k) => k.endsWith('.parquet')),
    listedManifests: keys.filter((k) => k.endsWith('.manifest.json')),
    ledgers: keys.filter((k) => k.includes('/raw/_ledger/')),
  };
}

/** A record as produced: where Kafka put it and its exact bytes. */
export interface ProducedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

/** Produces messages to one partition in one send and returns each with the offset Kafka gave it. */
export async function produceToPartition(
  kafka: Kafka,
  topic: string,
  partition: number,
  messages: {
    key: Buffer | string | null;
    value: Buffer | string | null;
    headers?: Record<string, Buffer>;
  }[],
): Promise<ProducedRecord[]> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const [meta] = await producer.send({
      topic,
      messages: messages.map((m): Message => ({ ...m, partition, headers: m.headers ?? {} })),
    });
    if (!meta || meta.baseOffset === undefined) throw new Error(`no offset for ${topic}/${partition}`);
    const base = BigInt(meta.baseOffset);
    return messages.map((m, i) => ({
      topic,
      partition,
      offset: (base + BigInt(i)).toString(),
      key: m.key === null ? null : Buffer.from(m.key),
      value: m.value === null ? null : Buffer.from(m.value),
      headers: m.headers ?? {},
    }));
  } finally {
    await producer.disconnect();
  }
}

/** `topic/partition/offset` of every archived row, as a reader would count them (indexed objects only). */
export function archivedIds(a: StoredArchive): string[] {
  return a.indexed.flatMap((o) => o.rows.map((r) => `${r.topic}/${r.partition}/${r.offset}`));
}
