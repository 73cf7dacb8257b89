/**
 * The aligner's publish path alone, in a process of its own (as the service is one): reads
 * bar messages (JSON lines of key, value, headers) and sends them in the pipeline's chunks
 * (MAX_SEND_BYTES), one request after the other, each awaited (acks=all, idempotent), after
 * a warm-up of the first 10 %. Prints one JSON line: {seconds, cpuSeconds} of the timed sends.
 *
 * node … src/produce-alone.ts <brokers> <topic> <messages.jsonl> kafkajs|platformatic
 * Started by sections/aligner.ts; a bench process holding a million records spends most of
 * a produce's CPU in its own garbage collector, which is no measure of the client.
 */
import { readFileSync } from 'node:fs';
import { createIdempotentProducer } from '@perpflow/kafka';
import type { Message } from 'kafkajs';
import { chunksByBytes, MAX_SEND_BYTES } from '../../services/aligner/src/pipeline.js';
import { alternativeSend } from './alt-client.js';
import { benchKafka } from './kafka-admin.js';

const [brokers, topic, file, client] = process.argv.slice(2);
if (!brokers || !topic || !file || (client !== 'kafkajs' && client !== 'platformatic')) {
  console.error('usage: produce-alone.ts <brokers> <topic> <messages.jsonl> kafkajs|platformatic');
  process.exit(2);
}
const messages = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as Message);
const warm = chunksByBytes(messages.slice(0, Math.ceil(messages.length / 10)), MAX_SEND_BYTES);
const timed = chunksByBytes(messages, MAX_SEND_BYTES);

if (client === 'platformatic') {
  console.log(JSON.stringify(await alternativeSend(brokers, topic, warm, timed)));
} else {
  const producer = createIdempotentProducer(benchKafka(brokers, 'perpflow-bench-produce-alone'));
  await producer.connect();
  try {
    for (const chunk of warm) await producer.send({ topic, messages: chunk });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const chunk of timed) await producer.send({ topic, messages: chunk });
    const cpu = process.cpuUsage(c0);
    console.log(
      JSON.stringify({ seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }),
    );
  } finally {
    await producer.disconnect();
  }
}
