import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SAMPLE_T0_MS, sampleCandle } from '@perpflow/contracts';
import {
  ArchiveObjectCorrupt,
  ArchiveObjectMissing,
  type DayIndex,
  type KafkaRecord,
  listArchiveObjects,
  planFlush,
  readArchiveObject,
  serializeDocument,
  toArchiveRow,
  upsertDayIndex,
  utcDaysOf,
} from './index.js';

const DAY = 86_400_000;
const enc = (s: string) => new TextEncoder().encode(s);

/** Two days of candles of one partition, flushed as the archiver plans them, into a key→bytes map. */
function archived(): Map<string, Uint8Array> {
  const records: KafkaRecord[] = [];
  for (let i = 0; i < 6; i++)
    records.push({
      topic: 'perpflow.raw.ohlcv.v1',
      partition: 0,
      offset: String(i),
      kafkaTimestampMs: SAMPLE_T0_MS + i * 12 * 3_600_000,
      key: enc('binanceusdm|BTC/USDT:USDT'),
      value: enc(
        JSON.stringify(
          sampleCandle({
            eventTimeMs: SAMPLE_T0_MS + i * 12 * 3_600_000,
            openTimeMs: SAMPLE_T0_MS + i * 12 * 3_600_000,
            receivedAtMs: SAMPLE_T0_MS + i * 12 * 3_600_000 + 60_250,
          }),
        ),
      ),
      headers: [],
    });
  const plan = planFlush(
    'ds',
    'ohlcv',
    records.map((r) => toArchiveRow('ohlcv', r)),
  );
  const store = new Map<string, Uint8Array>();
  const indexes = new Map<string, DayIndex | null>();
  for (const o of plan.objects) {
    store.set(o.key, o.body);
    store.set(o.manifestKey, serializeDocument(o.manifest));
    const ix = upsertDayIndex(indexes.get(o.indexKey) ?? null, o.manifest, o.manifestKey);
    indexes.set(o.indexKey, ix);
    store.set(o.indexKey, serializeDocument(ix));
  }
  return store;
}
const getter = (store: Map<string, Uint8Array>) => async (k: string) => store.get(k) ?? null;

describe('reading the raw archive back', () => {
  it('utcDaysOf covers every UTC day the range touches', () => {
    assert.deepEqual(utcDaysOf(SAMPLE_T0_MS, SAMPLE_T0_MS + 1), ['2024-03-01']);
    assert.deepEqual(utcDaysOf(SAMPLE_T0_MS - 1, SAMPLE_T0_MS + DAY + 1), [
      '2024-02-29',
      '2024-03-01',
      '2024-03-02',
    ]);
    assert.throws(() => utcDaysOf(5, 5), /from < to/);
  });

  it('lists the objects of each day from its index and reads every row back', async () => {
    const store = archived();
    const listing = await listArchiveObjects(getter(store), 'ds', {
      feed: 'ohlcv',
      exchange: 'binanceusdm',
      fromMs: SAMPLE_T0_MS - DAY,
      toMs: SAMPLE_T0_MS + 3 * DAY,
    });
    assert.deepEqual(listing.daysWithoutIndex, ['2024-02-29']);
    assert.deepEqual(
      listing.objects.map((o) => [o.date, o.rowCount]),
      [
        ['2024-03-01', 2],
        ['2024-03-02', 2],
        ['2024-03-03', 2],
      ],
    );
    const rows = [];
    for (const o of listing.objects) rows.push(...(await readArchiveObject(getter(store), o)));
    assert.deepEqual(
      rows.map((r) => r.offset),
      ['0', '1', '2', '3', '4', '5'],
    );
    assert.equal(rows[3]!.eventTimeMs, SAMPLE_T0_MS + 36 * 3_600_000);
  });

  it('a changed byte stops the read naming the object and both sha256; a missing object is named too', async () => {
    const store = archived();
    const { objects } = await listArchiveObjects(getter(store), 'ds', {
      feed: 'ohlcv',
      exchange: 'binanceusdm',
      fromMs: SAMPLE_T0_MS,
      toMs: SAMPLE_T0_MS + 1,
    });
    const entry = objects[0]!;
    const body = store.get(entry.key)!.slice();
    body[body.length >> 1]! ^= 0xff;
    store.set(entry.key, body);
    await assert.rejects(readArchiveObject(getter(store), entry), (err: unknown) => {
      assert.ok(err instanceof ArchiveObjectCorrupt);
      assert.equal(err.key, entry.key);
      assert.equal(err.expectedSha256, entry.sha256);
      assert.notEqual(err.foundSha256, entry.sha256);
      assert.ok(
        err.message.includes(
          `${entry.key} is corrupt: expected sha256 ${entry.sha256}, found ${err.foundSha256}`,
        ),
      );
      return true;
    });
    store.set(entry.key, store.get(entry.key)!.slice(0, 100));
    await assert.rejects(readArchiveObject(getter(store), entry), ArchiveObjectCorrupt);
    store.delete(entry.key);
    await assert.rejects(readArchiveObject(getter(store), entry), ArchiveObjectMissing);
  });

  it('a day index that names another day is refused', async () => {
    const store = archived();
    const k1 = [...store.keys()].find((k) => k.includes('date=2024-03-01/_index.json'))!;
    const k2 = k1.replace('2024-03-01', '2024-03-02');
    store.set(k1, store.get(k2)!);
    await assert.rejects(
      listArchiveObjects(getter(store), 'ds', {
        feed: 'ohlcv',
        exchange: 'binanceusdm',
        fromMs: SAMPLE_T0_MS,
        toMs: SAMPLE_T0_MS + 1,
      }),
      /names another day/,
    );
  });
});
