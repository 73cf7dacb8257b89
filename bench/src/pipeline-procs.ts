/**
 * The pipeline's services as real processes for the end-to-end sections: simulator,
 * exchange-ingest, aligner and windower, each on a free port, the consumer groups
 * parked at the current end of their topics (they read only what this run makes),
 * the windower under an S3 prefix of its own.
 */
import { ListObjectsV2Command, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { TOPICS } from '@perpflow/contracts';
import { ensureTopics, pipelineTopics } from '@perpflow/kafka';
import {
  freePort,
  type ServiceProcess,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../../test/src/harness.js';
import { type BenchConfig, serviceNodeArgs } from './config.js';
import { benchKafka, parkGroupAtEnd } from './kafka-admin.js';

export interface Pipeline {
  sim: ServiceProcess;
  ingest: ServiceProcess;
  aligner: ServiceProcess;
  windower: ServiceProcess;
  simUrl: string;
  prefix: string;
  pids(): Record<string, number | undefined>;
  stop(): Promise<void>;
}

export async function startPipeline(
  c: BenchConfig,
  name: string,
  o: {
    simSymbols: number;
    simEnv?: Record<string, string>;
    ingestEnv: Record<string, string>;
    windowerEnv?: Record<string, string>;
  },
): Promise<Pipeline> {
  const kafka = benchKafka(c.kafkaBrokers, `perpflow-bench-${name}`);
  await ensureTopics(kafka, pipelineTopics());
  const alignerGroup = uniqueName(`bench-${name}-aligner`);
  const windowerGroup = uniqueName(`bench-${name}-windower`);
  await parkGroupAtEnd(kafka, alignerGroup, Object.values(TOPICS.raw));
  await parkGroupAtEnd(kafka, windowerGroup, [TOPICS.alignedBar]);
  const prefix = `bench/${uniqueName(name)}`;
  const [simPort, ingestPort, alignerPort, windowerPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const simUrl = `http://127.0.0.1:${simPort}`;
  const started: ServiceProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(started.map((s) => stopService(s)));
  };
  try {
    const sim = await startService({
      name: `bench-${name}-sim`,
      workspace: 'services/exchange-sim',
      env: { PORT: String(simPort), SYMBOLS: String(o.simSymbols), SEED: '42', ...o.simEnv },
      readyPort: simPort,
    });
    started.push(sim);
    const common = { KAFKA_BROKERS: c.kafkaBrokers, REDIS_URL: c.redisUrl, LOG_LEVEL: 'warn' };
    const ingest = await startService({
      name: `bench-${name}-ingest`,
      workspace: 'services/exchange-ingest',
      nodeArgs: serviceNodeArgs(c, `${name}-ingest`),
      env: {
        ...common,
        INGEST_EXCHANGES: 'binanceusdm',
        INGEST_ENDPOINTS: `binanceusdm=${simUrl}`,
        METRICS_PORT: String(ingestPort),
        ...o.ingestEnv,
      },
      readyPort: ingestPort,
      readyTimeoutMs: 120_000,
    });
    started.push(ingest);
    const aligner = await startService({
      name: `bench-${name}-aligner`,
      workspace: 'services/aligner',
      nodeArgs: serviceNodeArgs(c, `${name}-aligner`),
      env: {
        ...common,
        ALIGNER_GROUP_ID: alignerGroup,
        METRICS_PORT: String(alignerPort),
      },
      readyPort: alignerPort,
    });
    started.push(aligner);
    const windower = await startService({
      name: `bench-${name}-windower`,
      workspace: 'services/windower',
      nodeArgs: serviceNodeArgs(c, `${name}-windower`),
      env: {
        ...common,
        S3_ENDPOINT: c.s3Endpoint,
        S3_BUCKET: c.s3Bucket,
        S3_PREFIX: prefix,
        WINDOWER_GROUP_ID: windowerGroup,
        METRICS_PORT: String(windowerPort),
        ...o.windowerEnv,
      },
      readyPort: windowerPort,
    });
    started.push(windower);
    await waitFor(
      'simulator',
      async () => (await fetch(`${simUrl}/fapi.binance.com/fapi/v1/ping`)).ok,
      30_000,
    );
    return {
      sim,
      ingest,
      aligner,
      windower,
      simUrl,
      prefix,
      pids: () => ({
        sim: sim.child.pid,
        ingest: ingest.child.pid,
        aligner: aligner.child.pid,
        windower: windower.child.pid,
      }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface ManifestSummary {
  key: string;
  windowStartMs: number | null;
  rowCount: number;
  maxTsMs: number | null;
  writtenAtMs: number | null;
}

export function benchS3(c: BenchConfig): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: c.s3Endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * Manifests read by a section, by key: the ETag of the copy read and its summary. A
 * manifest whose listed ETag is the one read is not read again: polling every manifest
 * each second (300 windows in the backfill) was most of the local S3 server's requests,
 * on the same 2 cores as the pipeline it measures.
 */
export interface ManifestCache {
  entries: Map<string, { etag: string; summary: ManifestSummary }>;
  /** Manifests read (GET) through this cache. */
  gets: number;
}

export const manifestCache = (): ManifestCache => ({ entries: new Map(), gets: 0 });

/**
 * Every window manifest under `prefix` (latest tree), read loosely: row count, newest bar,
 * write time. With `cache`, only manifests new or changed since the last call are read.
 */
export async function readManifests(
  s3: S3Client,
  bucket: string,
  prefix: string,
  filter: (key: string) => boolean = () => true,
  cache: ManifestCache = manifestCache(),
): Promise<ManifestSummary[]> {
  const listed: { key: string; etag: string | undefined }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/aligned/`, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? [])
      if (o.Key?.endsWith('.manifest.json') && filter(o.Key)) listed.push({ key: o.Key, etag: o.ETag });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return Promise.all(
    listed.map(async ({ key, etag }) => {
      const known = cache.entries.get(key);
      if (known !== undefined && etag !== undefined && known.etag === etag) return known.summary;
      cache.gets++;
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      // Read loosely: the windower's manifest layout is being unified with @perpflow/dataset's.
      const m = JSON.parse(await body.Body!.transformToString()) as {
        window?: { startMs?: number };
        windowStartMs?: number;
        object?: { rowCount?: number };
        rowCount?: number;
        maxTsMs?: number | null;
        maxTs?: number | null;
        writtenAtMs?: number;
      };
      const summary: ManifestSummary = {
        key,
        windowStartMs: m.window?.startMs ?? m.windowStartMs ?? null,
        rowCount: m.object?.rowCount ?? m.rowCount ?? 0,
        maxTsMs: m.maxTsMs ?? m.maxTs ?? null,
        writtenAtMs: m.writtenAtMs ?? null,
      };
      // The ETag of the copy read (a later put may have replaced the listed one meanwhile).
      if (body.ETag !== undefined) cache.entries.set(key, { etag: body.ETag, summary });
      return summary;
    }),
  );
}
