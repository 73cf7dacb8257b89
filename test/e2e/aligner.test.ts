/**
 * aligner end to end on the real Kafka and Redis: raw records (with poison among
 * them) → the aligner process → aligned topic and dead-letter topic; SIGKILL of
 * the aligner mid-stream, restart, and the final bars are compared one by one with
 * an independent computation written here (not the aligner's code).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AlignedBar, type DeadLetter, HEADERS, parseRawThrough } from '@perpflow/contracts';
import { TOPICS } from '../src/harness.js';
import {
  metricSum,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
  runTool,
  freePort,
} from '../src/harness.js';
import {
  ensurePipelineTopics,
  produceRaw,
  readTopic,
  testKafka,
  topicEndOffsets,
  waitGroupCaughtUp,
} from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 2, 1, 0, 0); // a fixed day: backfill data
const N = 120;
const MISSING = 50; // this candle is never sent: a filled bar is expected
const EX = 'binanceusdm';
const SYMBOL = `E${Date.now().toString(36).toUpperCase()}/USDT:USDT`;
const KEY = `${EX}|${SYMBOL}`;
const PORT = await freePort();

const price = (i: number) => 100 + 10 * Math.sin(i / 7) + i * 0.05;
function candle(i: number) {
  const t = T0 + i * TF;
  const o = price(i);
  const c = price(i + 1);
  return {
    schemaVersion: 1,
    exchange: EX,
    symbol: SYMBOL,
    eventTimeMs: t,
    receivedAtMs: t + TF + 500,
    timeframe: '1m',
    openTimeMs: t,
    open: o,
    high: Math.max(o, c) + 0.5,
    low: Math.min(o, c) - 0.5,
    close: c,
    volume: 10 + (i % 7),
    quoteVolume: null,
    trades: null,
    closed: true,
    source: 'backfill',
  };
}
const oiTimes = Array.from({ length: N / 5 }, (_, k) => T0 + k * 300_000);
const oi = (t: number, k: number) => ({
  schemaVersion: 1,
  exchange: EX,
  symbol: SYMBOL,
  eventTimeMs: t,
  receivedAtMs: t + 2_000,
  openInterest: 1_000 + k * 10,
  openInterestValue: null,
  source: 'backfill',
});
const liqs = [
  { t: T0 + 3 * TF + 1_000, side: 'sell', price: 101, amount: 2 },
  { t: T0 + 3 * TF + 59_999, side: 'buy', price: 102, amount: 1 },
  { t: T0 + 70 * TF, side: 'sell', price: 99, amount: 3 },
].map((l) => ({
  schemaVersion: 1,
  exchange: EX,
  symbol: SYMBOL,
  eventTimeMs: l.t,
  receivedAtMs: l.t + 100,
  side: l.side,
  price: l.price,
  amount: l.amount,
  source: 'backfill',
}));
const funding = {
  schemaVersion: 1,
  exchange: EX,
  symbol: SYMBOL,
  eventTimeMs: T0,
  receivedAtMs: T0 + 1_000,
  kind: 'settled',
  fundingRate: 0.0001,
  fundingTimeMs: T0,
  markPrice: null,
  indexPrice: null,
  source: 'backfill',
};

/** The expected bars, computed here from the inputs above. */
function expectedBars(): Map<number, Partial<AlignedBar>> {
  const out = new Map<number, Partial<AlignedBar>>();
  let prevClose = 0;
  for (let i = 0; i < N; i++) {
    const t = T0 + i * TF;
    const end = t + TF;
    const obs = oiTimes
      .map((ot, k) => ({ ot, v: 1_000 + k * 10 }))
      .filter((o) => o.ot <= end)
      .at(-1);
    const inBar = liqs.filter((l) => l.eventTimeMs >= t && l.eventTimeMs < end);
    const base = {
      openInterest: obs && end - obs.ot <= 600_000 ? obs.v : null,
      openInterestMissing: obs && end - obs.ot <= 600_000 ? null : ('not_observed' as const),
      fundingRate: 0.0001,
      fundingTimeMs: T0,
      liqLongNotional: inBar.filter((l) => l.side === 'sell').reduce((s, l) => s + l.price * l.amount, 0),
      liqShortNotional: inBar.filter((l) => l.side === 'buy').reduce((s, l) => s + l.price * l.amount, 0),
      liqCount: inBar.length,
    };
    if (i === MISSING) {
      out.set(t, {
        ...base,
        open: prevClose,
        high: prevClose,
        low: prevClose,
        close: prevClose,
        volume: 0,
        candleFilled: true,
      });
    } else {
      const c = candle(i);
      out.set(t, {
        ...base,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
        candleFilled: false,
      });
      prevClose = c.close;
    }
  }
  return out;
}

describe('aligner through Kafka', { timeout: 240_000 }, () => {
  const kafka = testKafka();
  const group = uniqueName('e2e-aligner');
  let aligner: ServiceProcess | null = null;
  const env = {
    KAFKA_BROKERS: STACK.kafkaBrokers,
    REDIS_URL: STACK.redisUrl,
    ALIGNER_GROUP_ID: group,
    ALIGNER_ALLOWED_LATENESS_MS: '0',
    METRICS_PORT: String(PORT),
    LOG_LEVEL: 'info',
  };
  const start = () =>
    startService({
      name: 'aligner-e2e',
      workspace: 'services/aligner',
      env,
      readyPort: PORT,
      readyTimeoutMs: 90_000,
    });
  const newestBarClose = async () =>
    (await metricSum(`http://127.0.0.1:${PORT}`, 'perpflow_feed_newest_event_time_seconds', {
      stage: 'aligned',
      symbol: SYMBOL,
    })) * 1000;

  before(async () => {
    await ensurePipelineTopics();
  });
  after(async () => {
    if (aligner) await stopService(aligner);
  });

  it('emits one correct bar per minute, quarantines poison with its reason, and survives SIGKILL mid-stream', async () => {
    const candles = Array.from({ length: N }, (_, i) => i)
      .filter((i) => i !== MISSING)
      .map(candle);
    const half = candles.filter((c) => c.eventTimeMs < T0 + 60 * TF);
    const rest = candles.filter((c) => c.eventTimeMs >= T0 + 60 * TF);
    const item = (value: unknown, exchange = EX) => ({ exchange, symbol: SYMBOL, value });
    const admin = kafka.admin();
    await admin.connect();
    const rawBefore = await topicEndOffsets(admin, Object.values(TOPICS.raw));
    await admin.disconnect();
    await produceRaw(kafka, TOPICS.raw.funding, [item(funding)]);
    await produceRaw(
      kafka,
      TOPICS.raw.open_interest,
      oiTimes.map((t, k) => item(oi(t, k))),
    );
    await produceRaw(
      kafka,
      TOPICS.raw.liquidation,
      liqs.map((l) => item(l)),
    );
    await produceRaw(kafka, TOPICS.raw.ohlcv, [
      ...half.map((c) => item(c)),
      item('{"open": NaN, "high":'),
      item({ ...candle(10), low: 0 }),
      item({ ...candle(11), receivedAtMs: 1_709_251_260 }),
      item({ ...candle(12), exchange: 'mtgox' }),
      item({ ...candle(13), high: 1, low: 2 }),
    ]);

    aligner = await start();
    await waitFor('bars of the first half', async () => (await newestBarClose()) >= T0 + 40 * TF, 90_000);
    assert.equal(await stopService(aligner, 'SIGKILL'), 'SIGKILL');

    await produceRaw(
      kafka,
      TOPICS.raw.ohlcv,
      rest.map((c) => item(c)),
    );
    aligner = await start();
    await waitFor('every bar', async () => (await newestBarClose()) >= T0 + N * TF, 120_000);
    // The newest bar says nothing of the other topics: a fetch round may bring open interest
    // after the last candle, and its revisions come later. Every record is in Kafka already,
    // so the group's commits reaching the topics' ends mean every bar of them is out.
    await waitGroupCaughtUp(kafka, group, Object.values(TOPICS.raw), rawBefore);

    // Aligned topic: the last revision of each bar equals the independent computation.
    const messages = await readTopic(kafka, TOPICS.alignedBar, (k) => k === KEY);
    const bars = messages.map((m) => JSON.parse(m.value.toString()) as AlignedBar);
    const byIdentity = new Map<string, AlignedBar>();
    for (const b of bars) {
      const id = `${b.eventTimeMs}/${b.revision}`;
      const seen = byIdentity.get(id);
      if (seen) assert.deepEqual(b, seen, `two different bars with identity ${id}`);
      byIdentity.set(id, b);
    }
    const final = new Map<number, AlignedBar>();
    for (const b of byIdentity.values())
      if ((final.get(b.eventTimeMs)?.revision ?? -1) < b.revision) final.set(b.eventTimeMs, b);
    const expected = expectedBars();
    assert.deepEqual(
      [...final.keys()].sort((a, b) => a - b),
      [...expected.keys()],
      'bar times differ: a bar is missing or extra',
    );
    for (const [t, exp] of expected) {
      const got = final.get(t)!;
      for (const [field, value] of Object.entries(exp)) {
        const g = got[field as keyof AlignedBar];
        if (typeof value === 'number')
          assert.ok(
            Math.abs((g as number) - value) < 1e-9,
            `bar ${new Date(t).toISOString()} ${field}: got ${g}, expected ${value}`,
          );
        else assert.equal(g, value, `bar ${new Date(t).toISOString()} ${field}`);
      }
      assert.ok(
        got.knownAtMs >= (t === T0 + MISSING * TF ? 0 : candle((t - T0) / TF).receivedAtMs) - 1,
        'knownAtMs below the candle receive time',
      );
    }
    // Lineage: every bar names the raw positions it was decided below (perpflow-raw-through);
    // its candle lies below the one of the candle topic, on the same partition.
    const rawCandles = new Map<number, { partition: number; offset: bigint }>();
    for (const m of await readTopic(kafka, TOPICS.raw.ohlcv, (k) => k === KEY)) {
      let c: { openTimeMs?: number; exchange?: string } = {};
      try {
        c = JSON.parse(m.value.toString()) as typeof c;
      } catch {} // the poison record
      if (c.exchange === EX && typeof c.openTimeMs === 'number' && !rawCandles.has(c.openTimeMs))
        rawCandles.set(c.openTimeMs, { partition: m.partition, offset: BigInt(m.offset) });
    }
    for (const m of messages) {
      const b = JSON.parse(m.value.toString()) as AlignedBar;
      const positions = parseRawThrough(m.headers[HEADERS.rawThrough] ?? '');
      assert.ok(
        Array.isArray(positions) && positions.length > 0,
        `bar ${b.eventTimeMs}: ${JSON.stringify(positions)}`,
      );
      const candlePos = rawCandles.get(b.eventTimeMs);
      if (!candlePos) continue; // the missing minute: a filled bar
      const through = positions.find((p) => p.topic === TOPICS.raw.ohlcv);
      assert.equal(through?.partition, candlePos.partition, `bar ${b.eventTimeMs}: the candle's partition`);
      assert.ok(
        BigInt(through.offset) > candlePos.offset,
        `bar ${b.eventTimeMs}: candle at ${candlePos.offset}, raw-through ${through.offset}`,
      );
      assert.ok(positions.every((p) => p.partition === candlePos.partition));
    }

    const duplicates = bars.length - byIdentity.size;
    console.log(
      `aligned: ${bars.length} messages, ${byIdentity.size} distinct (bar, revision), ${final.size} bars, ${duplicates} re-deliveries after SIGKILL`,
    );

    // Dead letters: each poison record with its reason, source and original bytes.
    const letters = (await readTopic(kafka, TOPICS.deadLetter, (k) => k.endsWith(`|${SYMBOL}`))).map(
      (m) => JSON.parse(m.value.toString()) as DeadLetter,
    );
    // At-least-once like the aligned topic: the batch replayed after the SIGKILL quarantines
    // its records again. One letter per original record (topic, partition, offset).
    const bySource = new Map<string, DeadLetter>();
    for (const l of letters) {
      const id = `${l.source.topic}/${l.source.partition}/${l.source.offset}`;
      const seen = bySource.get(id);
      if (seen) assert.equal(seen.ruleId, l.ruleId, `one record, two reasons: ${id}`);
      bySource.set(id, l);
    }
    const rules = [...bySource.values()].map((l) => l.ruleId).sort();
    assert.deepEqual(
      rules,
      [
        'contract.enum',
        'contract.epoch_ms',
        'contract.json',
        'contract.positive',
        'contract.ohlc.high_below_low',
      ].sort(),
    );
    const json = letters.find((l) => l.ruleId === 'contract.json')!;
    assert.equal(json.payload, '{"open": NaN, "high":');
    assert.equal(json.source.topic, TOPICS.raw.ohlcv);
    assert.equal(json.stage, 'aligner');

    // Re-drive one rule's dead letters: the original bytes go back to their raw topic.
    const zero = letters.find((l) => l.ruleId === 'contract.positive')!;
    const run = runTool(
      'services/aligner',
      'src/redrive.ts',
      ['--rule', 'contract.positive', '--symbol', SYMBOL],
      { KAFKA_BROKERS: STACK.kafkaBrokers },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout.trim().split('\n').at(-1)!).redrive, 1);
    const again = await readTopic(kafka, TOPICS.raw.ohlcv, (k) => k === KEY);
    assert.equal(
      again.filter((m) => m.value.toString() === zero.payload).length,
      2,
      'the re-driven payload is not back in the raw topic byte for byte',
    );
  });
});
