import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SERVICE = fileURLToPath(new URL('./service.ts', import.meta.url));
const METRICS = fileURLToPath(new URL('../../metrics/src/index.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'perpflow-service-'));

/** What every service file starts with: the shell, and a config and metrics on a free port. */
const PRELUDE = `import { runProcess, runService } from ${JSON.stringify(SERVICE)};
import { createRegistry } from ${JSON.stringify(METRICS)};
const config = () => ({ METRICS_HOST: '127.0.0.1', METRICS_PORT: 0, LOG_LEVEL: 'info' });
const metrics = () => ({ registry: createRegistry('svc') });
`;

function spawnService(body: string): ChildProcessWithoutNullStreams {
  const file = join(dir, `svc-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(file, `${PRELUDE}${body}\n`);
  return spawn(process.execPath, ['--conditions=@perpflow/source', '--import', 'tsx', file]);
}

/** A start that prints "ready", runs until stopped, and prints the signal that stopped it. */
const UNTIL_STOPPED = `async () => {
  console.log('ready');
  const t = setInterval(() => {}, 1000);
  return { stop: async (s) => { clearInterval(t); console.log('stopped by ' + s); } };
}`;

/** Runs a service whose start and stop are `body`; sends SIGTERM once it printed "ready". */
function run(body: string, signal = true): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnService(body);
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (signal && !sent && /^ready$/m.test(stdout)) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // 'close', not 'exit': 'exit' can come before the last of the child's output is read.
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe('runService', () => {
  it('stops the service on SIGTERM and exits 0 after its stop', async () => {
    const r = await run(
      `runService({ name: 'svc', startHint: 'hint', config, metrics, start: ${UNTIL_STOPPED} });`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stopped by SIGTERM/);
  });

  it('names a bad config key’s fix, and another failure’s hint, exiting 1', async () => {
    const bad = await run(
      `runService({ name: 'svc', startHint: 'check the stack', metrics, start: async () => ({ stop: async () => {} }),
        config: () => {
          throw Object.assign(new Error('FOO_PORT: must be a port'), { code: 'CONFIG_INVALID' });
        } });`,
      false,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /svc failed to start: FOO_PORT: must be a port/);
    assert.match(bad.stderr, /Fix the named environment variable/);
    const down = await run(
      `runService({ name: 'svc', startHint: 'check the stack', config, metrics, start: async () => { throw new Error('ECONNREFUSED'); } });`,
      false,
    );
    assert.equal(down.code, 1);
    assert.match(down.stderr, /svc failed to start: ECONNREFUSED\ncheck the stack/);
  });

  it('exits 1 when stop does not finish within the bound', async () => {
    const r =
      await run(`runService({ name: 'svc', startHint: 'h', shutdownTimeoutMs: 200, config, metrics, start: async () => {
      console.log('ready');
      setInterval(() => {}, 1000);
      return { stop: () => new Promise(() => {}) };
    } });`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /svc: shutdown did not finish within 200 ms; exiting/);
  });

  it('serves /metrics before start, /readyz only between setReady(true) and the stop signal, until its stop is done', async () => {
    const child = spawnService(`import { createInterface } from 'node:readline';
      const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
      runService({ name: 'svc', startHint: 'h', config, metrics, start: async ({ setReady, config, logger }) => {
        console.log('starting on ' + config.METRICS_PORT);
        await lines.next();
        setReady(true);
        logger.info('svc up');
        return { stop: async () => { console.log('stopping'); await lines.next(); console.log('stopped'); } };
      } });`);
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    let closed = false;
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => {
        closed = true;
        resolve(code);
      }),
    );
    // Fails, rather than waiting for ever, when the service exits or is silent for 30 s.
    const printed = async (text: string) => {
      const deadline = Date.now() + 30_000;
      while (!stdout.includes(text)) {
        if (closed || Date.now() > deadline) {
          assert.fail(
            `the service ${closed ? 'exited' : 'ran 30 s'} without printing ${text}; it printed:\n${stdout}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const status = async (url: string) => (await fetch(url)).status;

    // Both lines, in either order: the logger's line goes through pino's buffered stream and
    // console.log's straight to the pipe (a fresh CI under load saw 'starting on 0' first).
    await printed('starting on 0');
    await printed('"msg":"metrics server listening"');
    const listening = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; service: string; metrics?: string })
      .find((l) => l.msg === 'metrics server listening');
    assert.equal(listening?.service, 'svc');
    const url = listening?.metrics as string;
    assert.equal(await status(`${url}/readyz`), 503, 'not ready while start runs');
    const scrape = await fetch(`${url}/metrics`);
    assert.equal(scrape.status, 200);
    assert.match(await scrape.text(), /perpflow_process_cpu_seconds_total\{service="svc"\}/);

    child.stdin.write('\n');
    await printed('"msg":"svc up"');
    assert.equal(await status(`${url}/readyz`), 200, 'ready once the service said so');

    child.kill('SIGTERM');
    // Both lines again, in either order (the same two streams; a fresh CI saw 'stopping' first).
    await printed('stopping');
    await printed('"signal":"SIGTERM","msg":"shutting down"');
    assert.equal(await status(`${url}/readyz`), 503, 'not ready from the stop signal on');
    assert.equal(await status(`${url}/metrics`), 200, 'still scraped while the service stops');

    child.stdin.write('\n');
    assert.equal(await exited, 0);
    assert.match(stdout, /stopped/);
    await assert.rejects(fetch(`${url}/metrics`), 'closed after the service stopped');
  });

  it('reports a metrics port already taken as a failed start, with the service’s hint', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await run(
        `runService({ name: 'svc', startHint: 'check the port', metrics, start: async () => ({ stop: async () => {} }),
          config: () => ({ ...config(), METRICS_PORT: ${port} }) });`,
        false,
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /svc failed to start: listen EADDRINUSE.*\ncheck the port/);
    } finally {
      taken.close();
    }
  });
});

describe('runProcess', () => {
  it('runs a process without config keys or a metrics server of its own, stopping it on SIGTERM', async () => {
    const r = await run(`runProcess({ name: 'sim', startHint: 'h', start: ${UNTIL_STOPPED} });`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stopped by SIGTERM/);
    assert.doesNotMatch(r.stdout, /metrics server listening/);
  });
});
