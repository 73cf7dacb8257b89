/**
 * Catch-up gives the bars live gives (docs/ARCHITECTURE.md ③). Two days of the four feeds
 * for six series (2 venues × 3 symbols), with re-deliveries, a 12 h candle backfill sent
 * late (partly within the 24 h revision horizon, partly beyond it) and single records sent
 * 3 h and 30 h late, are published to the raw topics the way exchange-ingest publishes
 * them (each record stamped with its publish time, just after it was received), and run
 * through the real aligner on Kafka and Redis four times, each in its own consumer group:
 *
 * - live: the records published in 30-minute rounds, each consumed before the next;
 * - catch-up: all of them published while the aligner is stopped, then the aligner started;
 * - SIGKILL: the same backlog, the aligner killed after its fifth produce and restarted;
 * - rebalance: the same backlog, a second aligner joining the group mid-backlog.
 *
 * Every run must give the same last revision of every bar (every field) and the same dead
 * letters (rule, message and source record), and the records sent beyond the horizon must
 * be dead-lettered as late. Before the four topics were merged by timestamp, the catch-up
 * run differed on hundreds of fields: the sparse topics ran ahead of the candles.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AlignedBar,
  type DeadLetter,
  type Feed,
  FEEDS,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
  streamKey,
} from '@perpflow/contracts';
import { TOPICS } from '../src/harness.js';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import {
  freePort,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { ensurePipelineTopics, setGroupOffsets, testKafka, withProducer } from '../src/kafka-io.js';
import { seededRandom } from '../src/random.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const SPAN_MIN = 2 * 24 * 60;
// Recent event times: Kafka's time retention judges a segment by its newest timestamp.
const T0 = Math.floor((Date.now() - 3 * DAY) / DAY) * DAY;
const RUN = Date.now().toString(36).toUpperCase();
const SERIES = (['binanceusdm', 'bybit'] as const).flatMap((exchange) =>
  ['A', 'B', 'C'].map((s) => ({ exchange, symbol: `CU${RUN}${s}/USDT:USDT` })),
);
const KEYS = new Set(SERIES.map((s) => streamKey(s.exchange, s.symbol)));

interface Raw {
  feed: Feed;
  key: string;
  value: string;
  /** The Kafka timestamp: the ingest publishes a record just after it received it. */
  publishedAtMs: number;
}

/** What the venues sent, as exchange-ingest publishes it; and the records meant to be late. */
/** Event times of the records sent 30 h late. */
const OLD = T0 + 15 * HOUR + 2 * MIN + 10_000;
const SENT_LATE = new Set([OLD, T0 + 16 * HOUR + 1, OLD + 1_000, OLD + 2_000]);

function scenario(): { records: Raw[]; beyondHorizon: string[] } {
  const records: Raw[] = [];
  const beyondHorizon: string[] = [];
  const add = (feed: Feed, s: (typeof SERIES)[number], r: { receivedAtMs: number }) =>
    records.push({
      feed,
      key: streamKey(s.exchange, s.symbol),
      value: JSON.stringify(r),
      publishedAtMs: r.receivedAtMs + 5,
    });
  SERIES.forEach((s, n) => {
    const rand = seededRandom(1_000 + n);
    let price = 100 + 10 * n;
    const candle = (i: number, receivedAtMs: number, source: 'live' | 'backfill') => {
      const r = seededRandom(50_000 * (n + 1) + i); // a candle's content depends on its minute only
      const o = price;
      const c = o * (1 + (r() - 0.5) / 200);
      return sampleCandle({
        exchange: s.exchange,
        symbol: s.symbol,
        openTimeMs: T0 + i * MIN,
        eventTimeMs: T0 + i * MIN,
        receivedAtMs,
        open: o,
        high: Math.max(o, c) * 1.001,
        low: Math.min(o, c) * 0.999,
        close: c,
        volume: 1 + Math.floor(r() * 50),
        source,
      });
    };
    const closes: number[] = [];
    for (let i = 0; i < SPAN_MIN; i++) {
      const c = candle(i, T0 + (i + 1) * MIN + 400 + Math.floor(rand() * 500), 'live');
      closes.push(c.close);
      price = c.close;
      // Series A of each venue loses every 5th candle of hours 30..42 live; the backfill sends them.
      const dropped = n % 3 === 0 && i >= 30 * 60 && i < 42 * 60 && i % 5 === 0;
      if (!dropped) add('ohlcv', s, c);
      if (n % 3 === 1 && i % 100 === 7) add('ohlcv', s, c); // a re-delivery, byte for byte
    }
    // The 12 h backfill of hours 30..42, sent at hour 46: 4 to 16 h late, within the horizon.
    if (n % 3 === 0)
      for (let i = 30 * 60; i < 42 * 60; i++) {
        price = i === 0 ? price : (closes[i - 1] ?? price);
        add('ohlcv', s, candle(i, T0 + 46 * HOUR + (i - 30 * 60) * 10, 'backfill'));
      }
    for (let t = T0; t < T0 + SPAN_MIN * MIN; t += 5 * MIN)
      add(
        'open_interest',
        s,
        sampleOpenInterest({
          exchange: s.exchange,
          symbol: s.symbol,
          eventTimeMs: t,
          receivedAtMs: t + 800,
          openInterest: 10_000 + Math.floor(rand() * 1_000),
          source: 'live',
        }),
      );
    for (let k = 0; k < 6; k++) {
      const t = T0 + k * 8 * HOUR;
      add(
        'funding',
        s,
        sampleFunding({
          exchange: s.exchange,
          symbol: s.symbol,
          eventTimeMs: t,
          receivedAtMs: t + 2_000,
          kind: 'settled',
          fundingTimeMs: t,
          fundingRate: (k + 1 + n) * 0.00001,
          source: 'live',
        }),
      );
    }
    for (let k = 0; k < 40; k++) {
      const t = T0 + Math.floor(rand() * SPAN_MIN * MIN);
      add(
        'liquidation',
        s,
        sampleLiquidation({
          exchange: s.exchange,
          symbol: s.symbol,
          eventTimeMs: t,
          receivedAtMs: t + 100,
          side: rand() < 0.5 ? 'buy' : 'sell',
          price: 100 + 10 * n,
          amount: 1 + Math.floor(rand() * 10),
          source: 'live',
        }),
      );
    }
    // An open-interest point sent 3 h late: within the horizon, it revises bars.
    const lateOi = T0 + 40 * HOUR + 2 * MIN + 30_000;
    add(
      'open_interest',
      s,
      sampleOpenInterest({
        exchange: s.exchange,
        symbol: s.symbol,
        eventTimeMs: lateOi,
        receivedAtMs: lateOi + 3 * HOUR,
        openInterest: 99_999,
        source: 'live',
      }),
    );
    // Sent 30 h late, beyond the 24 h horizon: an open-interest point and a settled-funding
    // version from the venues' history endpoints (late), and two liquidations from the live
    // stream (older than a live record may be: time.too_old).
    const old = OLD;
    const sentAt = T0 + 45 * HOUR;
    add(
      'open_interest',
      s,
      sampleOpenInterest({
        exchange: s.exchange,
        symbol: s.symbol,
        eventTimeMs: old,
        receivedAtMs: sentAt,
        openInterest: 77_777,
        source: 'backfill',
      }),
    );
    add(
      'funding',
      s,
      sampleFunding({
        exchange: s.exchange,
        symbol: s.symbol,
        eventTimeMs: T0 + 16 * HOUR + 1,
        receivedAtMs: sentAt + 1,
        kind: 'settled',
        fundingTimeMs: T0 + 16 * HOUR,
        fundingRate: 0.0042,
        source: 'backfill',
      }),
    );
    for (const [j, t] of [old + 1_000, old + 2_000].entries())
      add(
        'liquidation',
        s,
        sampleLiquidation({
          exchange: s.exchange,
          symbol: s.symbol,
          eventTimeMs: t,
          receivedAtMs: sentAt + 2 + j,
          side: 'sell',
          price: 100,
          amount: 5,
          source: 'live',
        }),
      );
    const key = streamKey(s.exchange, s.symbol);
    beyondHorizon.push(
      `open_interest|${key}|late`,
      `funding|${key}|late`,
      `liquidation|${key}|time.too_old`,
      `liquidation|${key}|time.too_old`,
    );
  });
  // Each topic in publish order (ties: the order the ingest would have sent them).
  records.sort((a, b) => a.publishedAtMs - b.publishedAtMs);
  return { records, beyondHorizon: beyondHorizon.sort() };
}

type Ends = Map<string, Map<number, bigint>>;

async function topicEnds(admin: Admin, topics: string[]): Promise<Ends> {
  const out: Ends = new Map();
  for (const topic of topics)
    out.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)])));
  return out;
}

const RAW_TOPICS = FEEDS.map((f) => TOPICS.raw[f]);

/**
 * Sends records in publish order across the topics, as the ingest does: a record is sent
 * after every record stamped before it (one send per run of one topic).
 */
async function publishInOrder(kafka: Kafka, records: Raw[]): Promise<void> {
  await withProducer(kafka, async (producer) => {
    for (let i = 0; i < records.length; ) {
      const feed = records[i]!.feed;
      let j = i;
      while (j < records.length && records[j]!.feed === feed) j++;
      await producer.send({ topic: TOPICS.raw[feed], messages: records.slice(i, j).map(stamped) });
      i = j;
    }
  });
}

/** Sends records to their raw topics, each topic in order, stamped with their publish time (a backlog). */
async function publish(kafka: Kafka, records: Raw[]): Promise<void> {
  await withProducer(kafka, async (producer) => {
    for (const feed of FEEDS) {
      const mine = records.filter((r) => r.feed === feed);
      for (let i = 0; i < mine.length; i += 2_000)
        await producer.send({ topic: TOPICS.raw[feed], messages: mine.slice(i, i + 2_000).map(stamped) });
    }
  });
}

const stamped = (r: Raw) => ({ key: r.key, value: r.value, timestamp: String(r.publishedAtMs) });

interface RunOutput {
  /** exchange|symbol|eventTimeMs → the last revision, as JSON. */
  bars: Map<string, string>;
  /** Rule, message and source record (offset relative to where the run started), sorted, distinct. */
  dead: string[];
  /** feed|key|rule of the dead letters of the records sent 30 h late. */
  late: string[];
}

describe('aligner: catch-up gives the bars live gives', { timeout: 900_000 }, () => {
  const { records, beyondHorizon } = scenario();
  const kafka = testKafka();
  const admin = kafka.admin();
  const services: ServiceProcess[] = [];
  let tap: Consumer | null = null;
  /** group → what its aligner produced. */
  const seen = new Map<string, { bars: AlignedBar[]; dead: DeadLetter[] }>();
  /** Output topic → partition → the next offset the tap will read. */
  const tapped = new Map<string, Map<number, bigint>>();
  const runs: Record<string, RunOutput> = {};
  /** The output topics' ends when the tap joined. */
  let baseline: Ends = new Map();

  before(async () => {
    await ensurePipelineTopics();
    await admin.connect();
    tap = kafka.consumer({ groupId: uniqueName('catch-up-tap'), maxWaitTimeInMs: 200 });
    const joined = new Promise<void>((r) => tap!.on(tap!.events.GROUP_JOIN, () => r()));
    await tap.connect();
    await tap.subscribe({ topics: [TOPICS.alignedBar, TOPICS.deadLetter], fromBeginning: false });
    await tap.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const group = m.headers?.['perpflow-producer']?.toString().replace(/^aligner\//, '');
          const out = group ? seen.get(group) : undefined;
          if (out && m.key && KEYS.has(m.key.toString()) && m.value) {
            const v = JSON.parse(m.value.toString());
            if (batch.topic === TOPICS.alignedBar) out.bars.push(v as AlignedBar);
            else out.dead.push(v as DeadLetter);
          }
        }
        const byPartition = tapped.get(batch.topic) ?? new Map<number, bigint>();
        byPartition.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
        tapped.set(batch.topic, byPartition);
      },
    });
    // The tap reads from the log end once it has joined; what was there before is not ours.
    await joined;
    baseline = await topicEnds(admin, [TOPICS.alignedBar, TOPICS.deadLetter]);
  });

  after(async () => {
    for (const s of services) await stopService(s);
    await tap?.disconnect();
    await admin.disconnect();
  });

  const startAligner = async (name: string, group: string, extra: Record<string, string> = {}) => {
    const port = await freePort();
    const s = await startService({
      name,
      workspace: 'services/aligner',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        REDIS_URL: STACK.redisUrl,
        ALIGNER_GROUP_ID: group,
        ALIGNER_FROM_BEGINNING: 'false',
        // The default 30 s (was 10 s): kafkajs heartbeats from its fetch loop and from our batch
        // steps, and in a fresh CI at five e2e files the live round's aligner went 10 s without
        // one three times (expelled 'on heartbeat expiration'), so its last round was not
        // committed within 60 s. A SIGKILLed member now holds its partitions up to 30 s.
        ALIGNER_SESSION_TIMEOUT_MS: '30000',
        // The runs are compared record order for record order, which holds only while every
        // step waits for the broker's proof of the empty lanes. A forced merge (no proof
        // within the wait bound) is the aligner's chosen departure from that order. Two fresh
        // CIs saw forced merges: once every broker on the machine answered nothing for ~20 s,
        // and the other times a partition whose batch was received before a question of the
        // ends but handled after its answer never took that answer (fixed in pipeline.ts;
        // pipeline.test has the case). With a bound of 600 s the second stalled a round for
        // good instead of forcing it, which is how it was found. Here the aligner waits out a
        // stall instead of forcing (the forced path has its own tests in merge.test).
        ALIGNER_MERGE_MAX_WAIT_MS: '600000',
        METRICS_PORT: String(port),
        ...extra,
      },
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    services.push(s);
    return s;
  };

  /** Starts the group at the raw topics' current ends: it will see this run's records only. */
  const newGroup = async (label: string) => {
    const group = uniqueName(`catch-up-${label}`);
    const ends = await topicEnds(admin, RAW_TOPICS);
    for (const [topic, byPartition] of ends)
      await setGroupOffsets(
        admin,
        group,
        topic,
        [...byPartition].map(([partition, offset]) => ({ partition, offset: String(offset) })),
      );
    seen.set(group, { bars: [], dead: [] });
    return { group, start: ends };
  };

  /** The group has committed every raw record published so far, and the tap has read its outputs. */
  const caughtUp = async (group: string, timeoutMs: number) => {
    const target = await topicEnds(admin, RAW_TOPICS);
    await waitFor(
      `group ${group} to commit the raw topics' ends`,
      async () => {
        const committed = await admin.fetchOffsets({ groupId: group, topics: RAW_TOPICS });
        const behind = committed.flatMap((t) =>
          t.partitions
            .filter((p) => BigInt(p.offset) < (target.get(t.topic)?.get(p.partition) ?? 0n))
            .map(
              (p) => `${t.topic}/${p.partition} at ${p.offset} of ${target.get(t.topic)?.get(p.partition)}`,
            ),
        );
        // Thrown, so a timeout names the partitions still behind.
        if (behind.length > 0) throw new Error(`behind: ${behind.slice(0, 8).join(', ')}`);
        return true;
      },
      timeoutMs,
      250,
    );
    const outEnds = await topicEnds(admin, [TOPICS.alignedBar, TOPICS.deadLetter]);
    await waitFor(
      'the tap to read the outputs',
      async () =>
        [...outEnds].every(([topic, byPartition]) =>
          [...byPartition].every(
            ([p, high]) => (tapped.get(topic)?.get(p) ?? baseline.get(topic)?.get(p) ?? 0n) >= high,
          ),
        ),
      60_000,
      200,
    );
  };

  const outputOf = (group: string, start: Ends): RunOutput => {
    const got = seen.get(group)!;
    const bars = new Map<string, AlignedBar>();
    const contents = new Map<string, string>();
    for (const b of got.bars) {
      const id = `${b.exchange}|${b.symbol}|${b.eventTimeMs}`;
      // At-least-once by identity: a re-published bar must have the content of the first.
      const identity = `${id}|${b.revision}`;
      const content = JSON.stringify(b);
      const prev = contents.get(identity);
      assert.ok(prev === undefined || prev === content, `${group}: bar ${identity} with two contents`);
      contents.set(identity, content);
      const cur = bars.get(id);
      if (!cur || b.revision > cur.revision) bars.set(id, b);
    }
    const dead = new Set<string>();
    const late: string[] = [];
    const lateSeen = new Set<string>();
    for (const d of got.dead) {
      const rel = BigInt(d.source.offset) - (start.get(d.source.topic)?.get(d.source.partition) ?? 0n);
      const id = `${d.ruleId}|${d.source.topic}|${d.source.partition}|${rel}|${d.message}`;
      dead.add(id);
      const record = JSON.parse(d.payload) as { eventTimeMs?: number };
      if (record.eventTimeMs !== undefined && SENT_LATE.has(record.eventTimeMs) && !lateSeen.has(id)) {
        lateSeen.add(id);
        const feed = FEEDS.find((f) => TOPICS.raw[f] === d.source.topic);
        late.push(`${feed}|${d.key}|${d.ruleId}`);
      }
    }
    return {
      bars: new Map([...bars].map(([k, b]) => [k, JSON.stringify(b)])),
      dead: [...dead].sort(),
      late: late.sort(),
    };
  };

  it('live: 30-minute rounds, each consumed before the next', async () => {
    const { group, start } = await newGroup('live');
    await startAligner('catch-up-live', group);
    const rounds = new Map<number, Raw[]>();
    for (const r of records) {
      const k = Math.floor(r.publishedAtMs / (30 * MIN));
      rounds.set(k, [...(rounds.get(k) ?? []), r]);
    }
    let n = 0;
    for (const round of rounds.values()) {
      await publishInOrder(kafka, round);
      await caughtUp(group, 120_000);
      if (++n % 20 === 0) console.log(`live: ${n}/${rounds.size} rounds consumed`);
    }
    runs.live = outputOf(group, start);
    const bars = runs.live.bars;
    assert.equal(bars.size, SERIES.length * SPAN_MIN, 'one bar per series and minute');
    assert.deepEqual(runs.live.late, beyondHorizon, 'each record sent 30 h late is dead-lettered once');
    // The open interest sent 3 h late (within the horizon) revised its bars.
    const revised = [...bars.values()]
      .map((b) => JSON.parse(b) as AlignedBar)
      .filter((b) => b.openInterest === 99_999);
    assert.ok(revised.length >= SERIES.length, `${revised.length} bars carry the point sent 3 h late`);
    for (const b of revised)
      assert.ok(
        b.eventTimeMs >= T0 + 40 * HOUR && b.eventTimeMs < T0 + 40 * HOUR + 5 * MIN,
        `bar ${b.eventTimeMs - T0} carries it: only bars before the next point may`,
      );
    console.log(
      `live: ${bars.size} bars, ${runs.live.dead.length} dead letters (${runs.live.late.length} late)`,
    );
  });

  const sameAsLive = (name: string) => {
    const live = runs.live!;
    const got = runs[name]!;
    const diffs: string[] = [];
    for (const [id, want] of live.bars) {
      const have = got.bars.get(id);
      if (have === undefined) diffs.push(`${id}: missing`);
      else if (have !== want) {
        const a = JSON.parse(want) as Record<string, unknown>;
        const b = JSON.parse(have) as Record<string, unknown>;
        const fields = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
        diffs.push(
          `${id}: ${fields.map((f) => `${f} ${JSON.stringify(b[f])} (live ${JSON.stringify(a[f])})`).join(', ')}`,
        );
      }
    }
    for (const id of got.bars.keys()) if (!live.bars.has(id)) diffs.push(`${id}: not in live`);
    assert.deepEqual(diffs.slice(0, 10), [], `${name}: ${diffs.length} bars differ from live`);
    assert.deepEqual(got.dead, live.dead, `${name}: the dead letters differ from live`);
  };

  /** One backlog run: a new group, the whole backlog published, `consume` starts its aligners, then the output compared with live. */
  const backlogRun = async (label: string, consume: (group: string, start: Ends) => Promise<void>) => {
    const { group, start } = await newGroup(label);
    await publish(kafka, records);
    await consume(group, start);
    await caughtUp(group, 300_000);
    runs[label] = outputOf(group, start);
    sameAsLive(label);
  };

  it('catch-up: the whole backlog published while the aligner is stopped', () =>
    backlogRun('backlog', async (group) => {
      await startAligner('catch-up-backlog', group);
    }));

  it('SIGKILL mid-backlog, then a restart', () =>
    backlogRun('kill', async (group) => {
      const first = await startAligner('catch-up-kill', group, {
        ALIGNER_CRASH_AT: 'after-produce:5',
        ALIGNER_SNAPSHOT_INTERVAL_RECORDS: '3000',
      });
      assert.equal(await first.exited, 'SIGKILL');
      await startAligner('catch-up-kill-2', group, { ALIGNER_SNAPSHOT_INTERVAL_RECORDS: '3000' });
    }));

  it('a rebalance mid-backlog: a second aligner joins the group', () =>
    backlogRun('rebalance', async (group, start) => {
      await startAligner('catch-up-rebalance-1', group);
      const total = records.length;
      await waitFor(
        'a third of the backlog committed',
        async () => {
          const committed = await admin.fetchOffsets({ groupId: group, topics: RAW_TOPICS });
          let done = 0n;
          for (const t of committed)
            for (const p of t.partitions)
              done += BigInt(p.offset) - (start.get(t.topic)?.get(p.partition) ?? 0n);
          return done >= BigInt(Math.floor(total / 3));
        },
        120_000,
        100,
      );
      await startAligner('catch-up-rebalance-2', group);
    }));
});
