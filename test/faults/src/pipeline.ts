/**
 * The whole pipeline for the fault suite, on the stack the env names: the simulator
 * (deterministic from SEED), exchange-ingest (backfill worker), the aligner and the
 * windower writing to a private S3 prefix. Scenarios backfill consecutive time
 * ranges of the same symbols, so each scenario's bars are its own, and compare
 * what S3 holds with the simulator's klines read over its REST API.
 */
import type { AlignedBar, Candle } from '@perpflow/contracts';
import { TOPICS } from '../../src/harness.js';
import {
  decodeParquetToBars,
  manifestKey,
  parseSeriesIndex,
  parseWindowManifest,
  seriesFolder,
  seriesIndexKey,
  ObjectIntegrityError,
  verifyObject,
} from '@perpflow/dataset';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type Kafka, Partitioners } from 'kafkajs';
import { getBytes, listKeys, testS3 } from '../../src/dataset-io.js';
import {
  freePort,
  metricSum,
  ROOT,
  runTool,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../../src/harness.js';
import { ensurePipelineTopics, readTopic, setGroupOffsets, testKafka } from '../../src/kafka-io.js';

export const EXCHANGE = 'binanceusdm';
export const TF = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export interface Range {
  fromMs: number;
  toMs: number;
}

export { seededRandom } from '../../src/random.js';

export type ServiceName = 'ingest' | 'aligner' | 'windower' | 'archiver';

interface Spec {
  workspace: string;
  port: number;
  env: Record<string, string>;
}

/** What S3 holds for the symbols in a range, against the simulator's candles. */
export interface Comparison {
  expected: number;
  found: number;
  duplicated: number;
  lost: number;
  /** (symbol, minute) whose values differ from the simulator's candle. */
  different: string[];
  /** Windows with more than one Parquet object or manifest, or an index entry twice. */
  windowProblems: string[];
  missingSample: string[];
}

export class Pipeline {
  readonly kafka: Kafka = testKafka();
  readonly s3 = testS3();
  readonly prefix = uniqueName('faults');
  /** BullMQ queue of this run only: other runs' workers on the same Redis never take its jobs. */
  readonly queue = uniqueName('faults-backfill');
  readonly simUrl: string;
  private readonly specs: Record<ServiceName, Spec>;
  private readonly running = new Map<ServiceName, ServiceProcess>();
  private sim: ServiceProcess | null = null;
  private starts = 0;
  /**
   * The suite supervises the services the way compose's `restart: unless-stopped` does:
   * a service that exits on its own (e.g. its Kafka consumer gave up while the broker was
   * away) is started again, from its committed offsets and snapshots. kill() and stopAll()
   * are deliberate and are not restarted.
   */
  private supervising = true;
  /** Exits on their own, and restarts the supervisor made, per service. */
  readonly restarts: Record<ServiceName, number> = { ingest: 0, aligner: 0, windower: 0, archiver: 0 };

  constructor(
    readonly seed: number,
    readonly symbols: string[],
    private readonly simPort: number,
    ports: Record<ServiceName, number>,
    /** Runs the archiver too (raw topics and dead letters to <prefix>/raw), for the reprocess tests. */
    readonly withArchiver = false,
  ) {
    this.simUrl = `http://127.0.0.1:${simPort}`;
    const common = { KAFKA_BROKERS: STACK.kafkaBrokers, LOG_LEVEL: 'info' };
    this.specs = {
      ingest: {
        workspace: 'services/exchange-ingest',
        port: ports.ingest,
        env: {
          ...common,
          REDIS_URL: STACK.redisUrl,
          INGEST_EXCHANGES: EXCHANGE,
          INGEST_ENDPOINTS: `${EXCHANGE}=${this.simUrl}`,
          INGEST_LIVE: 'false',
          INGEST_BACKFILL_CONCURRENCY: '3',
          // A SIGKILLed worker's job is taken up again 10-20 s later (BullMQ's default lock
          // of 30 s made it 30-60 s, the larger part of kill-ingest's 105 s).
          INGEST_BACKFILL_LOCK_MS: '10000',
          INGEST_BACKFILL_QUEUE: this.queue,
          METRICS_PORT: String(ports.ingest),
        },
      },
      aligner: {
        workspace: 'services/aligner',
        port: ports.aligner,
        env: {
          ...common,
          REDIS_URL: STACK.redisUrl,
          // S3: where the aligner writes its dataset version's descriptor (beside the windower's tree).
          S3_ENDPOINT: STACK.s3Endpoint,
          S3_BUCKET: STACK.s3Bucket,
          S3_PREFIX: this.prefix,
          ALIGNER_GROUP_ID: uniqueName('faults-aligner'),
          ALIGNER_FROM_BEGINNING: 'false',
          ALIGNER_ALLOWED_LATENESS_MS: '0',
          METRICS_PORT: String(ports.aligner),
        },
      },
      archiver: {
        workspace: 'services/archiver',
        port: ports.archiver,
        env: {
          ...common,
          S3_ENDPOINT: STACK.s3Endpoint,
          S3_BUCKET: STACK.s3Bucket,
          S3_PREFIX: this.prefix,
          ARCHIVER_GROUP_ID: uniqueName('faults-archiver'),
          ARCHIVER_FROM_BEGINNING: 'false',
          ARCHIVER_MAX_OBJECT_AGE_MS: '2000',
          ARCHIVER_SESSION_TIMEOUT_MS: '6000',
          METRICS_PORT: String(ports.archiver),
        },
      },
      windower: {
        workspace: 'services/windower',
        port: ports.windower,
        env: {
          ...common,
          S3_ENDPOINT: STACK.s3Endpoint,
          S3_BUCKET: STACK.s3Bucket,
          S3_PREFIX: this.prefix,
          WINDOWER_GROUP_ID: uniqueName('faults-windower'),
          WINDOWER_FROM_BEGINNING: 'false',
          WINDOWER_FLUSH_INTERVAL_MS: '1000',
          WINDOWER_SESSION_TIMEOUT_MS: '6000',
          METRICS_PORT: String(ports.windower),
        },
      },
    };
  }

  static async create(seed: number, symbols: string[], opts: { archiver?: boolean } = {}): Promise<Pipeline> {
    return new Pipeline(
      seed,
      symbols,
      await freePort(),
      {
        ingest: await freePort(),
        aligner: await freePort(),
        windower: await freePort(),
        archiver: await freePort(),
      },
      opts.archiver ?? false,
    );
  }

  metricsUrl(s: ServiceName): string {
    return `http://127.0.0.1:${this.specs[s].port}`;
  }

  async startAll(): Promise<void> {
    await ensurePipelineTopics();
    await this.startSim();
    await this.commitGroupsAtLogEnd();
    await this.start('windower');
    if (this.withArchiver) await this.start('archiver');
    await this.start('aligner');
    await this.start('ingest');
  }

  /** The simulator and the ingest alone: what a backfill and its bookkeeping need. */
  async startBackfillOnly(): Promise<void> {
    await ensurePipelineTopics();
    await this.startSim();
    await this.start('ingest');
  }

  private async startSim(): Promise<void> {
    this.sim = await startService({
      name: 'faults-sim',
      workspace: 'services/exchange-sim',
      env: { PORT: String(this.simPort), SYMBOLS: '40', SEED: String(this.seed), OI_RETENTION_DAYS: '3650' },
      readyPort: null,
    });
    await waitFor(
      'simulator',
      async () => (await fetch(`${this.simUrl}/fapi.binance.com/fapi/v1/ping`)).ok,
      60_000,
    );
  }

  /**
   * Commits the aligner's and the windower's new groups at the log end of the topics they
   * read, before either starts. A group with no committed offset starts wherever
   * `*_FROM_BEGINNING=false` puts it at each start: a service SIGKILLed before its first
   * commit came back at the then log end and skipped everything in between
   * (FAULTS_SCENARIOS=kill-windower alone lost bars; in the suite an earlier scenario had
   * committed). Committed offsets make every start, first or after a kill, resume from them.
   */
  private async commitGroupsAtLogEnd(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const groups: [string, string[]][] = [
        [this.specs.aligner.env.ALIGNER_GROUP_ID as string, Object.values(TOPICS.raw)],
        [this.specs.windower.env.WINDOWER_GROUP_ID as string, [TOPICS.alignedBar]],
        ...(this.withArchiver
          ? ([
              [
                this.specs.archiver.env.ARCHIVER_GROUP_ID as string,
                [...Object.values(TOPICS.raw), TOPICS.deadLetter],
              ],
            ] as [string, string[]][])
          : []),
      ];
      for (const [groupId, topics] of groups)
        for (const topic of topics) {
          const ends = await admin.fetchTopicOffsets(topic);
          await setGroupOffsets(
            admin,
            groupId,
            topic,
            ends.map((e) => ({ partition: e.partition, offset: e.high })),
          );
        }
    } finally {
      await admin.disconnect();
    }
  }

  /** Settings for a service's next start (a running one keeps its own until restarted). */
  configure(s: ServiceName, env: Record<string, string>): void {
    this.specs[s].env = { ...this.specs[s].env, ...env };
  }

  async start(s: ServiceName): Promise<ServiceProcess> {
    const spec = this.specs[s];
    const p = await startService({
      name: `faults-${s}-${++this.starts}`,
      workspace: spec.workspace,
      env: spec.env,
      readyPort: spec.port,
      readyTimeoutMs: 120_000,
    });
    this.running.set(s, p);
    void p.exited.then((code) => {
      if (this.supervising && this.running.get(s) === p) void this.restartAfterExit(s, p, code);
    });
    return p;
  }

  /** Starts an exited service again, every 2 s until it is ready (the stack may still be down). */
  private async restartAfterExit(s: ServiceName, p: ServiceProcess, code: number | string): Promise<void> {
    this.restarts[s]++;
    const reason = /"msg":"([^"]*)"/.exec(p.log().trim().split('\n').slice(-20).reverse().join('\n'))?.[1];
    console.log(`supervisor: ${s} exited (${code}${reason ? `: ${reason}` : ''}); starting it again`);
    for (let attempt = 1; this.supervising && this.running.get(s) === p; attempt++) {
      await new Promise((r) => setTimeout(r, 2_000));
      try {
        await this.start(s);
        console.log(`supervisor: ${s} ready again (attempt ${attempt})`);
        return;
      } catch (err) {
        if (attempt >= 60) {
          console.log(`supervisor: gave up on ${s}: ${(err as Error).message.split('\n')[0]}`);
          return;
        }
      }
    }
  }

  /** Resident set size (VmRSS) of each running service now, in MiB (Linux /proc). */
  rssMiB(): Partial<Record<ServiceName, number>> {
    const out: Partial<Record<ServiceName, number>> = {};
    for (const [s, p] of this.running) {
      if (p.child.pid === undefined || !this.isRunning(s)) continue;
      try {
        const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))?.[1];
        if (kb) out[s] = Number(kb) / 1024;
      } catch {
        // exited between the check and the read
      }
    }
    return out;
  }

  /**
   * Samples rssMiB() every 250 ms until the returned function is called; it returns the peak
   * of each service this pipeline runs (the archiver only when it was asked for): one never
   * seen running shows as 0, which the callers refuse.
   */
  sampleRss(): () => Partial<Record<ServiceName, number>> {
    const peak: Partial<Record<ServiceName, number>> = { ingest: 0, aligner: 0, windower: 0 };
    if (this.withArchiver) peak.archiver = 0;
    const sample = () => {
      for (const [s, v] of Object.entries(this.rssMiB()) as [ServiceName, number][])
        if (s in peak) peak[s] = Math.max(peak[s] ?? 0, v);
    };
    sample();
    const timer = setInterval(sample, 250);
    return () => {
      clearInterval(timer);
      sample();
      return peak;
    };
  }

  async kill(s: ServiceName): Promise<number | string> {
    const p = this.running.get(s);
    if (!p) throw new Error(`${s} is not running`);
    this.running.delete(s);
    return stopService(p, 'SIGKILL');
  }

  /** Stops one service gracefully (SIGTERM: it commits what is durable and leaves its group). */
  async stop(s: ServiceName): Promise<number | string> {
    const p = this.running.get(s);
    if (!p) throw new Error(`${s} is not running`);
    this.running.delete(s);
    return stopService(p);
  }

  isRunning(s: ServiceName): boolean {
    const p = this.running.get(s);
    return p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
  }

  async stopAll(): Promise<void> {
    this.supervising = false;
    for (const s of ['ingest', 'aligner', 'windower', 'archiver'] as const) {
      const p = this.running.get(s);
      if (p) await stopService(p);
    }
    this.running.clear();
    if (this.sim) await stopService(this.sim);
  }

  /**
   * Resolves once the archiver has committed every record of the raw topics and the
   * dead-letter topic up to their current ends (it commits only after objects, manifests
   * and indexes are on S3), i.e. the archive holds all that was published so far.
   */
  async archiveCaughtUp(timeoutMs = 120_000): Promise<void> {
    const groupId = this.specs.archiver.env.ARCHIVER_GROUP_ID as string;
    const topics = [...Object.values(TOPICS.raw), TOPICS.deadLetter];
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const ends = new Map<string, string>();
      for (const topic of topics)
        for (const e of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${e.partition}`, e.high);
      await waitFor(
        'the archiver to commit up to the raw topics’ ends',
        async () => {
          for (const t of await admin.fetchOffsets({ groupId, topics })) {
            for (const p of t.partitions) {
              const end = BigInt(ends.get(`${t.topic}/${p.partition}`) ?? '0');
              const at = p.offset === '-1' ? 0n : BigInt(p.offset);
              if (at < end) return false;
            }
          }
          return true;
        },
        timeoutMs,
      );
    } finally {
      await admin.disconnect();
    }
  }

  /** Starts a backfill of every symbol over the range (candles, open interest, funding). */
  backfill(range: Range, symbols: string[] = this.symbols): string {
    const id = uniqueName('faults');
    const r = runTool(
      'services/exchange-ingest',
      'src/cli.ts',
      [
        'start',
        '--id',
        id,
        '--exchange',
        EXCHANGE,
        '--symbols',
        symbols.join(','),
        '--from',
        String(range.fromMs),
        '--to',
        String(range.toMs),
      ],
      { REDIS_URL: STACK.redisUrl, INGEST_BACKFILL_QUEUE: this.queue },
    );
    if (r.status !== 0) throw new Error(`backfill start failed: ${r.stderr}`);
    return id;
  }

  /** "done/total" jobs as `perpflow-backfill status` prints them. */
  backfillStatus(id: string): string {
    const s = runTool('services/exchange-ingest', 'src/cli.ts', ['status', id], {
      REDIS_URL: STACK.redisUrl,
      INGEST_BACKFILL_QUEUE: this.queue,
    });
    return /(\d+\/\d+) jobs/.exec(s.stdout)?.[1] ?? `unknown (${s.stderr.trim().slice(0, 200)})`;
  }

  backfillDone(id: string): boolean {
    const [done, total] = this.backfillStatus(id).split('/');
    return done !== undefined && done === total;
  }

  /**
   * fetch to the simulator, retried: a kept-alive connection the server has just closed
   * fails with "other side closed" (every call here is idempotent).
   */
  private async simFetch(url: string, init?: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt++)
      try {
        return await fetch(url, init);
      } catch (err) {
        if (attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
  }

  /** GET as the checker (source 127.0.0.2); waits out a 429's Retry-After, up to 3 times. */
  private async checkerGetJson(url: string): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const { status, retryAfterS, body } = await new Promise<{
        status: number;
        retryAfterS: number;
        body: string;
      }>((resolve, reject) => {
        const req = httpRequest(url, { localAddress: '127.0.0.2' }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              retryAfterS: Number(res.headers['retry-after'] ?? 1),
              body: text,
            }),
          );
          res.on('error', reject);
        });
        req.setTimeout(30_000, () => req.destroy(new Error(`checker GET ${url}: no answer in 30 s`)));
        req.on('error', reject);
        req.end();
      });
      if (status === 200) return JSON.parse(body);
      if (status === 429 && attempt <= 3) {
        await new Promise((r) => setTimeout(r, Math.max(1, retryAfterS) * 1000));
        continue;
      }
      throw new Error(`checker GET ${url}: ${status} ${body.slice(0, 200)}`);
    }
  }

  async simFaults(spec: Record<string, unknown>): Promise<void> {
    const r = await this.simFetch(`${this.simUrl}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spec),
    });
    if (!r.ok) throw new Error(`POST /__sim/faults: ${r.status} ${await r.text()}`);
  }

  /** perpflow_sim_faults_injected_total by kind. */
  async simFaultCounts(): Promise<Record<string, number>> {
    const text = await (await this.simFetch(`${this.simUrl}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^perpflow_sim_faults_injected_total\{([^}]*)\} (\S+)$/gm)) {
      const kind = /kind="([^"]+)"/.exec(m[1] ?? '')?.[1] ?? m[1] ?? '';
      out[kind] = (out[kind] ?? 0) + Number(m[2]);
    }
    return out;
  }

  /** Every perpetual the simulator lists, as ccxt symbols (BASE/USDT:USDT). */
  async simSymbols(): Promise<string[]> {
    const res = await this.simFetch(`${this.simUrl}/fapi.binance.com/fapi/v1/exchangeInfo`);
    if (!res.ok) throw new Error(`simulator exchangeInfo: ${res.status}`);
    const info = (await res.json()) as { symbols: { baseAsset: string; quoteAsset: string }[] };
    return info.symbols.map((s) => `${s.baseAsset}/${s.quoteAsset}:${s.quoteAsset}`);
  }

  /**
   * The simulator's closed 1m candles of one symbol in the range (its REST API, paged).
   * The checker is another client of the exchange: it connects from 127.0.0.2, so the
   * simulator counts its request weight apart from the ingest worker's (the weight
   * limit is per IP, as Binance's is), and on a 429 it waits the Retry-After and asks
   * again. Reading every symbol of the load scenario from 127.0.0.1 spent the worker's
   * budget and got a 429 (CI run of b04f725).
   */
  async simKlines(symbol: string, range: Range): Promise<number[][]> {
    const id = symbol.replace('/USDT:USDT', 'USDT');
    const out: number[][] = [];
    for (let since = range.fromMs; since < range.toMs; ) {
      const rows = (await this.checkerGetJson(
        `${this.simUrl}/fapi.binance.com/fapi/v1/klines?symbol=${id}&interval=1m&startTime=${since}&endTime=${range.toMs - 1}&limit=1500`,
      )) as unknown[][];
      if (rows.length === 0) break;
      for (const r of rows)
        out.push([Number(r[0]), Number(r[1]), Number(r[2]), Number(r[3]), Number(r[4]), Number(r[5])]);
      since = Number(rows.at(-1)?.[0]) + TF;
    }
    return out;
  }

  /**
   * One window's manifest and its object, the object checked against the manifest (size
   * and sha256). The windower rewrites an open window's object, then its manifest: a read
   * between the two sees the new object under the old manifest. As `perpflow pull` does,
   * both are read again, up to 5 times 500 ms apart; a mismatch that persists (a corrupt
   * object) throws.
   */
  private async readWindow(
    id: Parameters<typeof manifestKey>[1],
  ): Promise<{ manifest: ReturnType<typeof parseWindowManifest>; body: Uint8Array }> {
    for (let attempt = 1; ; attempt++) {
      const manifest = parseWindowManifest(await getBytes(this.s3, manifestKey(this.prefix, id)));
      const body = await getBytes(this.s3, manifest.object.key);
      try {
        verifyObject(body, manifest.object);
        return { manifest, body };
      } catch (err) {
        if (!(err instanceof ObjectIntegrityError) || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * Every bar of our symbols in S3 within the range, read through the series index,
   * manifests and objects (size and sha256 checked against the manifest), plus the
   * per-window invariants: one Parquet object and one manifest per window folder.
   */
  async readS3(
    range: Range,
    symbols: string[] = this.symbols,
  ): Promise<{ bars: AlignedBar[]; windowProblems: string[] }> {
    const bars: AlignedBar[] = [];
    const windowProblems: string[] = [];
    for (const symbol of symbols) {
      const series = { exchange: EXCHANGE, symbol, timeframe: '1m' } as const;
      let indexBytes: Uint8Array;
      try {
        indexBytes = await getBytes(this.s3, seriesIndexKey(this.prefix, series));
      } catch {
        continue; // nothing written yet for this series
      }
      const index = parseSeriesIndex(indexBytes);
      const starts = index.windows.map((w) => w.startMs);
      if (new Set(starts).size !== starts.length)
        windowProblems.push(`${symbol}: an index lists a window twice`);
      const folder = seriesFolder(this.prefix, series);
      const keys = await listKeys(this.s3, folder.slice(0, -1));
      const perDate = new Map<string, { parquet: number; manifest: number }>();
      for (const k of keys) {
        const date = /\/date=([^/]+)\//.exec(k)?.[1];
        if (!date) continue;
        const e = perDate.get(date) ?? { parquet: 0, manifest: 0 };
        if (k.endsWith('.parquet')) e.parquet++;
        if (k.endsWith('.manifest.json')) e.manifest++;
        perDate.set(date, e);
      }
      for (const [date, e] of perDate)
        if (e.parquet !== 1 || e.manifest !== 1)
          windowProblems.push(`${symbol} ${date}: ${e.parquet} objects, ${e.manifest} manifests`);
      for (const w of index.windows) {
        if (w.startMs + DAY <= range.fromMs || w.startMs >= range.toMs) continue;
        const { manifest, body } = await this.readWindow({ ...series, unit: 'day', startMs: w.startMs });
        // Every bar came from the aligner with its raw positions: the window names them,
        // across every SIGKILL of the aligner and the windower.
        if (!manifest.rawThrough?.some((p) => p.topic === TOPICS.raw.ohlcv))
          windowProblems.push(
            `${symbol} ${new Date(w.startMs).toISOString().slice(0, 10)}: the manifest names no raw candle position (rawThrough ${JSON.stringify(manifest.rawThrough ?? null)})`,
          );
        for (const b of decodeParquetToBars(body))
          if (b.symbol === symbol && b.eventTimeMs >= range.fromMs && b.eventTimeMs < range.toMs)
            bars.push(b);
      }
    }
    return { bars, windowProblems };
  }

  /** Compares S3 with the simulator over the range: every candle once, with equal values. */
  async compare(range: Range, symbols: string[] = this.symbols): Promise<Comparison> {
    const { bars, windowProblems } = await this.readS3(range, symbols);
    const got = new Map<string, AlignedBar[]>();
    for (const b of bars) {
      const k = `${b.exchange}|${b.symbol}|${b.eventTimeMs}`;
      got.set(k, [...(got.get(k) ?? []), b]);
    }
    let expected = 0;
    let found = 0;
    let lost = 0;
    const different: string[] = [];
    const missingSample: string[] = [];
    for (const symbol of symbols)
      for (const [t, o, h, l, c, v] of await this.simKlines(symbol, range)) {
        expected++;
        const k = `${EXCHANGE}|${symbol}|${t}`;
        const b = got.get(k)?.[0];
        if (!b) {
          lost++;
          if (missingSample.length < 5) missingSample.push(`${symbol} ${new Date(t ?? 0).toISOString()}`);
          continue;
        }
        found++;
        if (
          b.open !== o ||
          b.high !== h ||
          b.low !== l ||
          b.close !== c ||
          b.volume !== v ||
          b.candleFilled ||
          b.timeframe !== '1m'
        )
          different.push(`${symbol} ${new Date(t ?? 0).toISOString()}`);
      }
    let duplicated = 0;
    for (const list of got.values()) duplicated += list.length - 1;
    // Bars S3 holds that the simulator does not have (e.g. filled minutes) also count as wrong.
    const simKeys = got.size - found;
    if (simKeys > 0) different.push(`${simKeys} bars in S3 that the simulator never served`);
    return { expected, found, duplicated, lost, different, windowProblems, missingSample };
  }

  /** Waits until S3 holds every simulator candle of the range (or times out), then compares. */
  async waitComplete(
    range: Range,
    timeoutMs = 300_000,
    symbols: string[] = this.symbols,
  ): Promise<Comparison> {
    let last: Comparison | null = null;
    try {
      await waitFor(
        `every bar of ${new Date(range.fromMs).toISOString()}..${new Date(range.toMs).toISOString()} in S3`,
        async () => {
          last = await this.compare(range, symbols).catch(() => null); // S3 may be down
          return last !== null && last.lost === 0 && last.expected > 0;
        },
        timeoutMs,
        3_000,
      );
    } catch (err) {
      if (!last) throw err;
    }
    // One more read after the windower's next flush: a late duplicate would show here.
    await new Promise((r) => setTimeout(r, 2_500));
    return this.compare(range, symbols);
  }

  /** Dead letters (aligner stage) of our symbols' keys dead-lettered since `sinceMs`, by rule. */
  async deadLetters(sinceMs: number, extraKeys: string[] = []): Promise<DeadLetterRow[]> {
    const keys = new Set([...this.symbols.map((s) => `${EXCHANGE}|${s}`), ...extraKeys]);
    const rows = await readTopic(this.kafka, TOPICS.deadLetter, () => true);
    const out: DeadLetterRow[] = [];
    for (const m of rows) {
      let d: DeadLetterRow;
      try {
        d = JSON.parse(m.value.toString()) as DeadLetterRow;
      } catch {
        continue;
      }
      if (d.deadLetteredAtMs < sinceMs) continue;
      if (!keys.has(d.key ?? '') && !keys.has(m.key)) continue;
      out.push(d);
    }
    return out;
  }

  /**
   * Produces raw records one by one and returns where each landed (topic, partition,
   * offset): a dead letter names its source, so each can be matched to its record.
   */
  async produceEach(
    items: { topic: string; key: string; value: string | Buffer }[],
  ): Promise<{ topic: string; partition: number; offset: string }[]> {
    const producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const out: { topic: string; partition: number; offset: string }[] = [];
    try {
      for (const i of items) {
        const [md] = await producer.send({ topic: i.topic, messages: [{ key: i.key, value: i.value }] });
        if (!md?.baseOffset) throw new Error(`no offset for a record on ${i.topic}`);
        out.push({ topic: i.topic, partition: md.partition, offset: md.baseOffset });
      }
    } finally {
      await producer.disconnect();
    }
    return out;
  }

  async metric(s: ServiceName, name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricSum(this.metricsUrl(s), name, labels).catch(() => 0);
  }

  /** Every key under the prefix stays under it: no `.`/`..`/empty segment, no backslash. */
  async keysOutsidePrefix(): Promise<string[]> {
    const keys = await listKeys(this.s3, this.prefix);
    return keys.filter(
      (k) =>
        !k.startsWith(`${this.prefix}/`) ||
        k.includes('\\') ||
        k.split('/').some((s) => s === '' || s === '.' || s === '..' || s.includes('%2E%2E')),
    );
  }
}

/**
 * Restarts (or stops, or starts) one server of the stack the test was given, through
 * infra/local/stack.sh with this process's env (ports derived from the connection URLs when
 * not set), so that in CI it acts on the CI stack's server.
 */
export function stackServer(
  server: 'redis' | 'kafka' | 's3',
  command: 'restart' | 'stop' | 'start' = 'restart',
): { status: number | null; output: string } {
  const port = (url: string) => /:(\d+)(?:\/|$)/.exec(url)?.[1] ?? '';
  const env: Record<string, string | undefined> = {
    ...process.env,
    REDIS_PORT: process.env.REDIS_PORT ?? port(STACK.redisUrl),
    KAFKA_PORT: process.env.KAFKA_PORT ?? port(STACK.kafkaBrokers.split(',')[0] ?? ''),
    S3_PORT: process.env.S3_PORT ?? port(STACK.s3Endpoint),
  };
  const r = spawnSync('bash', ['infra/local/stack.sh', command, server], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Every expected bar in S3 exactly once with the simulator's values, one object per window. */
export function assertComplete(c: Comparison, what: string, minExpected: number): void {
  assert.ok(c.expected >= minExpected, `${what}: the simulator served only ${c.expected} candles`);
  assert.equal(c.lost, 0, `${what}: ${c.lost} bars lost, e.g. ${c.missingSample.join(', ')}`);
  assert.equal(c.duplicated, 0, `${what}: ${c.duplicated} bars in S3 more than once`);
  assert.equal(c.found, c.expected, `${what}: found`);
  assert.deepEqual(c.different, [], `${what}: bars that differ from the simulator`);
  assert.deepEqual(c.windowProblems, [], `${what}: windows`);
}

export interface DeadLetterRow {
  ruleId: string;
  message: string;
  /** The record's bytes (utf8 or base64 by payloadEncoding). */
  payload: string;
  stage: string;
  key: string | null;
  source: { topic: string; partition: number; offset: string };
  deadLetteredAtMs: number;
  exchange: string | null;
  symbol: string | null;
}

export function countBy<T>(items: T[], f: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[f(i)] = (out[f(i)] ?? 0) + 1;
  return out;
}

export type { Candle };
