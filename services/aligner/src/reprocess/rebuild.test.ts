import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAlignConfig } from '@perpflow/align';
import {
  ArchiveObjectCorrupt,
  type DayIndex,
  type KafkaRecord,
  planFlush,
  serializeDocument,
  toArchiveRow,
  upsertDayIndex,
} from '@perpflow/archive';
import {
  type AlignedBar,
  type Feed,
  SAMPLE_T0_MS,
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
  TOPICS,
} from '@perpflow/contracts';
import { prepareWindowWrite } from '@perpflow/dataset';
import { parseQualityConfig } from '@perpflow/quality';
import { runBatch } from '../domain/batch.js';
import { QualityAlignEngine } from '../domain/engine.js';
import { datasetVersionOf } from '../version.js';
import { planReprocessJobs, type ReprocessJobData, reprocessJobId, windowAlignedRange } from './plan.js';
import { type RebuiltWindow, rebuildWindows } from './rebuild.js';

const MIN = 60_000;
const DAY = 86_400_000;
const T0 = SAMPLE_T0_MS; // 2024-03-01T00:00Z
const enc = (s: string) => new TextEncoder().encode(s);
const engineConfig = {
  quality: parseQualityConfig({}),
  align: parseAlignConfig({ allowedLatenessMs: 0 }),
};
const version = datasetVersionOf(engineConfig).id;

interface Sent {
  feed: Feed;
  record: KafkaRecord;
}

/**
 * Three days of one symbol as ingest publishes them: a candle a minute, open interest
 * every 5 min, funding every 8 h, a liquidation every 7 min; every 97th candle arrives
 * 3 min late (a revision), and one candle breaks its contract.
 */
function published(misKeyed = false): Sent[] {
  const out: Sent[] = [];
  const offsets: Record<string, number> = {};
  const send = (
    feed: Feed,
    value: object | string,
    eventTimeMs: number,
    arrivalMs: number,
    key = 'binanceusdm|BTC/USDT:USDT',
  ) => {
    const topic = TOPICS.raw[feed];
    offsets[topic] = (offsets[topic] ?? -1) + 1;
    out.push({
      feed,
      record: {
        topic,
        partition: 3,
        offset: String(offsets[topic]),
        kafkaTimestampMs: arrivalMs,
        key: enc(key),
        value: enc(typeof value === 'string' ? value : JSON.stringify(value)),
        headers: [],
      },
    });
    void eventTimeMs;
  };
  const events: { at: number; go: () => void }[] = [];
  for (let t = T0; t < T0 + 3 * DAY; t += MIN) {
    const i = (t - T0) / MIN;
    const price = 61_000 + 40 * Math.sin(i / 50);
    const arrival = t + MIN + 250 + (i % 97 === 5 ? 3 * MIN : 0);
    const candle = sampleCandle({
      eventTimeMs: t,
      openTimeMs: t,
      receivedAtMs: arrival,
      open: price,
      high: price + 5,
      low: price - 5,
      close: price + 1,
    });
    events.push({ at: arrival, go: () => send('ohlcv', candle, t, arrival) });
    if (i % 5 === 0) {
      const oi = sampleOpenInterest({ eventTimeMs: t, receivedAtMs: t + 900, openInterest: 80_000 + i });
      events.push({ at: t + 900, go: () => send('open_interest', oi, t, t + 900) });
    }
    if (i % 480 === 0) {
      const f = sampleFunding({
        eventTimeMs: t,
        receivedAtMs: t + 1_500,
        fundingTimeMs: t,
        fundingRate: 0.0001,
      });
      events.push({ at: t + 1_500, go: () => send('funding', f, t, t + 1_500) });
    }
    if (i % 7 === 3) {
      const l = sampleLiquidation({ eventTimeMs: t + 30_000, receivedAtMs: t + 30_400, price: price });
      events.push({ at: t + 30_400, go: () => send('liquidation', l, t + 30_000, t + 30_400) });
    }
  }
  // Unreadable, and of the series but breaking its contract: live dead-letters both.
  events.push({ at: T0 + 10 * MIN, go: () => send('ohlcv', '{"not":"a candle"}', 0, T0 + 10 * MIN) });
  const broken = {
    ...sampleCandle({ eventTimeMs: T0 + 20 * MIN + 1, openTimeMs: T0 + 20 * MIN }),
    close: 'x',
  };
  events.push({ at: T0 + 21 * MIN, go: () => send('ohlcv', broken, 0, T0 + 21 * MIN) });
  if (misKeyed) {
    // On day 2, a candle of the series under a key of the same length but one byte off.
    const t = T0 + DAY + 40 * MIN;
    const c = sampleCandle({ eventTimeMs: t, openTimeMs: t, receivedAtMs: t + MIN, close: 61_002 });
    events.push({ at: t + MIN, go: () => send('ohlcv', c, t, t + MIN, 'binanceusdm|BTC/USDT:USDU') });
  }
  events.sort((a, b) => a.at - b.at);
  for (const e of events) e.go();
  return out;
}

/** What the live aligner makes of the records: batches of each topic in arrival order; the last revision per bar time. */
function live(sent: Sent[]): Map<number, AlignedBar> {
  return new Map([...liveRevisions(sent)].map(([t, revs]) => [t, revs[revs.length - 1]!]));
}

/** Every bar the live aligner emits, per bar time in emission order (each revision). */
function liveRevisions(sent: Sent[]): Map<number, AlignedBar[]> {
  const engine = new QualityAlignEngine(engineConfig, null);
  const all = new Map<number, AlignedBar[]>();
  let i = 0;
  while (i < sent.length) {
    const feed = sent[i]!.feed;
    const batch: Sent[] = [];
    while (i < sent.length && sent[i]!.feed === feed && batch.length < 50) batch.push(sent[i++]!);
    const r = runBatch(
      engine,
      {
        topic: TOPICS.raw[feed],
        partition: 3,
        feed,
        nowMs: batch[batch.length - 1]!.record.kafkaTimestampMs,
        messages: batch.map((s) => ({
          offset: s.record.offset,
          key: Buffer.from(s.record.key as Uint8Array).toString(),
          value: Buffer.from(s.record.value as Uint8Array),
          headers: {},
        })),
      },
      'aligner',
      version,
    );
    for (const b of r.bars) all.set(b.eventTimeMs, [...(all.get(b.eventTimeMs) ?? []), b]);
  }
  return all;
}

/** The archiver's objects of the records, flushed per topic in chunks, into a key → bytes map. */
function archive(sent: Sent[]): Map<string, Uint8Array> {
  const store = new Map<string, Uint8Array>();
  const indexes = new Map<string, DayIndex | null>();
  const byFeed = new Map<Feed, Sent[]>();
  for (const s of sent) byFeed.set(s.feed, [...(byFeed.get(s.feed) ?? []), s]);
  for (const [feed, items] of byFeed)
    for (let i = 0; i < items.length; i += 1_000) {
      const plan = planFlush(
        'ds',
        feed,
        items.slice(i, i + 1_000).map((s) => toArchiveRow(feed, s.record)),
      );
      for (const o of plan.objects) {
        store.set(o.key, o.body);
        store.set(o.manifestKey, serializeDocument(o.manifest));
        const ix = upsertDayIndex(indexes.get(o.indexKey) ?? null, o.manifest, o.manifestKey);
        indexes.set(o.indexKey, ix);
        store.set(o.indexKey, serializeDocument(ix));
      }
    }
  return store;
}

const job = {
  version,
  engine: engineConfig,
  exchange: 'binanceusdm',
  partition: 3,
  symbols: null,
  fromMs: T0 + DAY,
  toMs: T0 + 2 * DAY,
};

/** Runs a rebuild, collecting the windows its sink gets. */
async function rebuild(get: (k: string) => Promise<Uint8Array | null>, j: ReprocessJobData = job) {
  const windows: RebuiltWindow[] = [];
  const stats = await rebuildWindows(get, 'ds', j, async (w) => {
    windows.push(w);
  });
  return { ...stats, windows };
}

describe('reprocess: rebuilding a day from the raw archive', () => {
  const sent = published();
  const store = archive(sent);
  const get = async (k: string) => store.get(k) ?? null;

  it('gives the live aligner’s rows and values for every bar of the day', async () => {
    const want = live(sent);
    const r = await rebuild(get);
    assert.equal(r.windows.length, 1);
    const w = r.windows[0]!;
    assert.equal(w.latest.length, 1_440);
    assert.equal(r.bars, 1_440);
    for (const bar of w.latest) assert.deepEqual(bar, want.get(bar.eventTimeMs), `bar ${bar.eventTimeMs}`);
    assert.ok(r.revisions > 0, 'the late candles revise their bars');
    // The superseded revisions: live's, by bar time, each time's in emission order.
    const revised = [...liveRevisions(sent)]
      .filter(([t]) => t >= job.fromMs && t < job.toMs)
      .sort((a, b) => a[0] - b[0])
      .flatMap(([, revs]) => revs.slice(0, -1));
    assert.equal(w.superseded.length, r.revisions);
    assert.deepEqual(w.superseded, revised);
    assert.ok(
      w.latest.some((b) => b.openInterest !== null && b.fundingRate !== null && (b.liqCount ?? 0) > 0),
    );
    assert.equal(w.datasetVersion, version);
    assert.ok(w.rawInputs && w.rawInputs.length >= 4, 'names the archive objects of the four feeds');
    assert.deepEqual(r.deadLetters, {}, 'nothing of day 2 breaks a rule');
  });

  it('streams a three-day job day by day: three windows, each equal to live', async () => {
    const want = live(sent);
    const windows: number[] = [];
    const r = await rebuildWindows(get, 'ds', { ...job, fromMs: T0, toMs: T0 + 3 * DAY }, async (w) => {
      windows.push(w.window.startMs);
      for (const bar of w.latest) assert.deepEqual(bar, want.get(bar.eventTimeMs), `bar ${bar.eventTimeMs}`);
    });
    assert.deepEqual(windows, [T0, T0 + DAY, T0 + 2 * DAY], 'in time order, as each day is done');
    // A closed candle emits its bar at once: every minute of the three days, as live.
    assert.equal(r.bars, want.size);
    assert.equal(r.bars, 3 * 1_440);
  });

  it('reads the next day ahead: S3 round trips overlap, each object is read once, the windows are the same', async () => {
    const want = live(sent);
    // Every get answers after 5 ms; count the ones waiting at once and the reads of each key.
    let open = 0;
    let maxOpen = 0;
    const reads = new Map<string, number>();
    const slowGet = async (k: string) => {
      reads.set(k, (reads.get(k) ?? 0) + 1);
      open++;
      maxOpen = Math.max(maxOpen, open);
      await new Promise((r) => setTimeout(r, 5));
      open--;
      return store.get(k) ?? null;
    };
    const windows: number[] = [];
    const r = await rebuildWindows(slowGet, 'ds', { ...job, fromMs: T0, toMs: T0 + 3 * DAY }, async (w) => {
      windows.push(w.window.startMs);
      for (const bar of w.latest) assert.deepEqual(bar, want.get(bar.eventTimeMs), `bar ${bar.eventTimeMs}`);
    });
    assert.deepEqual(windows, [T0, T0 + DAY, T0 + 2 * DAY]);
    assert.equal(r.bars, 3 * 1_440);
    const objects = [...reads.keys()].filter((k) => k.endsWith('.parquet'));
    assert.equal(objects.length, r.objects, 'every object the rebuild used was read');
    assert.deepEqual(
      objects.filter((k) => reads.get(k) !== 1),
      [],
      'an object read twice',
    );
    // A day's objects (four feeds) and the next day's are requested together.
    assert.ok(maxOpen >= 5, `at most ${maxOpen} reads at once`);
  });

  it('counts what live dead-letters, by rule', async () => {
    const r = await rebuild(get, { ...job, fromMs: T0, toMs: T0 + DAY });
    // The unreadable value names no series: no job of any series reads it. The candle of
    // the series with a text close breaks its contract, as it did live.
    assert.deepEqual(r.deadLetters, { 'contract.type': 1 });
    assert.equal(r.bars, 1_440);
  });

  it('dead-letters a record whose key is one byte off the series’ key, among thousands with the right key', async () => {
    const other = archive(published(true));
    const r = await rebuild(async (k) => other.get(k) ?? null);
    assert.deepEqual(r.deadLetters, { 'contract.key': 1 });
    assert.equal(r.bars, 1_440);
  });

  it('gives byte-identical objects and manifests when run twice', async () => {
    const encode = async () => {
      const r = await rebuild(get);
      return prepareWindowWrite({ ...r.windows[0]!, prefix: 'ds/versions/x', writerVersion: 'w' }).puts.map(
        (p) => `${p.key} ${p.sha256}`,
      );
    };
    const a = await encode();
    assert.ok(a.length >= 2);
    assert.deepEqual(await encode(), a);
  });

  it('stops at a corrupt archive object, naming it and both sha256', async () => {
    const broken = new Map(store);
    const key = [...broken.keys()].find((k) => k.includes('feed=funding') && k.endsWith('.parquet'))!;
    broken.set(key, new Uint8Array([1, 2, 3]));
    await assert.rejects(
      rebuild(async (k) => broken.get(k) ?? null),
      (err: unknown) =>
        err instanceof ArchiveObjectCorrupt &&
        err.key === key &&
        /expected sha256 [0-9a-f]{64}, found/.test(err.message),
    );
  });
});

describe('reprocess: planning', () => {
  it('widens the range to whole windows and cuts it into partition-months', () => {
    assert.deepEqual(windowAlignedRange(T0 + 5 * MIN, T0 + DAY + 1, '1m'), [T0, T0 + 2 * DAY]);
    const jobs = planReprocessJobs(
      {
        fromMs: Date.UTC(2024, 1, 28, 12),
        toMs: Date.UTC(2024, 2, 2, 1),
        exchange: 'binanceusdm',
        partitions: [7, 2, 7],
        symbols: null,
      },
      version,
      engineConfig,
    );
    assert.deepEqual(
      jobs.map((j) => [j.partition, new Date(j.fromMs).toISOString(), new Date(j.toMs).toISOString()]),
      [
        [2, '2024-02-28T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
        [2, '2024-03-01T00:00:00.000Z', '2024-03-03T00:00:00.000Z'],
        [7, '2024-02-28T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
        [7, '2024-03-01T00:00:00.000Z', '2024-03-03T00:00:00.000Z'],
      ],
    );
    assert.equal(
      reprocessJobId(jobs[0]!),
      `rp.${version}.1m.binanceusdm.p2.all.${Date.UTC(2024, 1, 28)}.${Date.UTC(2024, 2, 1)}`,
    );
    const a = reprocessJobId({ ...jobs[0]!, symbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT'] });
    const b = reprocessJobId({ ...jobs[0]!, symbols: ['BTC/USDT:USDT'] });
    assert.notEqual(a, b, 'a symbol filter is part of the id');
    assert.match(a, /^rp\.dv-[0-9a-f]{16}\.1m\.binanceusdm\.p2\.s[0-9a-f]{16}\.\d+\.\d+$/);
  });
});
