/**
 * Re-drives dead letters after a fix: reads perpflow.dlq.v1 up to its current end,
 * picks the letters matching the filters, and produces each ORIGINAL payload
 * (byte for byte, same key, same headers) back to the raw topic it came from, with
 * a `perpflow-redriven-from` header naming the dead letter. Truncated payloads and
 * letters whose source is not a raw topic are skipped and counted.
 *
 *   npm run redrive -w @perpflow/aligner -- --rule contract.positive [--symbol BTC/USDT:USDT] [--since <ms>] [--dry-run]
 */
import { type DeadLetter, DeadLetterSchema, feedOfTopic, TOPICS } from '@perpflow/contracts';
import {
  createIdempotentProducer,
  createKafka,
  kafkaConfigShape,
  kafkaSettingsFromConfig,
} from '@perpflow/kafka';
import { parseConfig } from '@perpflow/runtime';
import { z } from 'zod';

export interface RedriveFilter {
  rule?: string | undefined;
  symbol?: string | undefined;
  sinceMs?: number | undefined;
}

/** Whether a dead letter is re-drivable under the filter, and why not. */
export function redriveDecision(
  letter: DeadLetter,
  f: RedriveFilter,
): 'redrive' | 'filtered' | 'truncated' | 'not-raw' {
  if (f.rule && letter.ruleId !== f.rule) return 'filtered';
  if (f.symbol && letter.symbol !== f.symbol) return 'filtered';
  if (f.sinceMs !== undefined && letter.deadLetteredAtMs < f.sinceMs) return 'filtered';
  if (feedOfTopic(letter.source.topic) === null) return 'not-raw';
  if (letter.payloadTruncated) return 'truncated';
  return 'redrive';
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const config = parseConfig(z.object(kafkaConfigShape));
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
  const kafka = createKafka(kafkaSettingsFromConfig(config, 'redrive'));
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(TOPICS.deadLetter);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  const counts = { read: 0, redrive: 0, filtered: 0, truncated: 0, 'not-raw': 0, invalid: 0, repeated: 0 };
  // The dead-letter topic is at-least-once: a batch replayed after a crash quarantines its
  // records again. One original record (topic, partition, offset) is re-driven once.
  const seenSources = new Set<string>();
  const out = new Map<string, { key: string | null; value: Buffer; headers: Record<string, string> }[]>();
  if (remaining.size > 0) {
    const consumer = kafka.consumer({ groupId: `perpflow-redrive-${Date.now()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.deadLetter, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              counts.read++;
              const parsed = DeadLetterSchema.safeParse(JSON.parse(m.value?.toString() ?? 'null'));
              if (!parsed.success) {
                counts.invalid++;
                continue;
              }
              const letter = parsed.data;
              const d = redriveDecision(letter, filter);
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
                  'perpflow-redriven-from': `${TOPICS.deadLetter}/${batch.partition}/${m.offset}`,
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
  if (!dryRun && counts.redrive > 0) {
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    for (const [topic, messages] of out) await producer.send({ topic, messages });
    await producer.disconnect();
  }
  console.log(
    JSON.stringify({
      ...counts,
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
