/**
 * What the bench scripts share: the local stack's connection settings, child
 * processes of the project's services with their logs in .data/logs, free ports,
 * waiting, Prometheus text parsing, peak RSS, and where results are written.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from '@perpflow/runtime';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A positive number from the environment, or the default; a bad value names the key. */
export function envNumber(key: string, def: number): number {
  const v = process.env[key];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${key}: "${v}" is not a positive number`);
  return n;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Brings the shared stack's Kafka and Redis up if they are down (never stops them) and returns its env. */
export function stackEnv(): Record<string, string> {
  const up = spawnSync('bash', ['infra/local/stack.sh', 'up', 'kafka', 'redis'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (up.status !== 0) throw new Error(`the local stack did not come up:\n${up.stdout}${up.stderr}`);
  const out = spawnSync('bash', ['infra/local/stack.sh', 'env'], { cwd: ROOT, encoding: 'utf8' }).stdout;
  const env: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^(?:export\s+)?([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) env[m[1]] = (m[2] ?? '').replace(/^['"]|['"]$/g, '');
  }
  return env;
}

/** Runs a workspace's TypeScript entry as a child process, its output in .data/logs/<log>.log. */
export function startNode(
  log: string,
  workspace: string,
  env: Record<string, string>,
  entry = 'src/main.ts',
): ChildProcess {
  const logDir = join(ROOT, '.data', 'logs');
  mkdirSync(logDir, { recursive: true });
  const out = createWriteStream(join(logDir, `${log}.log`), { flags: 'a' });
  const child = spawn(
    process.execPath,
    [...SERVICE_NODE_FLAGS, '--conditions=@perpflow/source', '--import', 'tsx', entry],
    {
      cwd: join(ROOT, workspace),
      env: { ...SERVICE_ENV, ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

export async function until(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 500,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition → samples. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] ?? ''] = l[2] ?? '';
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric's samples whose labels include `match`. */
export function sumOf(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v))
    .reduce((a, x) => a + x.value, 0);
}

/** Scrapes `<url>/metrics` and sums one metric. */
export async function scrapeSum(
  url: string,
  name: string,
  match: Record<string, string> = {},
): Promise<number> {
  return sumOf(parseMetrics(await (await fetch(`${url}/metrics`)).text()), name, match);
}

/** Resident set size of a process now (VmRSS) or at its peak (VmHWM), in KiB; 0 once it is gone. */
export function rssKiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM' = 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Writes a result as JSON (to `explicit`, else .data/bench/<name>-<time>.json) and returns the path. */
export function saveResult(name: string, startedAt: string, result: unknown, explicit?: string): string {
  const out = explicit ?? join(ROOT, '.data', 'bench', `${name}-${startedAt.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  return out;
}
