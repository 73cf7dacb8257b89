/**
 * A backfill's job count after the ingest dies at a job's completion. The ingest is started
 * with INGEST_CRASH_AT=after-job-completed: it SIGKILLs itself once BullMQ has completed a
 * job and before the worker's own 'completed' handler runs. A job marked done only in that
 * handler was left out of the done set by such a kill, and the backfill never ended for
 * `perpflow-backfill follow` (done + failed short of total for good; seen once with
 * FAULTS_SEED=4242 when a random kill hit that window).
 * The suite's supervisor starts the ingest again, as compose's `restart: unless-stopped`
 * does; the jobs the kill interrupted stall and run again after INGEST_BACKFILL_LOCK_MS (5 s
 * here, its least), every finished chunk skipped by its checkpoint. Each round's done set
 * must reach every job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { backfillKeys } from '../../services/exchange-ingest/src/backfill/keys.js';
import { STACK, waitFor } from '../src/harness.js';
import { DAY, HOUR, Pipeline } from './src/pipeline.js';

const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1_000_000));
/** More jobs than INGEST_BACKFILL_CONCURRENCY (3): some are queued or running at the kill. */
const SYMBOLS = Array.from({ length: 6 }, (_, i) => `S${String(i + 1).padStart(3, '0')}/USDT:USDT`);
const BASE = Date.UTC(2020, 6, 1) + (SEED % 300) * DAY;
const ROUNDS = 2;

describe(`backfill job count after an ingest SIGKILL at a job's completion (FAULTS_SEED=${SEED})`, {
  timeout: 600_000,
}, () => {
  let p: Pipeline;
  const redis = new Redis(STACK.redisUrl);
  /** Jobs in the backfill's done set, what `follow` and the progress gauge count. */
  const doneOf = async (id: string) => redis.scard(backfillKeys(p.queue).done(id));
  before(async () => {
    p = await Pipeline.create(SEED, SYMBOLS);
    p.configure('ingest', { INGEST_BACKFILL_LOCK_MS: '5000' });
    await p.startBackfillOnly();
  });
  after(async () => {
    await p?.stopAll();
    redis.disconnect();
  });

  it(`every job in the done set after each kill, ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      // This start dies at the first completion; the supervisor's restart runs without the hook.
      await p.stop('ingest');
      p.configure('ingest', { INGEST_CRASH_AT: 'after-job-completed' });
      const crashing = await p.start('ingest');
      p.configure('ingest', { INGEST_CRASH_AT: '' });
      const fromMs = BASE + round * 6 * HOUR;
      const id = p.backfill({ fromMs, toMs: fromMs + 6 * HOUR });
      const exit = await Promise.race([
        crashing.exited,
        new Promise<string>((r) => setTimeout(() => r('still running after 120 s'), 120_000)),
      ]);
      assert.equal(exit, 'SIGKILL', `round ${round}: the ingest should have killed itself at a completion`);
      assert.match(crashing.log(), /"step":"after-job-completed".*INGEST_CRASH_AT reached/);
      const total = SYMBOLS.length;
      const atKill = await doneOf(id);
      let done = atKill;
      await waitFor(
        `backfill ${id}: ${total} jobs done after the restart`,
        async () => {
          done = await doneOf(id);
          return done === total;
        },
        120_000,
        500,
      ).catch(() => undefined);
      console.log(
        `round ${round}: backfill ${id}: ${atKill} of ${total} jobs done at the kill, ${done} after the restart`,
      );
      assert.equal(
        done,
        total,
        `round ${round}: backfill ${id} stays at ${done} of ${total} jobs done (${atKill} at the kill)`,
      );
      // And as the user sees it.
      assert.equal(p.backfillStatus(id), `${total}/${total}`);
    }
  });
});
