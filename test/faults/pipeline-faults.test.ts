/**
 * Fault suite (npm run test:faults): the whole pipeline (simulator → ingest backfill →
 * aligner → windower → S3) under faults. After each scenario S3 is compared with the
 * simulator's candles: every expected bar present exactly once, values equal.
 * Scenarios share one running pipeline and backfill consecutive 4-hour ranges of the
 * same three symbols, so each scenario's bars are its own (the load scenario takes a
 * day of every symbol, 20 days further on). Random choices (symbols, day, kill points)
 * come from FAULTS_SEED (printed; set it to repeat a run). A service that exits on its
 * own is restarted by the suite, as a supervisor would (see Pipeline).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sampleCandle } from '@perpflow/contracts';
import { TOPICS } from '../src/harness.js';
import { waitFor } from '../src/harness.js';
import {
  assertComplete,
  type Comparison,
  countBy,
  DAY,
  EXCHANGE,
  HOUR,
  Pipeline,
  type Range,
  stackServer,
  type ServiceName,
  seededRandom,
} from './src/pipeline.js';
import { formatRow, type ScenarioRow, TABLE_HEADER, writeTable } from './src/table.js';

const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1_000_000));
const rand = seededRandom(SEED);
const SYMBOLS = (() => {
  const picked = new Set<number>();
  // The simulator (SYMBOLS=40) lists 20 named majors, then S001…S020; other suites use the majors.
  while (picked.size < 3) picked.add(1 + Math.floor(rand() * 20));
  return [...picked].map((n) => `S${String(n).padStart(3, '0')}/USDT:USDT`);
})();
const SPAN = 4 * HOUR;
const BASE = Date.UTC(2021, 0, 1) + Math.floor(rand() * 330) * DAY;
let nextRange = 0;
const takeRange = (): Range => {
  const fromMs = BASE + nextRange++ * SPAN;
  return { fromMs, toMs: fromMs + SPAN };
};
const EXPECTED_BARS = SYMBOLS.length * (SPAN / 60_000);
/** How long the redis-restart and kafka-restart scenarios keep the server down. */
const DOWN_S = { redis: 10, kafka: 20 } as const;
/** Peak RSS a service must stay under in the load scenario: a bound on leaks, not a target. */
const LOAD_RSS_BOUND_MIB = 1_024;
/** FAULTS_SCENARIOS=kill-ingest,redis-restart,…: run only these (development); default all. */
const ONLY = (process.env.FAULTS_SCENARIOS ?? '').split(',').filter(Boolean);
/**
 * Scenarios that find a bug not fixed yet: run only when named in FAULTS_SCENARIOS, listed
 * on every run, and explained in pending/README.md. None at present.
 */
const PENDING: string[] = [];
if (ONLY.length === 0 && PENDING.length > 0)
  console.log(`fault suite: pending, not run (see faults/pending/README.md): ${PENDING.join(', ')}`);
const scenario = (name: string, title: string, fn: () => Promise<void>) => {
  if ((ONLY.length === 0 && !PENDING.includes(name)) || ONLY.includes(name)) it(`${name}: ${title}`, fn);
};

const rows: ScenarioRow[] = [];
function report(scenario: string, c: Comparison, deadLetters: Record<string, number>, note = ''): void {
  const row = { scenario, ...pick(c), deadLetters, note };
  rows.push(row);
  console.log(`${TABLE_HEADER}\n${formatRow(row)}`);
}
const pick = (c: Comparison) => ({
  expected: c.expected,
  found: c.found,
  duplicated: c.duplicated,
  lost: c.lost,
});

const KILL_METRIC: Record<Exclude<ServiceName, 'archiver'>, [string, Record<string, string>]> = {
  ingest: ['perpflow_ingest_records_published_total', { feed: 'ohlcv' }],
  aligner: ['perpflow_aligner_bars_emitted_total', {}],
  windower: ['perpflow_windower_bars_in_total', {}],
};

describe(`fault suite (FAULTS_SEED=${SEED})`, { timeout: 1_800_000 }, () => {
  let p: Pipeline;
  /** Whether every job of backfill `id` is done within `ms` (each row notes the count either way). */
  const backfillCompletes = (id: string, ms: number): Promise<boolean> =>
    waitFor(`backfill ${id} complete`, async () => p.backfillDone(id), ms, 1_000).then(
      () => true,
      () => false,
    );
  before(async () => {
    console.log(
      `fault suite: FAULTS_SEED=${SEED}, symbols ${SYMBOLS.join(' ')}, from ${new Date(BASE).toISOString()}`,
    );
    p = await Pipeline.create(SEED, SYMBOLS);
    await p.startAll();
    console.log(`S3 prefix ${p.prefix}`);
  });
  after(async () => {
    await p?.stopAll();
    console.log(`\nfault suite table (FAULTS_SEED=${SEED})\n${TABLE_HEADER}`);
    for (const r of rows) console.log(formatRow(r));
    console.log(`written to ${writeTable(rows, SEED)}`);
  });

  for (const service of ['ingest', 'aligner', 'windower'] as const)
    scenario(
      `kill-${service}`,
      `SIGKILL at a random point mid-stream, then restart: S3 equals the simulator`,
      async () => {
        const range = takeRange();
        const since = Date.now();
        const [name, labels] = KILL_METRIC[service];
        const base = await p.metric(service, name, labels);
        // Ingest publishes a symbol's 4 h as one page of 240 candles, and the three pages
        // came back together: the kill landed after the last one. The simulator now delays
        // each answer by 0-2 s, so pages arrive apart, and the target (10-60 %) is short of
        // the last page: the kill lands between pages, with a job in flight.
        const fraction = 0.1 + rand() * 0.5;
        const target = base + Math.ceil(fraction * EXPECTED_BARS);
        if (service !== 'windower') await p.simFaults({ venue: EXCHANGE, latencyMs: 2_000 });
        const id = p.backfill(range);
        let at: number;
        try {
          at = await waitFor(
            `${name} ≥ ${target}`,
            async () => {
              const v = await p.metric(service, name, labels);
              return v >= target ? v : null;
            },
            300_000,
            50,
          );
          assert.equal(await p.kill(service), 'SIGKILL');
        } finally {
          await p.simFaults({ latencyMs: 0 });
        }
        await p.start(service);
        const c = await p.waitComplete(range, 400_000);
        // A job the kill interrupted is taken up again once its lock has lapsed
        // (INGEST_BACKFILL_LOCK_MS, 30 s here: one to two times that).
        const jobsDone = await backfillCompletes(id, 150_000);
        const dl = countBy(await p.deadLetters(since), (d) => d.ruleId);
        report(
          `kill-${service}`,
          c,
          dl,
          `killed at ${name}=${at - base} of ${EXPECTED_BARS} (target ${(fraction * 100).toFixed(0)}%); backfill ${p.backfillStatus(id)} jobs`,
        );
        assertComplete(c, `kill ${service}`, EXPECTED_BARS);
        assert.ok(jobsDone, `backfill ${id}: ${p.backfillStatus(id)} jobs done after the ${service} kill`);
      },
    );

  scenario(
    'exchange-faults',
    '429 storm, 5xx, hangs, malformed and HTML bodies: S3 still complete',
    async () => {
      const range = takeRange();
      const since = Date.now();
      // The first five answers carry one fault of each kind (the rates alone drew no 5xx
      // among ~15 requests in one CI run: 0.85^15 ≈ 9 %; and no 429 among the first 16
      // requests of seed 238695, 0.6^16 ≈ 3e-4), then the rates apply: 40 % of
      // requests get a 429, 30 % of the rest a 5xx, hang, malformed or HTML body, so 42 % of
      // requests succeed. A page fails its job attempt after 5 faults in a row (0.58^5 =
      // 6.6 %); the job's attempts back off 2 s, 4 s, … (BullMQ, 10 attempts). At 0.45
      // instead of 0.30 (33 % succeed, 13.5 % of pages failed), one run saw the candle page
      // fail 20 times in a row over 4 attempts (0.67^20 = 3e-4): 8 attempts used, the 9th due
      // after this scenario's 400 s.
      await p.simFaults({
        venue: EXCHANGE,
        httpFaultSequence: ['rate_limited', 'http_5xx', 'malformed_json', 'html_body', 'hang'],
        rateLimitedRate: 0.4,
        retryAfterS: 1,
        http5xxRate: 0.1,
        hangRate: 0.05,
        malformedJsonRate: 0.1,
        htmlRate: 0.05,
      });
      const id = p.backfill(range);
      try {
        // A 418 ban of 15 s once the backfill is under way: ingest must wait it out (Retry-After).
        await waitFor(
          'ingest under way',
          async () => (await p.metric('ingest', ...KILL_METRIC.ingest)) > 0,
          120_000,
          100,
        );
        await p.simFaults({ banMs: 15_000 });
        await waitFor(`backfill ${id} complete`, async () => p.backfillDone(id), 400_000, 2_000).catch(
          (err: Error) => {
            throw new Error(`${err.message}; jobs ${p.backfillStatus(id)} (the ingest log has each attempt)`);
          },
        );
      } finally {
        await p.simFaults({
          httpFaultSequence: [],
          rateLimitedRate: 0,
          http5xxRate: 0,
          hangRate: 0,
          malformedJsonRate: 0,
          htmlRate: 0,
          banMs: 0,
        });
      }
      const injected = await p.simFaultCounts();
      const c = await p.waitComplete(range);
      const dl = countBy(await p.deadLetters(since), (d) => d.ruleId);
      const faultsNote = Object.entries(injected)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k}=${n}`)
        .join(' ');
      report('exchange-faults', c, dl, `injected ${faultsNote}`);
      for (const kind of [
        'rate_limited_429',
        'http_5xx',
        'malformed_json',
        'html_body',
        'hang',
        'banned_418',
      ])
        assert.ok((injected[kind] ?? 0) > 0, `no ${kind} was injected: ${JSON.stringify(injected)}`);
      assertComplete(c, 'exchange faults', EXPECTED_BARS);
    },
  );

  scenario('poison-records', 'each dead-lettered with its rule, good records still reach S3', async () => {
    const range = takeRange();
    const since = Date.now();
    const symbol = SYMBOLS[0] ?? '';
    const key = `${EXCHANGE}|${symbol}`;
    const t = range.fromMs + 30 * 60_000;
    const candle = (o: Record<string, unknown>) =>
      JSON.stringify({
        ...sampleCandle({
          exchange: EXCHANGE,
          symbol,
          openTimeMs: t,
          eventTimeMs: t,
          receivedAtMs: t + 60_500,
          source: 'backfill',
        }),
        ...o,
      });
    const farFuture = Date.UTC(2200, 0, 1);
    const soon = Date.now() + 7 * DAY;
    const poison: { name: string; key: string; value: string; rule: string }[] = [
      { name: 'invalid JSON', key, value: '{"schemaVersion":1,"exchange":', rule: 'contract.json' },
      { name: 'wrong type', key, value: candle({ open: 'abc' }), rule: 'contract.type' },
      { name: 'NaN as a string', key, value: candle({ close: 'NaN' }), rule: 'contract.type' },
      { name: 'Infinity as a string', key, value: candle({ high: 'Infinity' }), rule: 'contract.type' },
      { name: 'zero price', key, value: candle({ open: 0 }), rule: 'contract.positive' },
      { name: 'negative price', key, value: candle({ low: -5 }), rule: 'contract.positive' },
      {
        name: 'timestamps in seconds',
        key,
        value: candle({ openTimeMs: Math.floor(t / 1000), eventTimeMs: Math.floor(t / 1000) }),
        rule: 'contract.epoch_ms',
      },
      {
        name: 'far-future time (2200)',
        key,
        value: candle({ openTimeMs: farFuture, eventTimeMs: farFuture }),
        rule: 'contract.epoch_ms',
      },
      {
        name: 'future time (now + 7 days)',
        key,
        value: candle({
          openTimeMs: soon - (soon % 60_000),
          eventTimeMs: soon - (soon % 60_000),
          receivedAtMs: soon,
        }),
        rule: 'time.future',
      },
      { name: '1 MB payload', key, value: candle({ pad: 'x'.repeat(1_000_000) }), rule: 'contract.size' },
      {
        name: 'unknown exchange',
        key: `mtgox|${symbol}`,
        value: candle({ exchange: 'mtgox' }),
        rule: 'contract.enum',
      },
      {
        name: '5,000-deep nesting (10 KB)',
        key,
        value: candle({}).replace('"open":', `"open":${'['.repeat(5_000)}${']'.repeat(5_000)},"x":`),
        rule: 'contract.type',
      },
      { name: '160 KB key', key: `${key}${'k'.repeat(160 * 1024)}`, value: candle({}), rule: 'contract.key' },
      {
        name: 'mis-keyed (another series)',
        key: `${EXCHANGE}|MISKEYED/USDT:USDT`,
        value: candle({}),
        rule: 'contract.key',
      },
      {
        name: 'symbol with ../',
        key: `${EXCHANGE}|../../etc/USDT:USDT`,
        value: candle({ symbol: '../../etc/USDT:USDT' }),
        rule: 'contract.format',
      },
    ];
    // Half the poison before the backfill starts, half while it runs.
    const items = poison.map((x) => ({ topic: TOPICS.raw.ohlcv, key: x.key, value: x.value }));
    const where = await p.produceEach(items.slice(0, 8));
    const id = p.backfill(range);
    where.push(...(await p.produceEach(items.slice(8))));
    await waitFor(`backfill ${id} complete`, async () => p.backfillDone(id), 300_000, 2_000);
    const c = await p.waitComplete(range);

    const at = (w: { topic: string; partition: number; offset: string }) =>
      `${w.topic}/${w.partition}/${w.offset}`;
    const letters = await waitFor(
      'a dead letter for every poison record',
      async () => {
        const all = await p.deadLetters(
          since,
          poison.map((x) => x.key.slice(0, 1024)), // a dead letter keeps 1 KiB of a longer key
        );
        const bySource = new Map(all.map((d) => [at(d.source), d]));
        return where.every((w) => bySource.has(at(w))) ? { all, bySource } : null;
      },
      120_000,
      3_000,
    );
    const dl = countBy(letters.all, (d) => d.ruleId);
    report('poison-records', c, dl, `${poison.length} poison records`);
    const outcome = poison.map((x, i) => {
      const d = letters.bySource.get(at(where[i] ?? { topic: '', partition: -1, offset: '' }));
      return { name: x.name, expected: x.rule, got: d?.ruleId ?? '(none)', stage: d?.stage ?? '' };
    });
    console.log(outcome.map((o) => `  ${o.name}: ${o.got}`).join('\n'));
    assert.deepEqual(
      outcome.map((o) => `${o.name}: ${o.got} @${o.stage}`),
      outcome.map((o) => `${o.name}: ${o.expected} @aligner`),
    );
    assertComplete(c, 'poison records', EXPECTED_BARS);
    assert.deepEqual(await p.keysOutsidePrefix(), [], 'S3 keys outside the prefix');
    const stray = await p.readS3({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
    assert.ok(
      stray.bars.every((b) => b.eventTimeMs < Date.now()),
      'a bar from the future reached S3',
    );
  });

  for (const server of ['redis', 'kafka'] as const)
    scenario(
      `${server}-restart`,
      `the stack's ${server} stopped mid-backfill for ${DOWN_S[server]} s, then started: jobs and checkpoints survive, S3 complete`,
      async () => {
        const range = takeRange();
        const since = Date.now();
        const [name, labels] = KILL_METRIC.ingest;
        const base = await p.metric('ingest', name, labels);
        const fraction = 0.1 + rand() * 0.5;
        const target = base + Math.ceil(fraction * EXPECTED_BARS);
        const id = p.backfill(range);
        const at = await waitFor(
          `${name} ≥ ${target}`,
          async () => {
            const v = await p.metric('ingest', name, labels);
            return v >= target ? v : null;
          },
          300_000,
          50,
        );
        const restartsBefore = { ...p.restarts };
        // Down long enough for clients to give up: kafkajs consumers crash after ~8 s
        // without a group coordinator, and the services exit to be restarted.
        const stop = stackServer(server, 'stop');
        assert.equal(stop.status, 0, `stack.sh stop ${server}:\n${stop.output}`);
        await new Promise((r) => setTimeout(r, DOWN_S[server] * 1000));
        const restart = stackServer(server, 'start');
        assert.equal(restart.status, 0, `stack.sh start ${server}:\n${restart.output}`);
        const c = await p.waitComplete(range, 400_000);
        await waitFor(`backfill ${id} complete`, async () => p.backfillDone(id), 120_000, 3_000).catch(
          () => null,
        );
        const status = p.backfillStatus(id);
        const dl = countBy(await p.deadLetters(since), (d) => d.ruleId);
        const restarted = Object.entries(p.restarts)
          .map(([s, n]) => `${s} ${n - restartsBefore[s as ServiceName]}`)
          .join(', ');
        report(
          `${server}-restart`,
          c,
          dl,
          `down ${DOWN_S[server]} s from ${name}=${at - base} of ${EXPECTED_BARS}; backfill ${status} jobs; supervisor restarts: ${restarted}`,
        );
        assertComplete(c, `${server} restart`, EXPECTED_BARS);
        const [done, total] = status.split('/');
        assert.equal(done, total, `backfill ${id}: ${status} jobs after the ${server} restart`);
        for (const s of ['ingest', 'aligner', 'windower'] as const)
          await waitFor(`${s} running after the ${server} restart`, async () => p.isRunning(s), 60_000);
      },
    );

  scenario(
    's3-outage',
    'the S3 server down as a backfill flows, for 30 s and until a write failed: S3 complete once it is back',
    async () => {
      // S3 goes down before the range is backfilled, so the windower has this range's bars to
      // write during the outage: stopped once its bar counter reached a target, it had sometimes
      // written every bar already (the aligner hands them over in bursts) and saw no error.
      const range = takeRange();
      const since = Date.now();
      const errorsBefore = await p.metric('windower', 'perpflow_windower_s3_errors_total');
      const stop = stackServer('s3', 'stop');
      assert.equal(stop.status, 0, `stack.sh stop s3:\n${stop.output}`);
      const downAt = Date.now();
      let id: string;
      try {
        id = p.backfill(range);
        await new Promise((r) => setTimeout(r, 30_000));
        await waitFor(
          'a windower S3 error while S3 is down',
          async () =>
            (await p.metric('windower', 'perpflow_windower_s3_errors_total')) > errorsBefore ? true : null,
          120_000,
          500,
        ).catch(() => null);
      } finally {
        const start = stackServer('s3', 'start');
        assert.equal(start.status, 0, `stack.sh start s3:\n${start.output}`);
      }
      const downS = (Date.now() - downAt) / 1000;
      const c = await p.waitComplete(range, 400_000);
      const jobsDone = await backfillCompletes(id, 120_000);
      const s3Errors = (await p.metric('windower', 'perpflow_windower_s3_errors_total')) - errorsBefore;
      const dl = countBy(await p.deadLetters(since), (d) => d.ruleId);
      report(
        's3-outage',
        c,
        dl,
        `S3 down ${downS.toFixed(0)} s; windower S3 errors ${s3Errors}; backfill ${p.backfillStatus(id)} jobs`,
      );
      assert.ok(s3Errors > 0, 'the windower saw no S3 error: was S3 really down while it wrote?');
      assertComplete(c, 'S3 outage', EXPECTED_BARS);
      assert.ok(jobsDone, `backfill ${id}: ${p.backfillStatus(id)} jobs done after the S3 outage`);
      assert.ok(p.isRunning('windower'), 'the windower exited during the S3 outage');
    },
  );

  scenario(
    'load',
    'backfill burst of every simulator symbol × 1 day: S3 complete, memory bounded, peak RSS per service',
    async () => {
      const LOAD_SYMBOLS = await p.simSymbols();
      assert.ok(LOAD_SYMBOLS.length >= 40, `the simulator lists ${LOAD_SYMBOLS.length} symbols`);
      // A day far from the other scenarios' 4-hour ranges.
      const range = { fromMs: BASE + 20 * DAY, toMs: BASE + 21 * DAY };
      const since = Date.now();
      const stopSampling = p.sampleRss();
      const started = Date.now();
      const id = p.backfill(range, LOAD_SYMBOLS);
      let c: Comparison;
      let peak: Partial<Record<ServiceName, number>>;
      try {
        c = await p.waitComplete(range, 900_000, LOAD_SYMBOLS);
      } finally {
        peak = stopSampling();
      }
      const wallS = (Date.now() - started) / 1000;
      const jobsDone = await backfillCompletes(id, 120_000);
      const dl = countBy(
        await p.deadLetters(
          since,
          LOAD_SYMBOLS.map((s) => `${EXCHANGE}|${s}`),
        ),
        (d) => d.ruleId,
      );
      // Live, these symbols close LOAD_SYMBOLS.length bars a minute.
      const perMinute = (c.found / wallS) * 60;
      const rss = Object.entries(peak)
        .map(([s, v]) => `${s} ${v.toFixed(0)}`)
        .join(', ');
      report(
        'load',
        c,
        dl,
        `${c.found} bars in ${wallS.toFixed(0)} s = ${(perMinute / LOAD_SYMBOLS.length).toFixed(0)}× the live rate; backfill ${p.backfillStatus(id)} jobs; peak RSS MiB: ${rss}`,
      );
      // The rate is reported, not asserted: speed targets live in npm run bench.
      assertComplete(c, 'load', LOAD_SYMBOLS.length * 1_440);
      assert.ok(jobsDone, `backfill ${id}: ${p.backfillStatus(id)} jobs done after the load`);
      // Bounded, not a target (targets are in npm run bench): a leak or an unbounded buffer
      // over a day of 40 symbols would pass this.
      for (const [s, v] of Object.entries(peak))
        assert.ok(
          v > 0 && v < LOAD_RSS_BOUND_MIB,
          `${s} peaked at ${v.toFixed(0)} MiB (bound ${LOAD_RSS_BOUND_MIB})`,
        );
    },
  );
});
