import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SERVICE = fileURLToPath(new URL('./service.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'perpflow-service-'));

/** Runs a service whose start and stop are `body`; sends SIGTERM once it printed "ready". */
function run(body: string, signal = true): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(dir, `svc-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(file, `import { runService } from ${JSON.stringify(SERVICE)};\n${body}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (signal && !sent && stdout.includes('ready')) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe('runService', () => {
  it('stops the service on SIGTERM and exits 0 after its stop', async () => {
    const r = await run(`runService({ name: 'svc', startHint: 'hint', start: async () => {
      console.log('ready');
      const t = setInterval(() => {}, 1000);
      return { stop: async (s) => { clearInterval(t); console.log('stopped by ' + s); } };
    } });`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stopped by SIGTERM/);
  });

  it('names a bad config key’s fix, and another failure’s hint, exiting 1', async () => {
    const bad = await run(
      `runService({ name: 'svc', startHint: 'check the stack', start: async () => {
        throw Object.assign(new Error('FOO_PORT: must be a port'), { code: 'CONFIG_INVALID' });
      } });`,
      false,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /svc failed to start: FOO_PORT: must be a port/);
    assert.match(bad.stderr, /Fix the named environment variable/);
    const down = await run(
      `runService({ name: 'svc', startHint: 'check the stack', start: async () => { throw new Error('ECONNREFUSED'); } });`,
      false,
    );
    assert.equal(down.code, 1);
    assert.match(down.stderr, /svc failed to start: ECONNREFUSED\ncheck the stack/);
  });

  it('exits 1 when stop does not finish within the bound', async () => {
    const r =
      await run(`runService({ name: 'svc', startHint: 'h', shutdownTimeoutMs: 200, start: async () => {
      console.log('ready');
      setInterval(() => {}, 1000);
      return { stop: () => new Promise(() => {}) };
    } });`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /svc: shutdown did not finish within 200 ms; exiting/);
  });
});
