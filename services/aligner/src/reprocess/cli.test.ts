import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadReprocessConfig } from '../config.js';
import { readJob, runReprocessCli, workerNodeArgs } from './cli.js';
import type { ReprocessJobResult } from './worker.js';

const dir = mkdtempSync(join(tmpdir(), 'perpflow-reprocess-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the command with console.error captured; none of these reach S3 or Redis. */
async function run(args: string[]): Promise<{ code: number; err: string }> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    return { code: await runReprocessCli(args), err: lines.join('\n') };
  } finally {
    console.error = original;
  }
}

const base = ['--from', '2024-03-01', '--to', '2024-03-02', '--exchange', 'binanceusdm'];

describe('perpflow reprocess: bad input stops before anything is read, naming it', () => {
  it('a missing flag, an unknown exchange, a reversed range, a bad worker count', async () => {
    for (const [args, want] of [
      [['--from', '2024-03-01', '--exchange', 'binanceusdm'], /--to is required/],
      [[...base.slice(0, 4), '--exchange', 'nasdaq'], /--exchange nasdaq: not one of binanceusdm, bybit/],
      [
        ['--from', '2024-03-02', '--to', '2024-03-01', '--exchange', 'bybit'],
        /--to 2024-03-01 must be after --from 2024-03-02/,
      ],
      [
        ['--from', '2024-02-30', '--to', '2024-03-01', '--exchange', 'bybit'],
        /--from 2024-02-30: no day 30 in 2024-02/,
      ],
      [[...base, '--workers', 'many'], /--workers many: a whole number 0-99/],
    ] as const) {
      const r = await run([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, want);
    }
  });

  it('an unreadable config file names the flag; an unknown align key names the key', async () => {
    const missing = await run([...base, '--quality-config', join(dir, 'nope.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--quality-config.*cannot read .*nope\.json as JSON/);
    const file = join(dir, 'align.json');
    writeFileSync(file, JSON.stringify({ revisionHorizonMs: 60_000, horizon: 1 }));
    const unknown = await run([...base, '--align-config', file]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /--align-config\.horizon/);
  });
});

describe('REPROCESS_WORKER_NODE_FLAGS', () => {
  it("puts the services' flags, then these, before the worker entry", () => {
    const lean = workerNodeArgs(' --max-semi-space-size=4  --heap-growing-percent=15 ');
    assert.deepEqual(lean.slice(0, 4), [
      '--max-semi-space-size=16',
      '--max-semi-space-size=4',
      '--heap-growing-percent=15',
      '--conditions=@perpflow/source',
    ]);
    assert.match(lean.at(-1) ?? '', /worker-main\.ts$/);
    assert.deepEqual(workerNodeArgs('').slice(0, 2), [
      '--max-semi-space-size=16',
      '--conditions=@perpflow/source',
    ]);
  });

  it('a value that is not flags stops start-up naming the key', () => {
    const base = { S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 'b' };
    assert.equal(
      loadReprocessConfig({ ...base, REPROCESS_WORKER_NODE_FLAGS: '--max-semi-space-size=4' })
        .REPROCESS_WORKER_NODE_FLAGS,
      '--max-semi-space-size=4',
    );
    for (const bad of ['rm -rf /', '--eval=1', '--import=x', '--max-semi-space-size=4;x', '-e'])
      assert.throws(
        () => loadReprocessConfig({ ...base, REPROCESS_WORKER_NODE_FLAGS: bad }),
        (err: Error) => /REPROCESS_WORKER_NODE_FLAGS/.test(err.message),
        bad,
      );
  });
});

describe('perpflow reprocess: reading a job while workers move it', () => {
  const result: ReprocessJobResult = {
    records: 1_234,
    objects: 3,
    windows: 2,
    bars: 1_000,
    revisions: 5,
    deadLetters: {},
    written: [],
  };

  /**
   * A queue whose one job completes right after the first read of it, whichever read that
   * is: the moment two workers made the command fail, made to happen every time.
   */
  function completingQueue() {
    let reads = 0;
    const now = () => (reads++ === 0 ? 'active' : 'completed');
    return {
      getJobState: async () => now(),
      getJob: async () => {
        const state = now();
        return (
          state === 'active'
            ? { returnvalue: null, progress: { records: 600 }, failedReason: '' }
            : { returnvalue: result, progress: { records: 1_234 }, failedReason: '' }
        ) as never;
      },
    };
  }

  it('a job that completes between the reads is seen active, then completed with its result', async () => {
    const queue = completingQueue();
    const first = await readJob(queue, 'j1');
    assert.equal(first.state, 'active');
    assert.deepEqual(await readJob(queue, 'j1'), { state: 'completed', result });
  });

  it('a completed job without a result, a failed one and one not started are told apart', async () => {
    const queue = (state: string, job: object | undefined) => ({
      getJobState: async () => state as never,
      getJob: async () => job as never,
    });
    assert.deepEqual(await readJob(queue('completed', { returnvalue: null }), 'j2'), {
      state: 'failed',
      reason: 'job j2 completed without a result (its BullMQ returnvalue is empty)',
    });
    assert.deepEqual(await readJob(queue('failed', { failedReason: 'archive object corrupt' }), 'j3'), {
      state: 'failed',
      reason: 'archive object corrupt',
    });
    assert.deepEqual(await readJob(queue('waiting', { returnvalue: null }), 'j4'), { state: 'waiting' });
    assert.deepEqual(await readJob(queue('unknown', undefined), 'j5'), { state: 'waiting' });
    assert.deepEqual(await readJob(queue('active', { progress: 7 }), 'j6'), { state: 'active', records: 0 });
  });
});
