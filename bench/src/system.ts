import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { DATA_DIR, ROOT } from '../../test/src/harness.js';

export interface LoadSample {
  load1: number;
  load5: number;
  load15: number;
  cpus: number;
  atMs: number;
}

export function loadNow(): LoadSample {
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  return { load1: l1, load5: l5, load15: l15, cpus: cpus().length, atMs: Date.now() };
}

/** Peak resident set (VmHWM) and current RSS of a process, in MiB; null once it has exited. */
export function memoryOf(pid: number): { peakMiB: number; rssMiB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { peakMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
  } catch {
    return null;
  }
}

/**
 * Samples VmHWM of named processes every `everyMs` and keeps the last value read
 * (VmHWM is the kernel's own peak, so the sampling interval only matters at exit).
 */
export class PeakMemory {
  private readonly peaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pids: Record<string, number | undefined>,
    everyMs = 500,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      if (!pid) continue;
      const m = memoryOf(pid);
      if (m && Number.isFinite(m.peakMiB))
        this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, m.peakMiB));
    }
  }
  stop(): Record<string, number> {
    this.sample();
    clearInterval(this.timer);
    return Object.fromEntries(this.peaks);
  }
}

/** Runs Kafka's own command-line tool from the stack's jars (infra/local/kafka-tool.sh); resolves with its stdout. */
export function kafkaTool(tool: string, args: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(ROOT, 'infra/local/kafka-tool.sh'), tool, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KAFKA_TOOL_HEAP: process.env.KAFKA_TOOL_HEAP ?? '512m' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    // 'close', not 'exit': the pipes may still hold the tool's last lines at 'exit'.
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`kafka-tool ${tool} exited ${code}: ${err.slice(-2000)}${out.slice(-1000)}`));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** CPU seconds (user + system) this process has used so far. */
export function selfCpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat
 * (clock ticks of 1/100 s on Linux); null once it has exited. On a shared machine
 * work per CPU-second is far steadier than work per wall second.
 */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/**
 * Pids of the stack's servers the pipeline sections share with the services (Kafka's JVM,
 * Redis, the local S3 server), from the pid files `infra/local/stack.sh` writes under
 * `<data>/run`; a server without a readable pid file is left out.
 */
export function stackServerPids(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const server of ['kafka', 'redis', 's3']) {
    try {
      const pid = Number(readFileSync(join(DATA_DIR, 'run', `${server}.pid`), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && cpuSecondsOf(pid) !== null) out[server] = pid;
    } catch {
      // not started by this stack
    }
  }
  return out;
}

/**
 * CPU seconds each named process used between `new CpuSpent(pids)` and `stop()`, and the
 * bench process's own (`bench`): where a run's CPU went, which moves far less between runs
 * than its wall time on a shared machine. A process gone by `stop()` is left out.
 */
export class CpuSpent {
  private readonly start = new Map<string, number>();
  private readonly selfStart = selfCpuSeconds();
  constructor(private readonly pids: Record<string, number | undefined>) {
    for (const [name, pid] of Object.entries(pids)) {
      const s = pid ? cpuSecondsOf(pid) : null;
      if (s !== null) this.start.set(name, s);
    }
  }
  stop(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, s0] of this.start) {
      const s1 = cpuSecondsOf(this.pids[name] as number);
      if (s1 !== null) out[name] = s1 - s0;
    }
    out.bench = selfCpuSeconds() - this.selfStart;
    return out;
  }
}

/** The parts of a service's memory its own metrics give (perpflow_nodejs_*, prom-client's defaults). */
const MEMORY_METRICS = {
  heapTotal: 'perpflow_nodejs_heap_size_total_bytes',
  heapUsed: 'perpflow_nodejs_heap_size_used_bytes',
  external: 'perpflow_nodejs_external_memory_bytes',
} as const;

/** The largest of each part of a service's memory seen by `sample` (MiB), from its /metrics. */
export class MemoryMaxima {
  readonly maxMiB: Record<string, number> = {};

  constructor(
    private readonly metricsUrl: string,
    private readonly sum: (url: string, metric: string) => Promise<number>,
  ) {}

  async sample(): Promise<void> {
    for (const [name, metric] of Object.entries(MEMORY_METRICS)) {
      const v = (await this.sum(this.metricsUrl, metric)) / 1_048_576;
      if (v > (this.maxMiB[name] ?? 0)) this.maxMiB[name] = v;
    }
  }
}
