/**
 * `npm run demo` as a new user runs it, non-interactive and on its own servers: every
 * port on a free one and its own data folder, so the suite's stack on the default ports
 * runs beside it untouched. From its output: all four feeds reach ingest (liquidations
 * included), the simulator's stall of one symbol makes FeedStale fire and resolve in
 * Alertmanager (notifications received by the status view), and the next-steps block's
 * pull and pandas commands, run as printed, return this run's bars, and the data-quality
 * report it links drew this run's coverage and freshness.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, ROOT } from '../src/harness.js';

// The least the demo runs; it goes on until FeedStale has fired and resolved, which its
// stall (20 s in) takes 130-190 s to do, so the alert cycle, not this, decides the length.
const DURATION_S = 120;
const PORT_KEYS = [
  'KAFKA_PORT',
  'KAFKA_CONTROLLER_PORT',
  'REDIS_PORT',
  'S3_PORT',
  'PROMETHEUS_PORT',
  'ALERTMANAGER_PORT',
  'SIM_PORT',
  'INGEST_METRICS_PORT',
  'ALIGNER_METRICS_PORT',
  'WINDOWER_METRICS_PORT',
  'MONITOR_METRICS_PORT',
  'ARCHIVER_METRICS_PORT',
] as const;

async function demoEnv(dataDir: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (
      v !== undefined &&
      !/^(KAFKA|REDIS|S3|PROMETHEUS|ALERT|SIM|INGEST|ALIGNER|WINDOWER|MONITOR|ARCHIVER|DEMO)_/.test(k)
    )
      env[k] = v;
  for (const k of PORT_KEYS) env[k] = String(await freePort());
  env.SIM_METRICS_PORT = env.SIM_PORT!;
  env.ALERT_WEBHOOK_URL = `http://127.0.0.1:${await freePort()}/alerts`;
  env.PERPFLOW_DATA_DIR = dataDir;
  env.DEMO_DURATION_S = String(DURATION_S);
  env.DEMO_SYMBOLS = '10';
  return env;
}

function run(
  cmd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', cmd], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      out += c;
    });
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('npm run demo', { timeout: (DURATION_S + 600) * 1000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'perpflow-demo-'));
  let env: Record<string, string> = {};
  after(() => {
    spawnSync('bash', ['infra/local/stack.sh', 'down'], { cwd: ROOT, env, stdio: 'ignore' });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows four feeds, a FeedStale that fires and resolves, and next steps whose commands read the data', async () => {
    env = await demoEnv(dataDir);
    // The demo runs past DURATION_S until FeedStale has fired and resolved (at most +300 s).
    const demo = await run('bash scripts/demo.sh', env, (DURATION_S + 420) * 1000);
    const tail = demo.out.slice(-4000);
    if (demo.code !== 0) {
      // The first line names why (a failure list shows only that line); then the whole
      // output and the end of every log the demo wrote before it stopped.
      const last = demo.out
        .trim()
        .split('\n')
        .filter((l) => l.trim())
        .slice(-3)
        .join(' | ');
      const logsDir = join(dataDir, 'logs');
      const logs = existsSync(logsDir)
        ? readdirSync(logsDir).map((f) => {
            const text = readFileSync(join(logsDir, f), 'utf8').trimEnd().split('\n').slice(-20).join('\n');
            return `--- ${f} (last 20 lines)\n${text}`;
          })
        : [];
      assert.fail(`npm run demo exited with ${demo.code} after: ${last}\n${demo.out}\n${logs.join('\n')}`);
    }

    const feeds = /summary: ingest (.*)/.exec(demo.out)?.[1] ?? '';
    for (const f of ['ohlcv', 'open_interest', 'funding', 'liquidation']) {
      const n = Number(new RegExp(`${f}=(\\d+)`).exec(feeds)?.[1] ?? 0);
      assert.ok(n > 0, `no ${f} records at ingest: ${feeds}\n${tail}`);
    }
    const stale = 'FeedStale stage=ingest exchange=binanceusdm symbol=ETH/USDT:USDT feed=ohlcv';
    assert.match(demo.out, /summary: alerts fired: .*FeedStale/, tail);
    assert.ok(
      /summary: alerts fired: .*/.exec(demo.out)?.[0].includes(stale),
      `${stale} never fired\n${tail}`,
    );
    assert.ok(
      /summary: alerts resolved: .*/.exec(demo.out)?.[0].includes(stale),
      `${stale} never resolved\n${tail}`,
    );

    // Next steps: start S3 again, pull, read with pandas — the commands as printed.
    const steps = demo.out.slice(demo.out.indexOf('== Next steps'));
    // The report it linked: this run's series with bars, and their freshness.
    const reportPath = join(dataDir, 'report.html');
    assert.ok(steps.includes(`file://${reportPath}`), `no report link in:\n${steps}`);
    const html = readFileSync(reportPath, 'utf8');
    for (const chart of ['coverage', 'freshness']) {
      const points = Number(new RegExp(`data-chart="${chart}" data-points="(\\d+)"`).exec(html)?.[1] ?? 0);
      assert.ok(points > 0, `the demo's report drew no ${chart} marks`);
    }
    const command = (after: string) => {
      const lines = steps.split('\n');
      const i = lines.findIndex((l) => l.startsWith(after));
      assert.ok(i >= 0, `no step "${after}" in:\n${steps}`);
      const out: string[] = [];
      for (const l of lines.slice(i + 1)) {
        if (!l.startsWith('   ')) break;
        out.push(l.trim());
      }
      return out.join('\n');
    };
    const pull = await run(`${command('1.')}\n${command('2.')}`, env, 180_000);
    assert.equal(pull.code, 0, pull.out.slice(-3000));
    const pandas = await run(command('3.'), env, 60_000);
    assert.equal(pandas.code, 0, pandas.out);
    // One row per symbol: bars, liquidations (liq_count summed over its bars), bars with a basis.
    const rows = pandas.out.split('\n').filter((l) => /^(BTC|ETH)\/USDT:USDT\s/.test(l));
    assert.equal(rows.length, 2, pandas.out);
    const cells = rows.map((r) => r.trim().split(/\s+/).map(Number));
    for (const c of cells) assert.ok(c[1]! > 0, `no bars: ${pandas.out}`);
    assert.ok(cells.reduce((a, c) => a + c[2]!, 0) > 0, `no liquidation in the pulled bars: ${pandas.out}`);
    // Live bars carry mark and index from the premium-index poll, so a basis.
    for (const c of cells) assert.ok(c[3]! > 0, `no bar with a basis: ${pandas.out}`);
  });
});
