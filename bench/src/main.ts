/**
 * npm run bench: each stage's throughput, latency and memory beside its reference,
 * measured in the same run on the same servers; prints a table, writes
 * results/<iso-time>.json and results/latest.json. Started by scripts/bench.sh,
 * which brings up the servers and exports their connection env.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchAligner } from './sections/aligner.js';
import { benchArchiver } from './sections/archiver.js';
import { benchBackfill } from './sections/backfill.js';
import { benchLive } from './sections/live.js';
import { benchPublish, type SectionResult } from './sections/publish.js';
import { benchPull } from './sections/pull.js';
import { benchReprocess } from './sections/reprocess.js';
import { benchWindower } from './sections/windower.js';
import { loadBenchConfig, type BenchConfig, type SectionName } from './config.js';
import { type Figure, makeFigure, renderTable } from './report.js';
import { loadNow, type LoadSample } from './system.js';

const RUNNERS: Record<SectionName, (c: BenchConfig) => Promise<SectionResult>> = {
  publish: benchPublish,
  aligner: benchAligner,
  windower: benchWindower,
  backfill: benchBackfill,
  live: benchLive,
  archiver: benchArchiver,
  reprocess: benchReprocess,
  pull: benchPull,
};

interface SectionRecord {
  name: SectionName;
  loadStart: LoadSample;
  loadEnd: LoadSample;
  seconds: number;
  figures: Figure[];
  details: Record<string, unknown>;
  error?: string;
}

async function main(): Promise<void> {
  const config = loadBenchConfig();
  const startedAt = new Date();
  const sections: SectionRecord[] = [];
  console.log(
    `bench: scale ${config.scale}, sections ${config.sections.join(',')}, stack ${config.stackKind} (${config.kafkaBrokers})${
      config.s3LatencyMs > 0 ? `, S3 answering ${config.s3LatencyMs} ms late` : ''
    }`,
  );
  if (config.s3LatencyMs > 0 && config.stackKind !== 'own')
    throw new Error('BENCH_S3_LATENCY_MS needs BENCH_STACK=own: the shared stack runs without it');
  for (const name of config.sections) {
    const loadStart = loadNow();
    const t0 = performance.now();
    console.log(`bench: ${name}… (load ${loadStart.load1.toFixed(2)} on ${loadStart.cpus} CPUs)`);
    let rec: SectionRecord;
    try {
      const r = await RUNNERS[name](config);
      rec = {
        name,
        loadStart,
        loadEnd: loadNow(),
        seconds: (performance.now() - t0) / 1000,
        figures: r.figures.map((f) => makeFigure(name, f)),
        details: r.details,
      };
    } catch (err) {
      rec = {
        name,
        loadStart,
        loadEnd: loadNow(),
        seconds: (performance.now() - t0) / 1000,
        figures: [],
        details: {},
        error: (err as Error).stack ?? String(err),
      };
      console.error(`bench: ${name} failed: ${(err as Error).message}`);
    }
    sections.push(rec);
    console.log(`bench: ${name} done in ${rec.seconds.toFixed(1)} s`);
    if (rec.figures.length) console.log(renderTable(rec.figures));
  }
  const figures = sections.flatMap((s) => s.figures);
  const result = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    scale: config.scale,
    stack: {
      kind: config.stackKind,
      kafka: config.kafkaBrokers,
      redis: config.redisUrl,
      s3: config.s3Endpoint,
    },
    node: process.version,
    config,
    sections,
  };
  const dir = resolve(config.resultsDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${startedAt.toISOString().replace(/[:]/g, '-')}.json`);
  const text = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(file, text);
  writeFileSync(join(dir, 'latest.json'), text);
  console.log(`\n${renderTable(figures)}\n\nresults: ${file} (and latest.json)`);
  const failed = sections.filter((s) => s.error);
  if (failed.length) {
    for (const s of failed) console.error(`section ${s.name} failed:\n${s.error}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
