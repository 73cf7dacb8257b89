/**
 * Runs the project's services as real child processes for end-to-end and fault
 * tests: start with env, wait until /readyz answers, stop with SIGTERM or SIGKILL,
 * and read their logs. Every service writes its log to <data>/logs/test-<name>.log.
 */
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipelineTopicNames } from '@perpflow/contracts';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, SERVICE_ENV, serviceNodeFlags } from '@perpflow/runtime';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DATA_DIR = process.env.PERPFLOW_DATA_DIR ?? join(ROOT, '.data');

/**
 * This test file's pipeline topics: the services' KAFKA_TOPIC_PREFIX, which they inherit
 * from the test's environment. scripts/node-test.mjs --topics-per-file gives every file a
 * prefix of its own, so files that run at once never read each other's records.
 */
export const TOPICS = pipelineTopicNames(process.env.KAFKA_TOPIC_PREFIX ?? '');

/** Connection settings of the local stack (infra/local/stack.sh env), with its defaults. */
export const STACK = {
  kafkaBrokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:39092',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:36379',
  s3Endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:39000',
  s3Bucket: process.env.S3_BUCKET ?? 'perpflow',
  prometheusUrl: process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:39090',
  alertmanagerUrl: process.env.ALERTMANAGER_URL ?? 'http://127.0.0.1:39094',
};

/**
 * The local S3 server's own key pair (infra/local/stack.sh env). Services have no
 * default keys (unset: the AWS default credential chain), so the harness gives
 * this pair to every service and tool it starts, unless the environment has one.
 */
export const STACK_S3_CREDENTIALS: Record<'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY', string> = {
  S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID || 'S3RVER',
  S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY || 'S3RVER',
};

/**
 * The node arguments that run a workspace's entry (`src/….ts`, relative to the workspace).
 * With `PERPFLOW_RUN_BUILT=1` (npm test sets it once `npm run build` has built every
 * workspace): its build, `dist/….js`, which resolves the packages to their builds too.
 * Otherwise, and for the test workspace's own tools (no build), the TypeScript source
 * through tsx, so a test run by hand needs no build.
 * Measured (windower, start to a config error): tsx 1.55–1.77 CPU-s and 158 MiB, the build
 * 0.63–0.64 CPU-s and 127 MiB; a fresh-clone CI starts ~250 services and tools.
 */
export function entryArgs(workspace: string, entry: string): string[] {
  const source = ['--conditions=@perpflow/source', '--import', 'tsx', entry];
  // The test workspace's own tools (test/src) have no build.
  if (process.env.PERPFLOW_RUN_BUILT !== '1' || !entry.startsWith('src/') || workspace === 'test')
    return source;
  const built = entry.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js');
  if (!existsSync(join(ROOT, workspace, built)))
    throw new Error(
      `PERPFLOW_RUN_BUILT=1 but ${workspace}/${built} does not exist: run npm run build, or unset PERPFLOW_RUN_BUILT to run the sources`,
    );
  return [built];
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  metricsUrl: string | null;
  /** Resolves with the exit code or signal name. */
  exited: Promise<number | string>;
  log(): string;
}

export interface StartOptions {
  name: string;
  /** Workspace folder relative to the repo root, e.g. services/aligner. */
  workspace: string;
  /** Entry file relative to the workspace; default src/main.ts. */
  entry?: string;
  args?: string[];
  /** Flags for node itself, before the entry (e.g. --cpu-prof, which NODE_OPTIONS may not carry). */
  nodeArgs?: string[];
  env: Record<string, string>;
  /** Port of /readyz to wait for; null: do not wait. */
  readyPort?: number | null;
  readyTimeoutMs?: number;
}

export async function startService(o: StartOptions): Promise<ServiceProcess> {
  mkdirSync(join(DATA_DIR, 'logs'), { recursive: true });
  const logFile = join(DATA_DIR, 'logs', `test-${o.name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(
    process.execPath,
    [
      ...serviceNodeFlags(basename(o.workspace)),
      ...(o.nodeArgs ?? []),
      ...entryArgs(o.workspace, o.entry ?? 'src/main.ts'),
      ...(o.args ?? []),
    ],
    {
      cwd: join(ROOT, o.workspace),
      env: { ...SERVICE_ENV, ...process.env, ...STACK_S3_CREDENTIALS, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  // 'exit' can come before the pipes have handed over the process's last output: the log
  // is whole once both pipes are closed ('close') and the file has what they gave
  // ('finish'). Resolving at 'exit' let a test read an empty log of a service that had
  // printed why it stopped (e2e/secrets.test.ts, fresh CI of 1060dc0). A grandchild holding
  // the pipes open would delay 'close': 5 s after 'exit' the log is closed as it is.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => {
        timer = setTimeout(r, 5_000);
      });
      void Promise.race([closed, late]).then(() => {
        clearTimeout(timer);
        out.end(() => resolve(code ?? signal ?? 'unknown'));
      });
    }),
  );
  const metricsUrl = o.readyPort ? `http://127.0.0.1:${o.readyPort}` : null;
  const svc: ServiceProcess = {
    name: o.name,
    child,
    logFile,
    metricsUrl,
    exited,
    log: () => readFileSync(logFile, 'utf8'),
  };
  if (o.readyPort) {
    const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
    let exitedEarly: number | string | null = null;
    void exited.then((c) => {
      exitedEarly = c;
    });
    for (;;) {
      if (exitedEarly !== null)
        throw new Error(
          `${o.name} exited (${exitedEarly}) before it was ready; log: ${logFile}\n${tail(svc.log())}`,
        );
      try {
        const r = await fetch(`${metricsUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(
          `${o.name} not ready within ${o.readyTimeoutMs ?? 60_000} ms; log: ${logFile}\n${tail(svc.log())}`,
        );
      await sleep(250);
    }
  }
  return svc;
}

/**
 * Signals the service and waits for its exit: its code, or the signal that ended it. After
 * SIGTERM the service's own bound decides (a stop still running after
 * DEFAULT_SHUTDOWN_TIMEOUT_MS exits with 1, naming it); the harness SIGKILLs only a process
 * still there 10 s past that. It once killed at 15 s, half the service's bound: an aligner
 * whose LeaveGroup the loaded broker answered 10.5 s after SIGTERM was SIGKILLed mid-stop.
 */
export async function stopService(
  s: ServiceProcess,
  signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM',
  timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS + 10_000,
): Promise<number | string> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.exited;
  s.child.kill(signal);
  const t = setTimeout(() => s.child.kill('SIGKILL'), timeoutMs);
  const r = await s.exited;
  clearTimeout(t);
  return r;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    await sleep(everyMs);
  }
}

/** Scrapes a Prometheus text endpoint and sums the samples of one metric matching the labels. */
export async function metricSum(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

function tail(s: string, lines = 30): string {
  return s.split('\n').slice(-lines).join('\n');
}

/** Runs a workspace's TypeScript entry (a CLI) to completion, as a user would, with the stack env. */
export function runTool(
  workspace: string,
  entry: string,
  args: string[],
  env: Record<string, string> = {},
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...entryArgs(workspace, entry), ...args], {
    cwd: join(ROOT, workspace),
    env: { ...process.env, ...STACK_S3_CREDENTIALS, ...env },
    encoding: 'utf8',
  });
}

/**
 * A TCP port free on 127.0.0.1 now, chosen by the kernel: tests take their service
 * ports from here so that two suites (or two developers' runs) never collide.
 */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The kernel's ephemeral range (ip_local_port_range): outgoing connections take their ports there. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {}
  return 32_768;
}

const handedOut = new Set<number>();

/**
 * Ports handed out by any process on this machine (claimPort): a file per port, created exclusively and
 * holding its process's pid, removed when that process exits. `handedOut` kept one process
 * from handing a port out twice, but test files run as parallel processes: the demo test's
 * Kafka controller port, picked free, was bound by another file's server in the seconds
 * before Kafka bound it (fresh CI of aa11661: "Socket server failed to bind to
 * 127.0.0.1:23311: Address already in use").
 */
const PORT_CLAIMS = join(tmpdir(), 'perpflow-port-claims');
const claimed: string[] = [];
let releaseOnExit = false;

export function claimPort(port: number): boolean {
  return claim(port, true);
}

function claim(port: number, takeOverStale: boolean): boolean {
  mkdirSync(PORT_CLAIMS, { recursive: true });
  const file = join(PORT_CLAIMS, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // A claim of a process that is gone (killed before its exit handler) is stale.
    const pid = Number(readFileSync(file, 'utf8'));
    if (!takeOverStale || (Number.isInteger(pid) && pid > 0 && alive(pid))) return false;
    try {
      unlinkSync(file);
    } catch {}
    return claim(port, false);
  }
  claimed.push(file);
  if (!releaseOnExit) {
    releaseOnExit = true;
    process.once('exit', () => {
      for (const f of claimed)
        try {
          unlinkSync(f);
        } catch {}
    });
  }
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A port nothing listens on, for a server a test starts, never handed out twice while the
 * process that took it runs, by any process using this harness (PORT_CLAIMS). Picked below the kernel's ephemeral range: a port from that range (what
 * listen(0) hands out) can be taken by any outgoing connection between the pick and the
 * server's bind, and a probe that connects to it before the server listens can connect to
 * itself; the demo test starts its whole stack on twelve such ports.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  const low = Math.max(1_024, high - 12_000);
  for (let tries = 0; tries < 500; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    if ((await bindable(port)) && claimPort(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${low}–${high - 1} after 500 tries: see ss -ltn`);
}
