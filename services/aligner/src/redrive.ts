/**
 * Re-drives dead letters after a fix: reads perpflow.dlq.v1 up to its current end,
 * picks the letters matching the filters, and produces each ORIGINAL payload
 * (byte for byte, same key, same headers) back to the topic it came from (a raw topic
 * for the aligner's letters, the aligned topic the windower consumed for the
 * windower's), with a `perpflow-redriven-from` header naming the dead letter, in
 * requests of at most MAX_SEND_BYTES. Skipped and counted: letters with a cut part
 * (`truncated`), letters whose source is not a Kafka topic (ingest's), and records of
 * the dead-letter topic that are not dead letters (not JSON, or not the schema), whose
 * offsets are listed.
 *
 *   npm run redrive -w @perpflow/aligner -- --rule contract.positive [--symbol BTC/USDT:USDT] [--since <ms>] [--dry-run]
 */
import {
  type DeadLetter,
  DeadLetterSchema,
  feedOfTopic,
  type PipelineTopicNames,
  pipelineTopicNames,
  TOPICS,
} from '@perpflow/contracts';
import {
  checkKafkaSecurity,
  createKafkaClient,
  kafkaConfigShape,
  kafkaSettingsFromConfig,
  type OutgoingMessage,
} from '@perpflow/kafka';
import { parseConfig } from '@perpflow/runtime';
import { z } from 'zod';
import { chunksByBytes, MAX_SEND_BYTES } from './pipeline.js';

export interface RedriveFilter {
  rule?: string | undefined;
  symbol?: string | undefined;
  sinceMs?: number | undefined;
}

/** A Kafka topic name (what the broker accepts). */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Whether a dead letter is re-drivable under the filter, and why not. */
export function redriveDecision(
  letter: DeadLetter,
  f: RedriveFilter,
  topics: PipelineTopicNames = TOPICS,
): 'redrive' | 'filtered' | 'truncated' | 'no-source-topic' {
  if (f.rule && letter.ruleId !== f.rule) return 'filtered';
  if (f.symbol && letter.symbol !== f.symbol) return 'filtered';
  if (f.sinceMs !== undefined && letter.deadLetteredAtMs < f.sinceMs) return 'filtered';
  const fromTopic =
    (letter.stage === 'aligner' && feedOfTopic(letter.source.topic, topics) !== null) ||
    (letter.stage === 'windower' && TOPIC_NAME.test(letter.source.topic));
  if (!fromTopic) return 'no-source-topic';
  if (letter.payloadTruncated || letter.truncated !== undefined) return 'truncated';
  return 'redrive';
}

/** Why a record of the dead-letter topic is not a dead letter, or the letter. */
export function readDeadLetter(
  value: Buffer | null,
): { letter: DeadLetter } | { invalid: 'not-json' | 'not-schema' } {
  let json: unknown;
  try {
    json = JSON.parse(value?.toString('utf8') ?? 'null');
  } catch {
    return { invalid: 'not-json' };
  }
  const parsed = DeadLetterSchema.safeParse(json);
  return parsed.success ? { letter: parsed.data } : { invalid: 'not-schema' };
}

/** Offsets listed per kind of invalid record, at most; the counts are always complete. */
const MAX_LISTED_OFFSETS = 100;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const config = parseConfig(z.object(kafkaConfigShape));
  checkKafkaSecurity(config);
  const filter: RedriveFilter = {
    rule: arg('--rule'),
    symbol: arg('--symbol'),
    sinceMs: arg('--since') ? Number(arg('--since')) : undefined,
  };
  if (!filter.rule && !filter.symbol)
    throw new Error(
      'give --rule <ruleId> and/or --symbol <unified symbol>: re-driving every dead letter at once is never what you want',
    );
  const dryRun = process.argv.includes('--dry-run');
  const topics = pipelineTopicNames(config.KAFKA_TOPIC_PREFIX);
  const kafka = createKafkaClient(kafkaSettingsFromConfig(config, 'redrive'));
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topics.deadLetter);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  const counts = {
    read: 0,
    redrive: 0,
    filtered: 0,
    truncated: 0,
    'no-source-topic': 0,
    'not-json': 0,
    'not-schema': 0,
    repeated: 0,
  };
  /** `<partition>/<offset>` of the dead-letter topic's records that are not dead letters. */
  const invalidAt: Record<'not-json' | 'not-schema', string[]> = { 'not-json': [], 'not-schema': [] };
  // The dead-letter topic is at-least-once: a batch replayed after a crash quarantines its
  // records again. One original record (topic, partition, offset) is re-driven once.
  const seenSources = new Set<string>();
  const out = new Map<string, OutgoingMessage[]>();
  if (remaining.size > 0) {
    // A group of its own that never commits: every run reads the whole topic.
    const consumer = kafka.groupConsumer({ groupId: `perpflow-redrive-${Date.now()}`, maxWaitTimeMs: 200 });
    await new Promise<void>((resolve, reject) => {
      consumer
        .consume({
          topics: [topics.deadLetter],
          fromBeginning: true,
          onGiveUp: reject,
          handle: async (batch) => {
            for (const m of batch.messages) {
              counts.read++;
              const read = readDeadLetter(m.value);
              if ('invalid' in read) {
                counts[read.invalid]++;
                const list = invalidAt[read.invalid];
                if (list.length < MAX_LISTED_OFFSETS) list.push(`${batch.partition}/${m.offset}`);
                continue;
              }
              const { letter } = read;
              const d = redriveDecision(letter, filter, topics);
              const source = `${letter.source.topic}/${letter.source.partition}/${letter.source.offset}`;
              if (d === 'redrive' && seenSources.has(source)) {
                counts.repeated++;
                continue;
              }
              counts[d]++;
              if (d !== 'redrive') continue;
              seenSources.add(source);
              const list = out.get(letter.source.topic) ?? [];
              list.push({
                key: letter.key,
                value: Buffer.from(letter.payload, letter.payloadEncoding === 'base64' ? 'base64' : 'utf8'),
                headers: {
                  ...letter.headers,
                  'perpflow-redriven-from': `${topics.deadLetter}/${batch.partition}/${m.offset}`,
                },
              });
              out.set(letter.source.topic, list);
            }
            const end = remaining.get(batch.partition);
            if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end)
              remaining.delete(batch.partition);
            if (remaining.size === 0) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
  }
  let requests = 0;
  if (!dryRun && counts.redrive > 0) {
    const producer = kafka.idempotentProducer();
    await producer.connect();
    for (const [topic, messages] of out)
      for (const chunk of chunksByBytes(messages, MAX_SEND_BYTES)) {
        await producer.send({ topic, messages: chunk });
        requests++;
      }
    await producer.disconnect();
  }
  console.log(
    JSON.stringify({
      ...counts,
      notJsonAt: invalidAt['not-json'],
      notSchemaAt: invalidAt['not-schema'],
      requests,
      dryRun,
      topics: Object.fromEntries([...out].map(([t, l]) => [t, l.length])),
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((err) => {
    console.error(`redrive: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
