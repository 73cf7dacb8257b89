import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SinkUnavailable } from '@perpflow/contracts';
import { createRegistry } from '@perpflow/metrics';
import { createLogger } from '@perpflow/runtime';
import type { Batch } from 'kafkajs';
import { type AlignedBar, type DeadLetter, HEADERS, sampleAlignedBar } from '@perpflow/contracts';
import { decodeParquetToBars, objectKey, parseSeriesIndex, parseWindowManifest } from '@perpflow/dataset';
import type { ObjectStore } from './adapters/s3.js';
import { TimedObjectStore } from '@perpflow/s3';
import { S3VersionPin } from './adapters/version-pin.js';
import { WindowStore } from './adapters/window-store.js';
import { createWindowerMetrics } from './metrics.js';
import { type OffsetCommitter, WindowerPipeline } from './pipeline.js';

const TOPIC = 'perpflow.aligned.bar.v1';

const T0 = Date.UTC(2024, 2, 1);
const NOW = T0 + 2 * 86_400_000;
function sampleBar(i: number, over: Partial<AlignedBar> = {}): AlignedBar {
  const t = T0 + i * 60_000;
  return sampleAlignedBar({
    eventTimeMs: t,
    open: 100 + i,
    high: 102 + i,
    low: 99 + i,
    close: 101 + i,
    openInterest: i % 3 === 0 ? null : 1_000 + i,
    openInterestTimeMs: i % 3 === 0 ? null : t,
    openInterestMissing: i % 3 === 0 ? 'not_observed' : null,
    fundingTimeMs: t,
    knownAtMs: t + 60_500,
    ...over,
  });
}

function kindOf(key: string): string {
  if (key.endsWith('/versions/live.json')) return 'pin';
  if (key.endsWith('_index.json')) return 'index';
  if (key.endsWith('.manifest.json')) return 'manifest';
  return key.includes('/aligned_revisions/') ? 'revisions' : 'object';
}

/** An in-memory object store that logs every call and can fail the next puts. */
class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  readonly calls: string[] = [];
  /** Every key read. */
  readonly gets: string[] = [];
  failPuts = 0;
  async put(key: string, body: Uint8Array): Promise<void> {
    if (this.failPuts > 0) {
      this.failPuts--;
      throw new SinkUnavailable(`put ${key} refused`, { context: { key } });
    }
    this.calls.push(`put ${kindOf(key)}`);
    this.objects.set(key, body);
  }
  async get(key: string): Promise<Uint8Array | null> {
    this.gets.push(key);
    return this.objects.get(key) ?? null;
  }
  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix));
  }
  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}

function setup(
  store: MemoryStore,
  liveVersion: string | null = null,
  maxBufferedRows = 1_000,
  prefix = 'ds',
  writeConcurrency?: number,
  now: () => number = () => NOW,
) {
  const calls = store.calls;
  const consumer: OffsetCommitter & { paused: boolean } = {
    paused: false,
    async commitOffsets(offsets) {
      calls.push(`commit ${offsets.map((o) => `${o.partition}:${o.offset}`).join(',')}`);
    },
    pause() {
      this.paused = true;
      calls.push('pause');
    },
    resume() {
      this.paused = false;
      calls.push('resume');
    },
  };
  const metrics = createWindowerMetrics(createRegistry('windower-test'), () => NOW);
  const deadLetters: DeadLetter[] = [];
  const pipeline = new WindowerPipeline({
    consumer,
    deadLetters: {
      async send(letters) {
        calls.push(`dlq ${letters.map((l) => l.source.offset).join(',')}`);
        deadLetters.push(...letters);
      },
    },
    prefix,
    liveVersion,
    versionPin: new S3VersionPin(store, 'ds', () => NOW),
    windows: new WindowStore(new TimedObjectStore(store, metrics), 'ds', 'test'),
    metrics,
    logger: createLogger({ service: 'windower-test', level: 'silent' }),
    now,
    options: {
      topic: TOPIC,
      flushIntervalMs: 0,
      allowedLatenessMs: 0,
      maxBufferedRows,
      windowIdleMs: 60_000,
      retryMaxDelayMs: 50,
      freshnessMaxSeries: 1,
      writeConcurrency,
    },
  });
  return { pipeline, consumer, metrics, deadLetters };
}

function batch(
  partition: number,
  firstOffset: number,
  values: unknown[],
  headers: Record<string, string> = {},
): Batch {
  return {
    topic: TOPIC,
    partition,
    messages: values.map((v, i) => ({
      offset: String(firstOffset + i),
      key: null,
      value: Buffer.from(JSON.stringify(v)),
      headers,
      timestamp: '0',
      attributes: 0,
    })),
  } as unknown as Batch;
}

const WINDOW = {
  exchange: 'binanceusdm',
  symbol: 'BTC/USDT:USDT',
  timeframe: '1m',
  unit: 'day',
  startMs: T0,
} as const;
const key = objectKey('ds', WINDOW);

describe('windower pipeline', () => {
  it('holding more rows than WINDOWER_MAX_BUFFERED_ROWS, lets a durable window go after a flush and reads it back before its next write', async () => {
    const store = new MemoryStore();
    const windowsHeld = async (m: ReturnType<typeof setup>['metrics']) =>
      (await m.windowsOpen.get()).values[0]?.value;
    // Under the bound the window stays; over it (5 rows, bound 3) it leaves memory.
    const roomy = setup(new MemoryStore(), null, 1_000);
    roomy.pipeline.handleBatch(
      batch(
        0,
        0,
        [0, 1, 2, 3, 4].map((i) => sampleBar(i)),
      ),
    );
    await roomy.pipeline.flush();
    assert.equal(await windowsHeld(roomy.metrics), 1);
    const { pipeline, metrics } = setup(store, null, 3);
    pipeline.handleBatch(
      batch(
        0,
        0,
        [0, 1, 2, 3, 4].map((i) => sampleBar(i)),
      ),
    );
    await pipeline.flush();
    assert.equal(await windowsHeld(metrics), 0);
    assert.equal(decodeParquetToBars(store.objects.get(key)!).length, 5);
    // The next bar of the window: the stored rows come back under it, none lost.
    pipeline.handleBatch(batch(0, 5, [sampleBar(5), sampleBar(2, { revision: 1, close: 9 })]));
    await pipeline.flush();
    const bars = decodeParquetToBars(store.objects.get(key)!);
    assert.deepEqual(
      bars.map((b) => [b.eventTimeMs, b.revision, b.close]),
      [0, 1, 2, 3, 4, 5].map((i) =>
        i === 2 ? [sampleBar(2).eventTimeMs, 1, 9] : [sampleBar(i).eventTimeMs, 0, sampleBar(i).close],
      ),
    );
  });

  it('over WINDOWER_MAX_BUFFERED_ROWS, lets the windows fed longest ago go first, only down to the bound, and reads back only those', async () => {
    const store = new MemoryStore();
    let now = NOW;
    const { pipeline, metrics } = setup(store, null, 6, 'ds', undefined, () => now);
    const eth = (i: number) => sampleBar(i, { symbol: 'ETH/USDT:USDT' });
    pipeline.handleBatch(
      batch(
        0,
        0,
        [0, 1, 2, 3, 4].map((i) => sampleBar(i)),
      ),
    );
    now += 1_000;
    pipeline.handleBatch(batch(0, 5, [0, 1, 2, 3, 4].map(eth)));
    await pipeline.flush();
    // 10 rows held, bound 6: BTC, fed first, leaves; ETH stays (every durable window left before).
    assert.equal((await metrics.windowsOpen.get()).values[0]?.value, 1);
    store.gets.length = 0;
    now += 1_000;
    pipeline.handleBatch(batch(0, 10, [sampleBar(5), eth(5)]));
    await pipeline.flush();
    const ethKey = objectKey('ds', { ...WINDOW, symbol: 'ETH/USDT:USDT' });
    assert.deepEqual(
      store.gets.filter((k) => k === key || k === ethKey),
      [key],
      "only BTC's window is read back before its write",
    );
    for (const k of [key, ethKey])
      assert.deepEqual(
        decodeParquetToBars(store.objects.get(k)!).map((b) => b.close),
        [0, 1, 2, 3, 4, 5].map((i) => sampleBar(i).close),
      );
  });

  it('writes windows of different series at once (up to writeConcurrency), never two of one series, and commits after all', async () => {
    /** Every read and write takes a few milliseconds; in-flight requests counted, overall and per series. */
    class SlowStore extends MemoryStore {
      inFlight = 0;
      maxInFlight = 0;
      readonly perSeries = new Map<string, number>();
      maxPerSeries = 0;
      private async slow<T>(key: string, op: () => Promise<T>): Promise<T> {
        const series = /^(.*?\/symbol=[^/]+)\//.exec(key)?.[1] ?? key;
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        const n = (this.perSeries.get(series) ?? 0) + 1;
        this.perSeries.set(series, n);
        this.maxPerSeries = Math.max(this.maxPerSeries, n);
        try {
          await new Promise((r) => setTimeout(r, 3));
          return await op();
        } finally {
          this.inFlight--;
          this.perSeries.set(series, (this.perSeries.get(series) ?? 1) - 1);
        }
      }
      override put(key: string, body: Uint8Array): Promise<void> {
        return this.slow(key, () => super.put(key, body));
      }
      override get(key: string): Promise<Uint8Array | null> {
        return this.slow(key, () => super.get(key));
      }
    }
    // Five series of two day windows at 3 at once: the bound holds. Two series of three day
    // windows at 4 at once: only 2 can be in flight, the series' own windows waiting.
    for (const [seriesCount, days, limit, expectedInFlight] of [
      [5, 2, 3, 3],
      [2, 3, 4, 2],
    ] as const) {
      const symbols = Array.from({ length: seriesCount }, (_, i) => `S${i}/USDT:USDT`);
      const bars = symbols.flatMap((symbol) =>
        Array.from({ length: days }, (_, d) =>
          [0, 1, 2].map((i) => sampleBar(d * 1_440 + i, { symbol })),
        ).flat(),
      );
      const store = new SlowStore();
      const { pipeline } = setup(store, null, 1_000, 'ds', limit);
      pipeline.handleBatch(batch(0, 0, bars));
      await pipeline.flush();
      const label = `${seriesCount} series × ${days} days, ${limit} at once`;
      assert.equal(store.maxInFlight, expectedInFlight, `${label}: requests in flight at most`);
      assert.equal(store.maxPerSeries, 1, `${label}: a series' windows one after another`);
      const objects = [...store.objects.keys()].filter((k) => kindOf(k) === 'object');
      assert.equal(objects.length, seriesCount * days, label);
      for (const k of objects) assert.equal(decodeParquetToBars(store.objects.get(k)!).length, 3);
      for (const symbol of symbols) {
        const indexKey = [...store.objects.keys()].find(
          (k) => k.endsWith('_index.json') && k.includes(encodeURIComponent(symbol)),
        );
        assert.ok(indexKey, `index of ${symbol}`);
        assert.equal(
          parseSeriesIndex(store.objects.get(indexKey)!).windows.length,
          days,
          `${label}: ${symbol}'s index`,
        );
      }
      assert.deepEqual(store.calls.at(-1), `commit 0:${bars.length}`);
      assert.equal(store.calls.filter((c) => c.startsWith('commit')).length, 1);
    }
  });

  it("names in the manifest the highest raw positions of its bars' headers, read once per distinct text", async () => {
    const store = new MemoryStore();
    const { pipeline } = setup(store);
    const header = (text: string) => ({ [HEADERS.rawThrough]: text });
    const A = 'perpflow.raw.ohlcv.v1:0:10,perpflow.raw.open_interest.v1:0:5';
    pipeline.handleBatch(batch(0, 0, [sampleBar(0), sampleBar(1)], header(A)));
    pipeline.handleBatch(
      batch(0, 2, [sampleBar(2)], header('perpflow.raw.ohlcv.v1:0:12,perpflow.raw.open_interest.v1:0:3')),
    );
    pipeline.handleBatch(batch(0, 3, [sampleBar(3)], header(A)));
    await pipeline.flush();
    const manifestOf = () =>
      parseWindowManifest(store.objects.get(key.replace(/\.parquet$/, '.manifest.json'))!);
    assert.deepEqual(manifestOf().rawThrough, [
      { topic: 'perpflow.raw.ohlcv.v1', partition: 0, offset: '12' },
      { topic: 'perpflow.raw.open_interest.v1', partition: 0, offset: '5' },
    ]);
    // An unreadable text after a readable one: that bar has no positions, so the window has none.
    pipeline.handleBatch(batch(0, 4, [sampleBar(4)], header(`${A},garbage`)));
    await pipeline.flush();
    assert.equal(manifestOf().rawThrough, undefined);
  });

  it('commits offsets only after the object, its manifest and the series index are written', async () => {
    const store = new MemoryStore();
    const { pipeline } = setup(store);
    pipeline.handleBatch(batch(0, 5, [sampleBar(0), sampleBar(1)]));
    await pipeline.flush();
    assert.deepEqual(store.calls, ['put object', 'put manifest', 'put index', 'commit 0:7']);
    const manifest = parseWindowManifest(store.objects.get(key.replace(/\.parquet$/, '.manifest.json'))!);
    assert.equal(manifest.object.rowCount, 2);
    assert.deepEqual(manifest.kafkaOffsets, [
      { topic: TOPIC, partition: 0, firstOffset: '5', lastOffset: '6' },
    ]);
    const index = parseSeriesIndex([...store.objects].find(([k]) => k.endsWith('_index.json'))![1]);
    assert.deepEqual(
      index.windows.map((w) => [w.startMs, w.rowCount, w.sha256]),
      [[T0, 2, manifest.object.sha256]],
    );
  });

  it('does not commit past a bar whose window is not durable yet', async () => {
    const store = new MemoryStore();
    const { pipeline } = setup(store);
    store.failPuts = 1_000; // S3 refuses everything
    pipeline.handleBatch(batch(0, 0, [sampleBar(0)]));
    const flushing = pipeline.flush();
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(store.calls, ['pause'], 'no put succeeded, nothing committed');
    store.failPuts = 0;
    await flushing;
    assert.deepEqual(store.calls, [
      'pause',
      'put object',
      'put manifest',
      'put index',
      'commit 0:1',
      'resume',
    ]);
  });

  it('after a restart, merges with the stored window: last revision wins, re-deliveries replace their row', async () => {
    const store = new MemoryStore();
    const first = setup(store).pipeline;
    first.handleBatch(batch(0, 0, [sampleBar(0), sampleBar(1, { revision: 2, close: 7 }), sampleBar(2)]));
    await first.flush();
    const second = setup(store).pipeline; // a new process: empty book
    second.handleBatch(
      batch(0, 1, [
        sampleBar(1, { revision: 1, close: 5 }),
        sampleBar(2, { knownAtMs: sampleBar(2).knownAtMs + 1 }),
        sampleBar(3),
      ]),
    );
    await second.flush();
    const bars = decodeParquetToBars(store.objects.get(key)!);
    assert.deepEqual(
      bars.map((b) => [b.eventTimeMs, b.revision, b.close, b.knownAtMs]),
      [
        [sampleBar(0).eventTimeMs, 0, sampleBar(0).close, sampleBar(0).knownAtMs],
        [sampleBar(1).eventTimeMs, 2, 7, sampleBar(1).knownAtMs],
        [sampleBar(2).eventTimeMs, 0, sampleBar(2).close, sampleBar(2).knownAtMs + 1],
        [sampleBar(3).eventTimeMs, 0, sampleBar(3).close, sampleBar(3).knownAtMs],
      ],
    );
  });

  it('backs off on S3 errors with the consumer paused, then writes, commits and resumes', async () => {
    const store = new MemoryStore();
    const { pipeline, consumer } = setup(store);
    store.failPuts = 2;
    pipeline.handleBatch(batch(3, 10, [sampleBar(0)]));
    await pipeline.flush();
    assert.deepEqual(store.calls, [
      'pause',
      'put object',
      'put manifest',
      'put index',
      'commit 3:11',
      'resume',
    ]);
    assert.equal(consumer.paused, false);
  });

  it('after a rebalance, commits only the partitions it still owns', async () => {
    const store = new MemoryStore();
    const { pipeline } = setup(store);
    pipeline.handleBatch(batch(1, 0, [sampleBar(0)]));
    pipeline.handleBatch(batch(2, 4, [sampleBar(1)]));
    pipeline.onAssignment({ [TOPIC]: [2] });
    await pipeline.flush();
    assert.deepEqual(store.calls, ['put object', 'put manifest', 'put index', 'commit 2:5']);
  });

  it('dead-letters every bar whose object key cannot be built (windower.key), never taking a failed key as built', async () => {
    const store = new MemoryStore();
    // A prefix no key can lie under: every bar of the same window fails, not just the first.
    const { pipeline, deadLetters } = setup(store, null, 1_000, 'DS/../x');
    pipeline.handleBatch(batch(1, 0, [sampleBar(0), sampleBar(1), sampleBar(2)]));
    await pipeline.flush();
    assert.deepEqual(
      deadLetters.map((l) => [l.ruleId, l.source.offset]),
      [
        ['windower.key', '0'],
        ['windower.key', '1'],
        ['windower.key', '2'],
      ],
    );
    assert.match(deadLetters[0]!.message, /invalid S3 prefix 'DS\/\.\.\/x'/);
    assert.equal(store.calls.filter((c) => c.startsWith('put')).length, 0);
  });

  it('dead-letters a record that fails the contract, with its reason, and commits past it only after the dead letter', async () => {
    const store = new MemoryStore();
    const { pipeline, deadLetters, metrics } = setup(store);
    pipeline.handleBatch(batch(1, 0, [{ nope: true }, sampleBar(0), sampleBar(1, { high: 1, low: 2 })]));
    await pipeline.flush();
    assert.deepEqual(store.calls, ['dlq 0,2', 'put object', 'put manifest', 'put index', 'commit 1:3']);
    assert.deepEqual(
      deadLetters.map((l) => [l.stage, l.ruleId, l.source.offset, l.payload.slice(0, 14)]),
      [
        ['windower', 'contract.enum', '0', '{"nope":true}'],
        ['windower', 'contract.ohlc.high_below_low', '2', '{"schemaVersio'],
      ],
    );
    assert.match(deadLetters[1]!.message, /high/);
    assert.match(
      await metrics.registry.metrics(),
      /perpflow_windower_bars_rejected_total\{rule="contract"[^}]*\} 2/,
    );
  });

  it('holds the commit below a dead letter the broker has not acknowledged', async () => {
    const store = new MemoryStore();
    const { pipeline, metrics } = setup(store);
    const internal = pipeline as unknown as { deps: { deadLetters: { send: () => Promise<void> } } };
    let fail = true;
    internal.deps.deadLetters.send = async () => {
      if (fail) throw new Error('broker down');
      store.calls.push('dlq');
    };
    const count = async (name: string) =>
      (await metrics.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);
    pipeline.handleBatch(batch(0, 10, [sampleBar(0), 'not json', sampleBar(1)]));
    await pipeline.flush();
    assert.deepEqual(store.calls, ['put object', 'put manifest', 'put index', 'commit 0:11']);
    await pipeline.flush();
    assert.equal(
      await count('perpflow_windower_dead_letter_send_failures_total'),
      2,
      'each failed send counted',
    );
    assert.equal(await count('perpflow_dlq_records_total'), 0);
    fail = false;
    await pipeline.flush();
    assert.deepEqual(store.calls.slice(4), ['dlq', 'commit 0:13']);
    assert.equal(await count('perpflow_windower_dead_letter_send_failures_total'), 2);
    assert.equal(await count('perpflow_dlq_records_total'), 1, 'counted once acknowledged');
  });

  it('keeps a dead letter that arrived while a send was in flight, sends it next and commits past it only then', async () => {
    const store = new MemoryStore();
    const { pipeline, deadLetters } = setup(store);
    const internal = pipeline as unknown as {
      deps: { deadLetters: { send: (letters: DeadLetter[]) => Promise<void> } };
    };
    const send = internal.deps.deadLetters.send;
    let release: () => void = () => undefined;
    let held = true;
    internal.deps.deadLetters.send = async (letters) => {
      // The messages are built when send is called (as kafkajs does); the broker acknowledges
      // the first send only after the next batch was handled.
      const given = [...letters];
      if (held) await new Promise<void>((r) => (release = r));
      held = false;
      await send(given);
    };
    pipeline.handleBatch(batch(0, 0, ['not json', sampleBar(0)]));
    const flushing = pipeline.flush();
    await new Promise((r) => setImmediate(r));
    pipeline.handleBatch(batch(0, 2, ['nor this', sampleBar(1)]));
    release();
    await flushing;
    assert.deepEqual(
      deadLetters.map((l) => l.source.offset),
      ['0'],
      'the first send holds only the letter it was given',
    );
    assert.ok(
      !store.calls.some((c) => /^commit 0:(3|4)$/.test(c)),
      `committed past offset 2: ${store.calls}`,
    );
    await pipeline.flush();
    assert.deepEqual(
      deadLetters.map((l) => l.source.offset),
      ['0', '2'],
      'the letter handled during the send is sent by the next flush',
    );
    assert.equal(store.calls.filter((c) => c.startsWith('commit')).at(-1), 'commit 0:4');
  });

  it('exports freshness of the newest durable bar (bounded series), durable delay, S3 latency and errors', async () => {
    const store = new MemoryStore();
    const { pipeline, metrics } = setup(store);
    store.failPuts = 1;
    pipeline.handleBatch(
      batch(0, 0, [sampleBar(0), sampleBar(5), sampleBar(1, { symbol: 'ETH/USDT:USDT' })]),
    );
    await pipeline.flush();
    const text = await metrics.registry.metrics();
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    // Newest durable BTC bar opens at T0 + 5 min and closes a minute later; NOW is T0 + 2 days.
    assert.equal(
      value(
        /perpflow_feed_freshness_seconds\{stage="s3",exchange="binanceusdm",symbol="BTC\/USDT:USDT",feed="bar",service="windower-test"\} (\S+)/,
      ),
      (NOW - (T0 + 6 * 60_000)) / 1000,
    );
    assert.doesNotMatch(text, /perpflow_feed_freshness_seconds\{[^}]*ETH/, 'beyond the series cap: no label');
    assert.equal(value(/perpflow_windower_freshness_series_dropped_total\{[^}]*\} (\S+)/), 1);
    assert.equal(value(/perpflow_windower_durable_delay_seconds_count\{[^}]*\} (\S+)/), 3, 'one per bar');
    assert.equal(value(/perpflow_windower_s3_errors_total\{op="put"[^}]*\} (\S+)/), 1);
    // Per window: GET object (absent), then object, manifest, index PUTs, GET index; plus the refused PUT.
    assert.equal(value(/perpflow_windower_s3_request_duration_seconds_count\{[^}]*op="put"[^}]*\} (\S+)/), 7);
    assert.equal(value(/perpflow_windower_files_written_total\{[^}]*\} (\S+)/), 2);
  });

  describe('dataset versions', () => {
    const V1 = 'dv-0123456789abcdef';
    const V2 = 'dv-fedcba9876543210';
    const manifestOf = (store: MemoryStore) =>
      parseWindowManifest(store.objects.get(key.replace(/\.parquet$/, '.manifest.json'))!);

    it('pins an unversioned tree to the first versioned bar, durably before any object of it', async () => {
      const store = new MemoryStore();
      const { pipeline, deadLetters } = setup(store);
      pipeline.handleBatch(batch(0, 0, [sampleBar(0), sampleBar(1)], { 'perpflow-dataset-version': V1 }));
      await pipeline.flush();
      assert.deepEqual(store.calls, ['put pin', 'put object', 'put manifest', 'put index', 'commit 0:2']);
      assert.equal(
        JSON.parse(new TextDecoder().decode(store.objects.get('ds/versions/live.json'))).version,
        V1,
      );
      assert.equal(manifestOf(store).datasetVersion, V1);
      assert.equal(deadLetters.length, 0);
    });

    it('never mixes two versions in the tree: a bar of another version, or of none, is dead-lettered by windower.version', async () => {
      const store = new MemoryStore();
      const { pipeline, deadLetters } = setup(store, V1);
      pipeline.handleBatch(batch(0, 0, [sampleBar(0)], { 'perpflow-dataset-version': V1 }));
      pipeline.handleBatch(batch(0, 1, [sampleBar(1, { close: 999 })], { 'perpflow-dataset-version': V2 }));
      pipeline.handleBatch(batch(0, 2, [sampleBar(2)]));
      pipeline.handleBatch(batch(0, 3, [sampleBar(3)], { 'perpflow-dataset-version': 'dv-../../x' }));
      await pipeline.flush();
      assert.deepEqual(
        deadLetters.map((l) => [l.source.offset, l.ruleId]),
        [
          ['1', 'windower.version'],
          ['2', 'windower.version'],
          ['3', 'windower.version'],
        ],
      );
      assert.match(deadLetters[0]!.message, new RegExp(`version ${V2}; the live tree holds ${V1}`));
      assert.match(deadLetters[1]!.message, /without a perpflow-dataset-version header/);
      assert.match(deadLetters[2]!.message, /is not a dataset version/);
      const m = manifestOf(store);
      assert.equal(m.datasetVersion, V1);
      assert.equal(m.object.rowCount, 1, 'only the bar of the live version');
      const rows = await decodeParquetToBars(store.objects.get(key)!);
      assert.deepEqual(
        rows.map((r) => r.close),
        [101],
      );
      assert.ok(!store.calls.includes('put pin'), 'a pinned tree is not pinned again');
      assert.ok(store.calls.at(-1)?.startsWith('commit 0:4'), store.calls.join(' | '));
    });

    it('keeps an unversioned tree unversioned: bars without the header are written with a null version', async () => {
      const store = new MemoryStore();
      const { pipeline } = setup(store);
      pipeline.handleBatch(batch(0, 0, [sampleBar(0)]));
      await pipeline.flush();
      assert.equal(manifestOf(store).datasetVersion, null);
      assert.ok(!store.objects.has('ds/versions/live.json'));
    });

    it('writes nothing while the pin cannot be written, and commits nothing past it', async () => {
      const store = new MemoryStore();
      const { pipeline } = setup(store);
      pipeline.handleBatch(batch(0, 0, [sampleBar(0)], { 'perpflow-dataset-version': V1 }));
      store.failPuts = 1;
      await pipeline.flush();
      assert.deepEqual(store.calls, [], 'pin refused: no object, no commit');
      await pipeline.flush();
      assert.deepEqual(store.calls, ['put pin', 'put object', 'put manifest', 'put index', 'commit 0:1']);
    });

    it('refuses to pin over another version’s pin written meanwhile (two aligner configs on one prefix)', async () => {
      const store = new MemoryStore();
      const { pipeline } = setup(store);
      pipeline.handleBatch(batch(0, 0, [sampleBar(0)], { 'perpflow-dataset-version': V1 }));
      await new S3VersionPin(store, 'ds', () => NOW).pin(V2);
      store.calls.length = 0;
      await pipeline.flush();
      assert.deepEqual(store.calls, [], 'nothing written into a tree of another version');
    });
  });
});
