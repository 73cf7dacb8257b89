/**
 * perpflow-backfill: start, list, follow and cancel backfills.
 *   perpflow-backfill start --exchange binanceusdm --symbols BTC/USDT:USDT,ETH/USDT:USDT --from 2024-01-01 --to 2024-01-31 [--feeds ohlcv,open_interest,funding] [--id name] [--shards n] [--queue prefix] [--follow]
 *   perpflow-backfill list
 *   perpflow-backfill status <id> [--follow]
 *   perpflow-backfill cancel <id>
 */
import type { ExchangeId } from '@perpflow/contracts';
import { Progress, sleep } from '@perpflow/runtime';
import { Redis } from 'ioredis';
import { BackfillControl, type BackfillStatus } from './backfill/queue.js';
import { loadBackfillCliConfig } from './config.js';
import { BACKFILL_FEEDS, type BackfillFeed, backfillableFeeds, parseTimeArg } from './backfill/plan.js';
import { ingestVenue, SUPPORTED_EXCHANGES } from './venues/index.js';
import { backfillCeilings, backfillRows } from './domain/backfill-ceiling.js';

function flags(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) m.set(a, 'true');
    else {
      m.set(a, next);
      i++;
    }
  }
  return m;
}

/** One status line (no rate: a single sample). */
function bar(s: BackfillStatus): string {
  const note = `${s.failed ? `${s.failed} FAILED ` : ''}${s.cancelled ? '(cancelled)' : ''}`.trim();
  return new Progress({ unit: 'jobs', label: s.id, tty: false, write: () => {} }).line(
    Math.round(s.progress * s.total * 10) / 10,
    s.total,
    note,
  );
}

/** Follows a backfill until it ends: a bar with jobs/s and ETA on a terminal, a plain line every 5 s otherwise. */
async function follow(control: BackfillControl, id: string): Promise<number> {
  const tty = process.stdout.isTTY === true;
  const progress = new Progress({ unit: 'jobs', label: id, tty, write: (t) => process.stdout.write(t) });
  for (;;) {
    const s = await control.status(id);
    if (!s) throw new Error(`no backfill "${id}" (perpflow-backfill list shows the ids)`);
    const ended = s.done + s.failed >= s.total || s.cancelled;
    const note = `${s.failed ? `${s.failed} FAILED ` : ''}${s.cancelled ? '(cancelled)' : ''}`.trim();
    // Jobs in flight count by their own progress, so the bar moves within a job.
    progress.update(Math.round(s.progress * s.total * 10) / 10, s.total, note, ended);
    if (ended) {
      if (s.failed > 0)
        process.stdout.write(
          `${s.failed} job(s) failed after their retries: see the ingest worker's log for the error, then start the backfill again (finished days are not refetched)\n`,
        );
      return s.failed > 0 ? 2 : 0;
    }
    await sleep(tty ? 500 : 1_000);
  }
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const f = flags(rest);
  // The service's own keys and defaults (config.ts): REDIS_URL, INGEST_BACKFILL_QUEUE.
  const config = loadBackfillCliConfig(
    f.has('--queue') ? { ...process.env, INGEST_BACKFILL_QUEUE: f.get('--queue') } : process.env,
  );
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
  const queuePrefix = config.INGEST_BACKFILL_QUEUE;
  const control = new BackfillControl(redis, Date.now, queuePrefix);
  try {
    switch (command) {
      case 'start': {
        const exchange = f.get('--exchange') ?? 'binanceusdm';
        if (!(SUPPORTED_EXCHANGES as readonly string[]).includes(exchange))
          throw new Error(
            `--exchange: "${exchange}" is not one of ${SUPPORTED_EXCHANGES.join(', ')} (the exchanges with an ingest venue module)`,
          );
        const symbols = (f.get('--symbols') ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (symbols.length === 0)
          throw new Error('--symbols: give at least one unified symbol, e.g. BTC/USDT:USDT');
        const feeds = (f.get('--feeds') ?? BACKFILL_FEEDS.join(',')).split(',') as BackfillFeed[];
        for (const feed of feeds)
          if (!BACKFILL_FEEDS.includes(feed))
            throw new Error(
              `--feeds: "${feed}" is not one of ${BACKFILL_FEEDS.join(', ')} (liquidations have no REST history)`,
            );
        const fromMs = parseTimeArg('--from', f.get('--from') ?? '');
        const toMs = parseTimeArg('--to', f.get('--to') ?? '');
        const id =
          f.get('--id') ??
          `bf-${new Date()
            .toISOString()
            .replace(/[-:.TZ]/g, '')
            .slice(0, 14)}`;
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error('--id: letters, digits, _ and - only');
        const shards = Number(f.get('--shards') ?? '1');
        if (!(Number.isInteger(shards) && shards >= 1 && shards <= 1024))
          throw new Error('--shards: the number of sharded workers (n of their INGEST_SHARD=i/n), 1..1024');
        const s = await control.start({
          id,
          exchange: exchange as ExchangeId,
          symbols,
          feeds,
          timeframe: '1m',
          fromMs,
          toMs,
          chunkMs: 86_400_000,
          shards,
        });
        console.log(
          `started ${s.id}: ${s.total} jobs (one per symbol, walked day by day${shards > 1 ? `, over ${shards} shards` : ''}). A running exchange-ingest picks them up.`,
        );
        const { feeds: fetched, skipped } = backfillableFeeds(exchange as ExchangeId, feeds);
        for (const k of skipped) console.log(`${k.feed}: not backfilled on ${exchange}: ${k.reason}`);
        console.log(ceilingLine(exchange as ExchangeId, symbols.length, fetched, fromMs, toMs));
        return f.has('--follow') ? await follow(control, s.id) : 0;
      }
      case 'list': {
        const all = await control.list();
        if (all.length === 0) console.log('no backfills');
        for (const s of all) console.log(bar(s));
        return 0;
      }
      case 'status': {
        const id = rest[0];
        if (!id) throw new Error('usage: perpflow-backfill status <id> [--follow]');
        if (f.has('--follow')) return await follow(control, id);
        const s = await control.status(id);
        if (!s) throw new Error(`no backfill "${id}" (see: perpflow-backfill list)`);
        console.log(bar(s));
        return 0;
      }
      case 'cancel': {
        const id = rest[0];
        if (!id) throw new Error('usage: perpflow-backfill cancel <id>');
        const removed = await control.cancel(id);
        console.log(
          `cancelled ${id}: removed ${removed} waiting jobs; running jobs stop after their current page`,
        );
        return 0;
      }
      default:
        console.log('usage: perpflow-backfill start|list|status|cancel ... (see the README, Backfill)');
        return command === undefined || command === '--help' ? 0 : 1;
    }
  } finally {
    redis.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`perpflow-backfill: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

const CEILING_FEED = {
  ohlcv: 'ohlcv',
  open_interest: 'openInterestHistory',
  funding: 'fundingHistory',
} as const;

/** What the venue allows one IP, per feed, and the least time this backfill can take at that rate. */
function ceilingLine(
  exchange: ExchangeId,
  symbols: number,
  feeds: BackfillFeed[],
  fromMs: number,
  toMs: number,
): string {
  const ceilings = backfillCeilings(ingestVenue(exchange));
  const parts = feeds.map((feed) => {
    const c = ceilings.find((x) => x.feed === CEILING_FEED[feed]);
    if (!c) return `${feed}: no ceiling known`;
    const rows = backfillRows(c.feed, symbols, fromMs, toMs, 60_000);
    const seconds = rows / c.rowsPerSecond;
    return `${feed} ${rows.toLocaleString('en-US')} rows at most ${Math.round(c.rowsPerSecond).toLocaleString('en-US')}/s (${c.boundBy === 'budget' ? 'weight budget' : 'endpoint limit'}): at least ${seconds < 60 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`}`;
  });
  return `${exchange} allows one IP: ${parts.join('; ')}. Live loops and other clients on the IP share it; shards on other hosts add IPs.`;
}
