/**
 * Live latency: the simulator at real speed (its clock is this host's wall clock),
 * exchange-ingest's live loops over L symbols, the aligner and the windower.
 * Bar close = the bar's eventTimeMs + 1 min on the simulator's clock.
 *  - → aligned topic: the aligned message's Kafka timestamp (set by the aligner's
 *    producer when it sends the bar) minus the bar close.
 *  - → durable in S3: the writtenAtMs of the first manifest (of a sample of
 *    symbols, polled every second) whose newest bar is at or after the bar, minus
 *    the bar close; the windower writes the manifest after the object.
 * Only bars that close after every service is ready count (no start-up catch-up).
 * Also peak RSS (VmHWM) of each service with L symbols live.
 */
import { TOPICS } from '@perpflow/contracts';
import { encodeSymbol } from '@perpflow/dataset';
import { ensureTopics, pipelineTopics } from '@perpflow/kafka';
import { sleep, uniqueName } from '../../../test/src/harness.js';
import type { BenchConfig } from '../config.js';
import { benchKafka, parkGroupAtEnd } from '../kafka-admin.js';
import { DAY_MS, TF_MS, universe } from '../market-data.js';
import { benchS3, manifestCache, readManifests, startPipeline } from '../pipeline-procs.js';
import { type FigureInput, percentile } from '../report.js';
import { PeakMemory } from '../system.js';
import type { SectionResult } from './publish.js';

const S3_SAMPLE = 10;

export async function benchLive(c: BenchConfig): Promise<SectionResult> {
  const u = universe(c.liveSymbols, Date.now() - 2 * DAY_MS);
  const kafka = benchKafka(c.kafkaBrokers, 'perpflow-bench-live');
  const group = uniqueName('bench-live-reader');
  // Run alone on a fresh stack (BENCH_SECTIONS=live) the aligned topic does not exist yet.
  await ensureTopics(kafka, pipelineTopics());
  await parkGroupAtEnd(kafka, group, [TOPICS.alignedBar]);
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.alignedBar });
  const seen: { symbol: string; closeMs: number; kafkaMs: number; revision: number }[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      const bar = JSON.parse(String(message.value)) as {
        symbol: string;
        eventTimeMs: number;
        revision: number;
      };
      seen.push({
        symbol: bar.symbol,
        closeMs: bar.eventTimeMs + TF_MS,
        kafkaMs: Number(message.timestamp),
        revision: bar.revision,
      });
    },
  });

  const p = await startPipeline(c, 'live', {
    simSymbols: u.model.symbols.length,
    simEnv: { PUSH_INTERVAL_MS: String(c.liveSimPushMs) },
    ingestEnv: {
      INGEST_LIVE: 'true',
      INGEST_BACKFILL_WORKER: 'false',
      INGEST_SYMBOL_LIMIT: String(c.liveSymbols),
    },
  });
  const readyMs = Date.now();
  const mem = new PeakMemory(p.pids());
  const s3 = benchS3(c);
  // The S3 sample: the first symbols seen on the aligned topic (ingest picks its own universe).
  const sample: string[] = [];
  const sampleKeys: string[] = [];
  // Per sampled symbol: [newest bar time, manifest writtenAtMs] in the order first seen.
  const versions = new Map<string, { maxTsMs: number; writtenAtMs: number }[]>();
  try {
    // Bars closing at the next K minute boundaries after start-up.
    const firstClose = Math.ceil((readyMs + 1) / TF_MS) * TF_MS;
    const closes = Array.from({ length: c.liveBarCloses }, (_, k) => firstClose + k * TF_MS);
    const lastClose = closes.at(-1)!;
    const deadline = lastClose + 3 * TF_MS;
    const inKafka = () =>
      new Set(
        seen
          .filter((s) => s.revision === 0 && s.closeMs >= firstClose && s.closeMs <= lastClose)
          .map((s) => `${s.symbol}@${s.closeMs}`),
      ).size;
    const durableAll = () =>
      sample.length > 0 &&
      sample.every((sym) => (versions.get(sym) ?? []).some((v) => v.maxTsMs + TF_MS >= lastClose));
    const read = manifestCache();
    while (Date.now() < deadline) {
      await sleep(1_000);
      for (const s of seen) {
        if (sample.length >= S3_SAMPLE) break;
        if (sample.includes(s.symbol)) continue;
        sample.push(s.symbol);
        sampleKeys.push(`symbol=${encodeSymbol(s.symbol)}/`);
      }
      for (const m of await readManifests(
        s3,
        c.s3Bucket,
        p.prefix,
        (k) => sampleKeys.some((s) => k.includes(s)),
        read,
      )) {
        const sym = sample[sampleKeys.findIndex((s) => m.key.includes(s))]!;
        const list = versions.get(sym) ?? [];
        if (m.maxTsMs !== null && !list.some((v) => v.maxTsMs === m.maxTsMs))
          list.push({ maxTsMs: m.maxTsMs, writtenAtMs: m.writtenAtMs ?? Date.now() });
        versions.set(sym, list);
      }
      if (inKafka() >= c.liveSymbols * closes.length && durableAll()) break;
    }
    const peaks = mem.stop();
    const live = seen.filter((s) => s.revision === 0 && s.closeMs >= firstClose && s.closeMs <= lastClose);
    const toKafka = live.map((s) => s.kafkaMs - s.closeMs);
    const toS3: number[] = [];
    for (const s of live) {
      if (!sample.includes(s.symbol)) continue;
      const v = (versions.get(s.symbol) ?? []).find((x) => x.maxTsMs + TF_MS >= s.closeMs);
      if (v) toS3.push(v.writtenAtMs - s.closeMs);
    }
    const expectedBars = c.liveSymbols * closes.length;
    const figures: FigureInput[] = [
      {
        name: 'live bar close → aligned topic p50',
        value: percentile(toKafka, 50),
        unit: 'ms',
        note: `${toKafka.length} of ${expectedBars} bars (${c.liveSymbols} symbols × ${closes.length} closes), simulator push every ${c.liveSimPushMs} ms`,
      },
      {
        name: 'live bar close → aligned topic p99',
        value: percentile(toKafka, 99),
        unit: 'ms',
        target: { op: '<=', value: 1_000 },
      },
      {
        name: 'live bar close → durable in S3 p50',
        value: percentile(toS3, 50),
        unit: 'ms',
        note: `${toS3.length} bars of ${S3_SAMPLE} sampled symbols`,
      },
      { name: 'live bar close → durable in S3 p99', value: percentile(toS3, 99), unit: 'ms' },
      ...Object.entries(peaks).map(([svc, mib]) => ({
        name: `live peak RSS ${svc} (${c.liveSymbols} symbols)`,
        value: mib,
        unit: 'MiB',
        target: { op: '<=' as const, value: 300 },
      })),
    ];
    return {
      figures,
      details: {
        symbols: c.liveSymbols,
        closes,
        barsInKafka: toKafka.length,
        expectedBars,
        barsDurableSampled: toS3.length,
        toKafkaMs: {
          min: Math.min(...toKafka),
          p50: percentile(toKafka, 50),
          p99: percentile(toKafka, 99),
          max: Math.max(...toKafka),
        },
        toS3Ms: { p50: percentile(toS3, 50), p99: percentile(toS3, 99) },
        peakRssMiB: peaks,
        prefix: p.prefix,
      },
    };
  } finally {
    mem.stop();
    s3.destroy();
    await p.stop();
    await consumer.disconnect();
  }
}
