import {
  type ArchiveFeed,
  type DayIndex,
  type KafkaRecord,
  planFlush,
  serializeDocument,
  toArchiveRow,
  upsertDayIndex,
} from '@perpflow/archive';
import {
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
  TOPICS,
} from '@perpflow/contracts';
import { buildDeadLetter } from '@perpflow/kafka';

export const MIN = 60_000;
export const T = Date.UTC(2024, 2, 1, 0, 0); // the bar traced opens at T + 5 min
export const BAR = T + 5 * MIN;
export const PREFIX = 'lineage-unit';

/**
 * A raw archive in memory, written by the archiver's own plan (keys, Parquet, manifests, day
 * indexes), read through the `get` the lineage command binds to S3 (lineage tests).
 */
export class MemoryArchive {
  readonly objects = new Map<string, Uint8Array>();
  private readonly next = new Map<string, number>();

  write(feed: ArchiveFeed, topic: string, values: unknown[]): string[] {
    const offsets: string[] = [];
    const rows = values.map((v) => {
      const offset = String(this.next.get(topic) ?? 0);
      this.next.set(topic, Number(offset) + 1);
      offsets.push(offset);
      const record: KafkaRecord = {
        topic,
        partition: 0,
        offset,
        kafkaTimestampMs: T,
        key: null,
        value: new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v)),
        headers: [],
      };
      return toArchiveRow(feed, record);
    });
    const plan = planFlush(PREFIX, feed, rows);
    for (const o of plan.objects) {
      this.objects.set(o.key, o.body);
      this.objects.set(o.manifestKey, serializeDocument(o.manifest));
      const raw = this.objects.get(o.indexKey);
      const index = raw ? (JSON.parse(new TextDecoder().decode(raw)) as DayIndex) : null;
      this.objects.set(o.indexKey, serializeDocument(upsertDayIndex(index, o.manifest, o.manifestKey)));
    }
    return offsets;
  }

  get = async (key: string) => this.objects.get(key) ?? null;
}

const candle = (i: number, over = {}) =>
  sampleCandle({
    openTimeMs: T + i * MIN,
    eventTimeMs: T + i * MIN,
    receivedAtMs: T + (i + 1) * MIN + 300,
    ...over,
  });

export function archive(): { a: MemoryArchive; badLiqOffset: string } {
  const a = new MemoryArchive();
  a.write('ohlcv', TOPICS.raw.ohlcv, [
    candle(4),
    candle(5, { closed: false, volume: 1, receivedAtMs: BAR + 30_000 }),
    candle(5, { volume: 7 }), // the closed candle: the one that decides
    candle(5, { volume: 7, receivedAtMs: BAR + MIN + 900 }), // its re-delivery
    candle(6),
    candle(5, { exchange: 'bybit' }), // another series
  ]);
  a.write('open_interest', TOPICS.raw.open_interest, [
    sampleOpenInterest({ eventTimeMs: T, receivedAtMs: T + 1_000, openInterest: 10 }),
    sampleOpenInterest({ eventTimeMs: T + 5 * MIN, receivedAtMs: T + 5 * MIN + 2_000, openInterest: 11 }),
    sampleOpenInterest({ eventTimeMs: T + 7 * MIN, receivedAtMs: T + 7 * MIN + 2_000, openInterest: 99 }), // after the close
  ]);
  a.write('funding', TOPICS.raw.funding, [
    sampleFunding({
      kind: 'settled',
      fundingTimeMs: T,
      eventTimeMs: T + 9,
      receivedAtMs: T + 500,
      fundingRate: 0.0001,
    }),
  ]);
  const liq = (s: number, amount: number) =>
    sampleLiquidation({ eventTimeMs: BAR + s * 1_000, receivedAtMs: BAR + s * 1_000 + 100, amount });
  const [, , , bad] = a.write('liquidation', TOPICS.raw.liquidation, [
    liq(1, 1),
    liq(1, 1), // the same liquidation twice
    liq(20, 2),
    liq(30, 500), // rejected by a quality rule below: it decided nothing
    liq(70, 3), // the next bar
    { ...liq(40, 1), side: 'up' }, // fails its contract
  ]);
  const letter = buildDeadLetter(
    {
      topic: TOPICS.raw.liquidation,
      partition: 0,
      offset: bad!,
      key: 'binanceusdm|BTC/USDT:USDT',
      value: Buffer.from(JSON.stringify(liq(30, 500))),
      headers: {},
    },
    {
      ruleId: 'liq.amount_outlier',
      message: 'amount 500 is 250 MADs from the median',
      exchange: 'binanceusdm',
      symbol: 'BTC/USDT:USDT',
    },
    'aligner',
    BAR + 40_000,
  );
  a.write('dead_letter', TOPICS.deadLetter, [letter]);
  return { a, badLiqOffset: bad! };
}
