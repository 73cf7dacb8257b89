import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { backfillKeys, DEFAULT_QUEUE_PREFIX, queueName } from './keys.js';
import { type BackfillJobData, type BackfillSpec, planBackfill } from './plan.js';

export interface BackfillStatus {
  id: string;
  spec: Omit<BackfillSpec, 'symbols'> & { symbolCount: number };
  total: number;
  done: number;
  failed: number;
  cancelled: boolean;
  createdAtMs: number;
  /** 0..1: completed chunks over all chunks, from each job's progress. */
  progress: number;
}

/** Starts, lists and cancels backfills (the CLI's side). */
export class BackfillControl {
  constructor(
    private readonly redis: Redis,
    private readonly now: () => number = Date.now,
    private readonly queuePrefix = DEFAULT_QUEUE_PREFIX,
  ) {
    this.keys = backfillKeys(queuePrefix);
  }

  private readonly keys: ReturnType<typeof backfillKeys>;

  async start(spec: BackfillSpec): Promise<BackfillStatus> {
    const jobs = planBackfill(spec);
    const count = spec.shards ?? 1;
    const queueOf = (shard: number) => queueName(spec.exchange, { index: shard, count }, this.queuePrefix);
    const { symbols, ...rest } = spec;
    await this.redis.hset(this.keys.meta(spec.id), {
      spec: JSON.stringify({ ...rest, symbolCount: symbols.length }),
      jobIds: JSON.stringify(jobs.map((j) => j.id)),
      jobQueues: JSON.stringify(jobs.map((j) => queueOf(j.shard))),
      total: String(jobs.length),
      createdAtMs: String(this.now()),
      cancelled: '0',
    });
    await this.redis.zadd(this.keys.index, this.now(), spec.id);
    for (let shard = 0; shard < count; shard++) {
      const mine = jobs.filter((j) => j.shard === shard);
      if (mine.length === 0) continue;
      await this.addJobs(queueOf(shard), mine);
    }
    return (await this.status(spec.id)) as BackfillStatus;
  }

  private async addJobs(name: string, jobs: { id: string; data: BackfillJobData }[]): Promise<void> {
    const queue = new Queue<BackfillJobData>(name, { connection: this.redis });
    try {
      for (let i = 0; i < jobs.length; i += 500) {
        await queue.addBulk(
          jobs.slice(i, i + 500).map((j) => ({
            name: 'range',
            data: j.data,
            opts: {
              jobId: j.id,
              attempts: 10,
              backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
              removeOnComplete: { count: 10_000 },
              removeOnFail: false,
            },
          })),
        );
      }
    } finally {
      await queue.close();
    }
  }

  async status(id: string): Promise<BackfillStatus | null> {
    const meta = await this.redis.hgetall(this.keys.meta(id));
    if (!meta.spec) return null;
    const [done, failed] = await Promise.all([
      this.redis.scard(this.keys.done(id)),
      this.redis.scard(this.keys.failed(id)),
    ]);
    const spec = JSON.parse(meta.spec) as BackfillStatus['spec'];
    const jobIds = JSON.parse(meta.jobIds ?? '[]') as string[];
    const jobQueues = JSON.parse(meta.jobQueues ?? '[]') as string[];
    let progressSum = 0;
    const queues = new Map<string, Queue<BackfillJobData>>();
    try {
      for (const [i, jobId] of jobIds.entries()) {
        const name = jobQueues[i] ?? queueName(spec.exchange, undefined, this.queuePrefix);
        let queue = queues.get(name);
        if (!queue) {
          queue = new Queue<BackfillJobData>(name, { connection: this.redis });
          queues.set(name, queue);
        }
        const job = await Job.fromId(queue, jobId);
        const finished = job
          ? await job.isCompleted()
          : await this.redis.sismember(this.keys.done(id), jobId);
        progressSum += finished ? 100 : typeof job?.progress === 'number' ? job.progress : 0;
      }
    } finally {
      await Promise.all([...queues.values()].map((q) => q.close()));
    }
    return {
      progress: jobIds.length === 0 ? 1 : progressSum / (100 * jobIds.length),
      id,
      spec,
      total: Number(meta.total),
      done,
      failed,
      cancelled: meta.cancelled === '1',
      createdAtMs: Number(meta.createdAtMs),
    };
  }

  async list(): Promise<BackfillStatus[]> {
    const ids = await this.redis.zrange(this.keys.index, 0, -1);
    const out: BackfillStatus[] = [];
    for (const id of ids) {
      const s = await this.status(id);
      if (s) out.push(s);
    }
    return out;
  }

  /** Marks it cancelled (a running job sees the mark before its next chunk) and removes its waiting jobs. */
  async cancel(id: string): Promise<number> {
    const s = await this.status(id);
    if (!s) throw new Error(`no backfill "${id}" (see: perpflow-backfill list)`);
    await this.redis.hset(this.keys.meta(id), 'cancelled', '1');
    const names = new Set<string>(
      JSON.parse((await this.redis.hget(this.keys.meta(id), 'jobQueues')) ?? '[]'),
    );
    if (names.size === 0) names.add(queueName(s.spec.exchange, undefined, this.queuePrefix));
    let removed = 0;
    for (const name of names) {
      const queue = new Queue<BackfillJobData>(name, { connection: this.redis });
      try {
        const waiting = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
        for (const job of waiting)
          if (job?.data.backfillId === id) {
            await job.remove();
            removed++;
          }
      } finally {
        await queue.close();
      }
    }
    return removed;
  }
}
