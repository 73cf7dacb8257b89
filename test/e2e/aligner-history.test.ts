/**
 * A backfill that runs behind live data, through the real aligner on Kafka and Redis:
 * live candles first, then 50 hours of history (beyond the default 24 h revision horizon) in
 * the backfill's chunk order (funding, open interest, candles). Every history bar must
 * come out, its last revision equal to a computation written here, with revisions
 * linear in the as-of inputs, and nothing may be dead-lettered as late. (Before history had its own cursor, the history was either
 * rejected as late or re-filled up to the live range by every history candle.)
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  type AlignedBar,
  type DeadLetter,
  sampleCandle,
  sampleFunding,
  sampleOpenInterest,
} from '@perpflow/contracts';
import { TOPICS } from '../src/harness.js';
import {
  freePort,
  metricSum,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import type { Consumer } from 'kafkajs';
import {
  ensurePipelineTopics,
  produceRaw,
  startGroupsAtLogEnd,
  testKafka,
  topicEndOffsets,
  waitGroupCaughtUp,
} from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 4, 1);
const HISTORY = 3_000; // bars 0..2999 are history (50 h, beyond the 24 h revision horizon)
const LIVE = 10; // bars 3000..3009 arrive first, from the live path
const CHUNK = 480; // bars per backfill chunk (8 h), as the ingest splits a range
const missing = (i: number) => i % 97 === 13 || i === 1_000 || i === 1_001 || i === 2_600;
const EX = 'binanceusdm';
const SYMBOL = `H${Date.now().toString(36).toUpperCase()}/USDT:USDT`;
const KEY = `${EX}|${SYMBOL}`;
const PORT = await freePort();
const GROUP = uniqueName('history');

const price = (i: number) => 200 + 20 * Math.sin(i / 50) + i * 0.01;
function candle(i: number, source: 'live' | 'backfill') {
  const t = T0 + i * TF;
  const o = price(i);
  const c = price(i + 1);
  return sampleCandle({
    exchange: EX,
    symbol: SYMBOL,
    eventTimeMs: t,
    receivedAtMs: t + TF + 700,
    openTimeMs: t,
    open: o,
    high: Math.max(o, c) + 0.25,
    low: Math.min(o, c) - 0.25,
    close: c,
    volume: 5 + (i % 11),
    source,
  });
}
/** Open interest every 5 minutes, except a 20-minute hole (stale for the bars after 10 min). */
const oiTimes = Array.from({ length: HISTORY / 5 }, (_, k) => T0 + k * 300_000).filter(
  (t) => t < T0 + 600 * TF || t >= T0 + 620 * TF,
);
const oi = (t: number) =>
  sampleOpenInterest({
    exchange: EX,
    symbol: SYMBOL,
    eventTimeMs: t,
    receivedAtMs: t + 1_000,
    openInterest: 50_000 + (t - T0) / 60_000,
    source: 'backfill',
  });
const fundingTimes = Array.from({ length: 8 }, (_, k) => T0 + k * 8 * 3_600_000);
const funding = (t: number, k: number) =>
  sampleFunding({
    exchange: EX,
    symbol: SYMBOL,
    eventTimeMs: t,
    receivedAtMs: t + 2_000,
    kind: 'settled',
    fundingTimeMs: t,
    fundingRate: 0.0001 * (k + 1),
    source: 'backfill',
  });

describe('aligner: a backfill behind live data', { timeout: 240_000 }, () => {
  let aligner: ServiceProcess | null = null;
  let tapConsumer: Consumer | null = null;
  after(async () => {
    if (aligner) await stopService(aligner);
    await tapConsumer?.disconnect();
  });

  it('emits every history bar, final values equal to an independent as-of computation, revisions linear, none late', async () => {
    await ensurePipelineTopics();
    // The aligner's group and this test's tap start at the ends of their topics now: they see
    // all of this test's records and nothing before, whenever their first fetch happens.
    const kafka = testKafka();
    const tapGroup = uniqueName('history-tap');
    const rawStart = await startGroupsAtLogEnd(kafka, [GROUP], Object.values(TOPICS.raw));
    const outTopics = [TOPICS.alignedBar, TOPICS.deadLetter];
    const tapStart = await startGroupsAtLogEnd(kafka, [tapGroup], outTopics);
    aligner = await startService({
      name: 'aligner-history',
      workspace: 'services/aligner',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        REDIS_URL: STACK.redisUrl,
        ALIGNER_GROUP_ID: GROUP,
        ALIGNER_FROM_BEGINNING: 'false',
        ALIGNER_ALLOWED_LATENESS_MS: '0',
        METRICS_PORT: String(PORT),
      },
      readyPort: PORT,
      readyTimeoutMs: 90_000,
    });
    // Collects this test's aligned bars and dead letters as they are produced (reading the
    // shared topics from the beginning on every poll is slow once they are large).
    const seen: { bars: AlignedBar[]; dead: DeadLetter[] } = { bars: [], dead: [] };
    // How far the tap has read each partition (the next offset), this test's records or not.
    const tapAt = new Map(tapStart);
    const tap = kafka.consumer({ groupId: tapGroup, maxWaitTimeInMs: 200 });
    tapConsumer = tap;
    await tap.connect();
    await tap.subscribe({ topics: outTopics, fromBeginning: false });
    await tap.run({
      eachMessage: async ({ topic, partition, message }) => {
        tapAt.set(`${topic}/${partition}`, BigInt(message.offset) + 1n);
        if (message.key?.toString() !== KEY || !message.value) return;
        // Only this test's aligner (another aligner in another group may see the shared raw topics).
        if (message.headers?.['perpflow-producer']?.toString() !== `aligner/${GROUP}`) return;
        const v = JSON.parse(message.value.toString());
        if (topic === TOPICS.alignedBar) seen.bars.push(v as AlignedBar);
        else seen.dead.push(v as DeadLetter);
      },
    });
    const item = (value: unknown) => ({ exchange: EX, symbol: SYMBOL, value });
    const newest = () =>
      metricSum(`http://127.0.0.1:${PORT}`, 'perpflow_feed_newest_event_time_seconds', {
        stage: 'aligned',
        symbol: SYMBOL,
      });

    await produceRaw(
      kafka,
      TOPICS.raw.ohlcv,
      Array.from({ length: LIVE }, (_, k) => item(candle(HISTORY + k, 'live'))),
    );
    await waitFor(
      'the live bars',
      async () => (await newest()) * 1000 >= T0 + (HISTORY + LIVE - 1) * TF,
      60_000,
    );

    // The backfill, chunk by chunk: funding, then open interest, then candles of the chunk.
    for (let from = 0; from < HISTORY; from += CHUNK) {
      const lo = T0 + from * TF;
      const hi = T0 + Math.min(from + CHUNK, HISTORY) * TF;
      const inChunk = (t: number) => t >= lo && t < hi;
      await produceRaw(
        kafka,
        TOPICS.raw.funding,
        fundingTimes.flatMap((t, k) => (inChunk(t) ? [item(funding(t, k))] : [])),
      );
      await produceRaw(
        kafka,
        TOPICS.raw.open_interest,
        oiTimes.filter(inChunk).map((t) => item(oi(t))),
      );
      const candles: ReturnType<typeof item>[] = [];
      for (let i = from; i < Math.min(from + CHUNK, HISTORY); i++)
        if (!missing(i)) candles.push(item(candle(i, 'backfill')));
      await produceRaw(kafka, TOPICS.raw.ohlcv, candles);
    }
    // The live path re-delivers its candles through the backfill too (a backfill up to now).
    await produceRaw(
      kafka,
      TOPICS.raw.ohlcv,
      Array.from({ length: LIVE }, (_, k) => item(candle(HISTORY + k, 'backfill'))),
    );

    // Done when every history bar is out, the aligner has committed the ends of the raw
    // topics (it commits once its outputs are durable: every bar and dead letter it makes of
    // this test's records is in the topics), and the tap has read the output topics to their
    // ends after that.
    await waitFor(
      'every history bar',
      async () =>
        new Set(seen.bars.filter((b) => b.eventTimeMs < T0 + HISTORY * TF).map((b) => b.eventTimeMs)).size >=
        HISTORY,
      180_000,
      500,
    );
    await waitGroupCaughtUp(kafka, GROUP, Object.values(TOPICS.raw), rawStart);
    const admin = kafka.admin();
    await admin.connect();
    const outEnds = await topicEndOffsets(admin, outTopics).finally(() => admin.disconnect());
    await waitFor(
      'the tap at the ends of the aligned and dead-letter topics',
      async () => [...outEnds].every(([tp, end]) => (tapAt.get(tp) ?? 0n) >= end),
      60_000,
      200,
    );
    const bars = seen.bars;

    // The aligned topic is at-least-once by identity (exchange, symbol, eventTimeMs, revision):
    // a batch retried from its snapshot re-produces the same bars. Identical copies of one
    // identity count once; two different contents under one identity fail.
    const byIdentity = new Map<string, AlignedBar>();
    for (const b of bars) {
      const id = `${b.eventTimeMs}:${b.revision}`;
      const prev = byIdentity.get(id);
      assert.ok(!prev || JSON.stringify(prev) === JSON.stringify(b), `two contents for bar ${id}`);
      byIdentity.set(id, b);
    }
    const history = [...byIdentity.values()]
      .filter((b) => b.eventTimeMs < T0 + HISTORY * TF)
      .sort((a, b) => a.eventTimeMs - b.eventTimeMs || a.revision - b.revision);
    const perBar = new Map<number, AlignedBar[]>();
    for (const b of history) perBar.set(b.eventTimeMs, [...(perBar.get(b.eventTimeMs) ?? []), b]);
    assert.equal(perBar.size, HISTORY, 'one bar per minute of history, fills included');
    // How often a bar is re-emitted depends on how the aligner interleaves the four raw
    // topics (Kafka orders within a partition of one topic only). What must hold is that
    // revisions stay linear in the as-of inputs: an open-interest observation revises at most
    // the bars of its staleness window (11), a settlement at most the bars after it. Before
    // history had its own cursor, every history candle re-filled every bar up to the live
    // range (O(n^2): about 2,000,000 messages here).
    const settlements = fundingTimes.filter((t) => t < T0 + HISTORY * TF);
    const bound =
      HISTORY + 11 * oiTimes.length + settlements.reduce((n, t) => n + HISTORY - (t - T0) / TF, 0);
    console.log(`history: ${history.length} messages for ${HISTORY} bars (linear bound ${bound})`);
    assert.ok(history.length <= bound, `${history.length} messages for ${HISTORY} bars exceed ${bound}`);

    // Independent expectation: candle or previous close; OI as-of within 10 min; funding as-of.
    let prevClose = Number.NaN;
    const mismatches: string[] = [];
    for (let i = 0; i < HISTORY; i++) {
      const t = T0 + i * TF;
      const close = t + TF;
      const versions = perBar.get(t)!;
      const b = versions.at(-1)!;
      const c = missing(i) ? null : candle(i, 'backfill');
      const expClose = c ? c.close : prevClose;
      if (c) prevClose = c.close;
      const lastOi = oiTimes.filter((x) => x <= close).at(-1);
      const expOi = lastOi !== undefined && close - lastOi <= 600_000 ? oi(lastOi).openInterest : null;
      const k = fundingTimes.filter((x) => x <= close).length - 1;
      const expRate = k >= 0 ? funding(fundingTimes[k]!, k).fundingRate : null;
      const got = [b.close, b.candleFilled, b.openInterest, b.fundingRate, b.revision];
      const exp = [expClose, c === null, expOi, expRate, versions.length - 1];
      // Revisions of one bar are numbered 0, 1, 2, ... in the order they were produced.
      if (versions.some((v, n) => v.revision !== n))
        mismatches.push(
          `bar ${i}: revisions ${versions.map((v) => `${v.revision}@${v.knownAtMs}`).join(' ')}`,
        );
      if (JSON.stringify(got) !== JSON.stringify(exp))
        mismatches.push(`bar ${i}: got ${JSON.stringify(got)} expected ${JSON.stringify(exp)}`);
    }
    assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} bars differ`);

    assert.deepEqual(
      seen.dead.map((d) => `${d.ruleId}: ${d.message}`),
      [],
      'nothing dead-lettered: history is not late data',
    );
  });
});
