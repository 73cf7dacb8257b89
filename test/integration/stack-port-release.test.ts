/**
 * infra/local/stack.sh starting a server on a port that an outgoing connection holds as its
 * local end (the stack's ports lie in the kernel's ephemeral range): it waits, saying so,
 * until the port is released, instead of starting a server that cannot bind it. A Redis of
 * its own (own port and data dir) beside the shared stack, stopped at the end.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STACK_SH = join(ROOT, 'infra', 'local', 'stack.sh');
const run = promisify(execFile);

describe('stack: a port held by a connection’s local end', () => {
  const data = mkdtempSync(join(tmpdir(), 'perpflow-stack-port-'));
  let env: NodeJS.ProcessEnv = {};
  let up: ChildProcess | undefined;

  after(async () => {
    up?.kill('SIGKILL');
    await run('bash', [STACK_SH, 'down', 'redis'], { env, timeout: 60_000 }).catch(() => {});
    rmSync(data, { recursive: true, force: true });
  });

  it('waits for the kernel to release it, then starts the server there', async () => {
    // A connection to a server of the test's own; the kernel gives its local end a port of
    // the ephemeral range, as it gives the stack's clients theirs, and a bind of that port
    // fails while the connection lives (one the client binds itself would not block it).
    const peers: Socket[] = [];
    const peer = createServer((s) => peers.push(s));
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const client = createConnection({ host: '127.0.0.1', port: (peer.address() as { port: number }).port });
    await new Promise<void>((r, j) => client.once('connect', r).once('error', j));
    while (peers.length === 0) await new Promise((r) => setImmediate(r));
    const port = client.localPort as number;
    env = { ...process.env, REDIS_PORT: String(port), PERPFLOW_DATA_DIR: data };

    let out = '';
    up = spawn('bash', [STACK_SH, 'up', 'redis'], { env });
    up.stdout?.on('data', (d) => {
      out += d;
    });
    up.stderr?.on('data', (d) => {
      out += d;
    });
    let stopped = false;
    // 'close': after the script's output is read.
    const exited = new Promise<number | null>((r) =>
      up?.on('close', (code) => {
        stopped = true;
        r(code);
      }),
    );
    const deadline = Date.now() + 30_000;
    // The states of every socket on the port: ESTAB among them (the port may also be the local
    // end of an earlier connection to another peer, in TIME-WAIT: a CI run listed that one).
    const waiting = new RegExp(
      `redis: port ${port} cannot be bound yet: it is the local end of a connection \\(([A-Z-]+, )*ESTAB(, [A-Z-]+)*\\)`,
    );
    while (!waiting.test(out)) {
      assert.ok(Date.now() < deadline, `stack.sh did not say it waits; it printed:\n${out}`);
      assert.ok(!stopped, `stack.sh exited without waiting; it printed:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Still waiting a second later, and nothing listens on the port.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(!stopped, out);
    assert.doesNotMatch(out, /redis up on/);

    // The peer closes first, so the TIME_WAIT is on its side and the port is free at once.
    const closed = new Promise((r) => client.once('close', r));
    peers[0]!.end();
    client.end();
    await closed;
    peer.close();

    assert.equal(await exited, 0, out);
    assert.match(out, new RegExp(`redis up on 127\\.0\\.0\\.1:${port} `));
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    try {
      await redis.connect();
      assert.equal(await redis.ping(), 'PONG');
    } finally {
      redis.disconnect();
    }
  });
});
