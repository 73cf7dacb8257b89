/**
 * freePort's claims across processes (test/src/harness.ts): a port another live process
 * took is not handed out again; a claim of a process killed before it could release it is
 * taken over; a process releases its claims when it exits.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { claimPort, ROOT } from '../src/harness.js';

const HARNESS = join(ROOT, 'test', 'src', 'harness.ts');
const CLAIMS = join(tmpdir(), 'perpflow-port-claims');

/** A process that takes three ports with freePort, prints them, and waits for a line on stdin. */
function holder() {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@perpflow/source',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const h = await import(${JSON.stringify(HARNESS)});
       const ports = [await h.freePort(), await h.freePort(), await h.freePort()];
       console.log(JSON.stringify(ports));
       process.stdin.once('data', () => process.exit(0));`,
    ],
    { cwd: ROOT },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const ports = new Promise<number[]>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (out.includes('\n')) resolve(JSON.parse(out) as number[]);
    });
    child.once('close', (code) => reject(new Error(`the holder exited (${code}) before printing its ports`)));
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { child, ports, closed };
}

describe('freePort across processes', () => {
  it('never hands out a port a live process took, and releases its own at exit', async () => {
    const h = holder();
    const ports = await h.ports;
    assert.equal(new Set(ports).size, 3);
    for (const p of ports) {
      assert.ok(existsSync(join(CLAIMS, String(p))), `no claim file for ${p}`);
      assert.equal(claimPort(p), false, `port ${p} of a live process claimed again`);
    }
    h.child.stdin.write('\n');
    await h.closed;
    for (const p of ports)
      assert.equal(existsSync(join(CLAIMS, String(p))), false, `claim of ${p} left at exit`);
  });

  it('takes over the claims of a process killed before it released them', async () => {
    const h = holder();
    const ports = await h.ports;
    h.child.kill('SIGKILL');
    await h.closed;
    for (const p of ports)
      assert.ok(existsSync(join(CLAIMS, String(p))), `claim of ${p} gone with a SIGKILL`);
    for (const p of ports) assert.equal(claimPort(p), true, `stale claim of ${p} not taken over`);
  });
});
