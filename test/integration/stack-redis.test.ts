/**
 * The stack's Redis with the clients the project uses (ioredis 5, BullMQ 6): a job
 * survives a Redis restart (AOF) and is processed afterwards. Assumes
 * `npm run stack -- up`; restarts Redis through infra/local/stack.sh and leaves it running.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STACK_SH = join(ROOT, 'infra', 'local', 'stack.sh');
const run = promisify(execFile);

/** A connection setting: the environment first, then `stack.sh env` (which applies the stack's defaults). */
function stackSetting(key: string): string {
  const fromEnv = process.env[key];
  if (fromEnv) return fromEnv;
  const line = execFileSync('bash', [STACK_SH, 'env'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`stack.sh env has no ${key}`);
  return line.slice(key.length + 1);
}

const url = new URL(stackSetting('REDIS_URL'));
// BullMQ needs maxRetriesPerRequest: null so commands wait through a reconnect instead of failing.
const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };

interface ProbeData {
  n: number;
  note: string;
}

describe('stack: Redis with ioredis and BullMQ', () => {
  const queueName = `stacktest-${process.pid}-${randomUUID().slice(0, 8)}`;
  const queue = new Queue<ProbeData, number>(queueName, { connection });
  let worker: Worker<ProbeData, number> | undefined;

  after(async () => {
    // Whatever happened in between, Redis is left running (idempotent when it is).
    await run('bash', [STACK_SH, 'up', 'redis'], { timeout: 60_000 });
    await worker?.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  });

  it('runs with an append-only file so that data outlives a restart', async () => {
    const redis = new Redis(stackSetting('REDIS_URL'));
    try {
      assert.deepEqual(await redis.config('GET', 'appendonly'), ['appendonly', 'yes']);
    } finally {
      redis.disconnect();
    }
  });

  it('keeps a waiting job through a Redis restart and processes it afterwards', async () => {
    const added = await queue.add('probe', { n: 21, note: 'äöü ✓' }, { jobId: `probe-${randomUUID()}` });
    assert.equal(await queue.getJobCountByTypes('waiting'), 1);

    await run('bash', [STACK_SH, 'stop', 'redis'], { timeout: 60_000 });
    await run('bash', [STACK_SH, 'start', 'redis'], { timeout: 60_000 });

    const found = await queue.getJob(added.id!);
    assert.ok(found, 'the job is still there after the restart');
    assert.deepEqual(found.data, { n: 21, note: 'äöü ✓' });
    assert.equal(await found.getState(), 'waiting');

    const completed = new Promise<Job<ProbeData, number>>((resolve, reject) => {
      worker = new Worker<ProbeData, number>(queueName, async (job) => job.data.n * 2, { connection });
      worker.on('completed', (job) => resolve(job));
      worker.on('failed', (_job, err) => reject(err));
    });
    const done = await completed;
    assert.equal(done.id, added.id);
    assert.equal(done.returnvalue, 42);
    assert.equal(await queue.getJobCountByTypes('completed'), 1);
  });
});
