/**
 * Bytes of the raw archive per symbol-day per feed, measured with the simulator's
 * market model (seed 42): one UTC day of 1m candles, open interest polled every
 * minute, predicted funding polled every minute plus the 3 settlements, and the
 * model's liquidations, for SYMBOLS symbols on two venues, as contract records with
 * the headers ingest publishes. Records go through the archiver's own code
 * (PartitionBuffer rotation with the clock at each record's receive time, planFlush)
 * into 12 partitions by key, as on the raw topics. No Kafka, no S3: the bytes are
 * those the archiver would put.
 *
 *   cd bench && npm run bench:archive-bytes -- [maxAgeMs…]   (no servers; ~1 min)
 */
import { createHash } from 'node:crypto';
import {
  type ArchiveFeed,
  type KafkaRecord,
  PartitionBuffer,
  planFlush,
  serializeDocument,
  toArchiveRow,
  upsertDayIndex,
  type DayIndex,
} from '@perpflow/archive';
import { HEADERS, schemaHeader, streamKey, TOPICS, type RecordKind } from '@perpflow/contracts';
import { MarketModel } from '@perpflow/exchange-sim';

const SYMBOLS = Number(process.env.SYMBOLS ?? 20);
const VENUES = ['binanceusdm', 'bybit'] as const;
const PARTITIONS = 12;
const DAY0 = Date.UTC(2024, 2, 1);
const DAY = 86_400_000;
const MIN = 60_000;
const ages = process.argv.slice(2).map(Number);
const AGES = ages.length > 0 ? ages : [600_000, 3_600_000, DAY];

const model = new MarketModel({ seed: 42, symbolCount: 40 });
const ids = model.symbols.slice(0, SYMBOLS).map((s) => s.id);
const unified = (id: string) => `${id.replace(/USDT$/, '')}/USDT:USDT`;
const enc = new TextEncoder();

interface Produced {
  feed: ArchiveFeed;
  record: Omit<KafkaRecord, 'partition' | 'offset' | 'topic'>;
  key: string;
}

function message(
  feed: ArchiveFeed,
  kind: RecordKind,
  venue: string,
  id: string,
  rec: Record<string, unknown>,
  atMs: number,
): Produced {
  const key = streamKey(venue, unified(id));
  const headers = [
    { name: HEADERS.schema, value: enc.encode(schemaHeader(kind)) },
    { name: HEADERS.producer, value: enc.encode('exchange-ingest') },
    { name: HEADERS.producedAtMs, value: enc.encode(String(atMs)) },
    { name: HEADERS.source, value: enc.encode('live') },
  ];
  return {
    feed,
    key,
    record: { kafkaTimestampMs: atMs, key: enc.encode(key), value: enc.encode(JSON.stringify(rec)), headers },
  };
}

function dayOfRecords(): Produced[] {
  const out: Produced[] = [];
  for (const venue of VENUES)
    for (const id of ids) {
      const symbol = unified(id);
      const base = { schemaVersion: 1, exchange: venue, symbol };
      for (const c of model.candles(id, MIN, DAY0, DAY0 + DAY - 1)) {
        const at = c.openTimeMs + MIN + 250;
        out.push(
          message(
            'ohlcv',
            'candle',
            venue,
            id,
            {
              ...base,
              eventTimeMs: c.openTimeMs,
              receivedAtMs: at,
              timeframe: '1m',
              openTimeMs: c.openTimeMs,
              open: c.open,
              high: c.high,
              low: c.low,
              close: c.close,
              volume: c.volume,
              quoteVolume: c.quoteVolume,
              trades: c.trades,
              closed: true,
              source: 'live',
            },
            at,
          ),
        );
      }
      for (let t = DAY0; t < DAY0 + DAY; t += MIN) {
        const oi = model.openInterest(id, t);
        out.push(
          message(
            'open_interest',
            'open_interest',
            venue,
            id,
            {
              ...base,
              eventTimeMs: oi.timeMs,
              receivedAtMs: t + 120,
              openInterest: oi.openInterest,
              openInterestValue: oi.openInterestValue,
              source: 'live',
            },
            t + 120,
          ),
        );
        const p = model.premiumIndex(id, t);
        out.push(
          message(
            'funding',
            'funding',
            venue,
            id,
            {
              ...base,
              eventTimeMs: p.timeMs,
              receivedAtMs: t + 300,
              kind: 'predicted',
              fundingRate: p.lastFundingRate,
              fundingTimeMs: p.nextFundingTimeMs,
              markPrice: p.markPrice,
              indexPrice: p.indexPrice,
              source: 'live',
            },
            t + 300,
          ),
        );
      }
      for (const f of model.fundingHistory(id, DAY0, DAY0 + DAY - 1))
        out.push(
          message(
            'funding',
            'funding',
            venue,
            id,
            {
              ...base,
              eventTimeMs: f.fundingTimeMs,
              receivedAtMs: f.fundingTimeMs + 1_500,
              kind: 'settled',
              fundingRate: f.rate,
              fundingTimeMs: f.fundingTimeMs,
              markPrice: f.markPrice,
              indexPrice: null,
              source: 'live',
            },
            f.fundingTimeMs + 1_500,
          ),
        );
      for (const l of model.liquidations(id, DAY0, DAY0 + DAY - 1))
        out.push(
          message(
            'liquidation',
            'liquidation',
            venue,
            id,
            {
              ...base,
              eventTimeMs: l.timeMs,
              receivedAtMs: l.timeMs + 80,
              side: l.side === 'SELL' ? 'sell' : 'buy',
              price: l.averagePrice,
              amount: l.qty,
              source: 'live',
            },
            l.timeMs + 80,
          ),
        );
    }
  return out.sort((a, b) => a.record.kafkaTimestampMs - b.record.kafkaTimestampMs);
}

const partitionOf = (key: string) => createHash('sha256').update(key).digest().readUInt32BE(0) % PARTITIONS;
const FEEDS: ArchiveFeed[] = ['ohlcv', 'open_interest', 'funding', 'liquidation'];
const topicOf = (f: ArchiveFeed) => (f === 'dead_letter' ? TOPICS.deadLetter : TOPICS.raw[f]);

const records = dayOfRecords();
const streams = SYMBOLS * VENUES.length;
console.log(
  `simulator seed 42, ${SYMBOLS} symbols × ${VENUES.length} venues = ${streams} streams, ${PARTITIONS} partitions, ${records.length} records in one UTC day`,
);
console.log(
  '| max object age | feed | records / symbol-day | value bytes / symbol-day (JSON) | Parquet bytes / symbol-day | + manifests, ledger, index | objects / day (all symbols) | contract errors |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const maxObjectAgeMs of AGES) {
  for (const feed of FEEDS) {
    const buffers = new Map<number, PartitionBuffer>();
    const offsets = new Map<number, number>();
    const indexes = new Map<string, DayIndex>();
    let n = 0;
    let valueBytes = 0;
    let parquet = 0;
    let docs = 0;
    let objects = 0;
    let errors = 0;
    const flush = (b: PartitionBuffer, nowMs: number, final: boolean) => {
      for (let d = b.decide(nowMs, final); d.due; d = b.decide(nowMs, final)) {
        const plan = planFlush('datasets', feed, d.rows);
        docs += plan.ledgerBody.byteLength;
        for (const o of plan.objects) {
          parquet += o.body.byteLength;
          docs += serializeDocument(o.manifest).byteLength;
          const index = upsertDayIndex(indexes.get(o.indexKey) ?? null, o.manifest, o.manifestKey);
          indexes.set(o.indexKey, index);
          objects++;
        }
        b.markDurable(plan.ledger.lastOffset);
      }
    };
    for (const r of records) {
      if (r.feed !== feed) continue;
      const p = partitionOf(r.key);
      let b = buffers.get(p);
      if (!b) {
        b = new PartitionBuffer({
          maxObjectBytes: 16 * 1024 * 1024,
          maxObjectRecords: 200_000,
          maxObjectAgeMs,
        });
        buffers.set(p, b);
      }
      // Age rotation runs on a 1 s tick in the service: check every buffer before this record.
      for (const other of buffers.values()) flush(other, r.record.kafkaTimestampMs, false);
      const offset = offsets.get(p) ?? 0;
      offsets.set(p, offset + 1);
      const row = toArchiveRow(feed, {
        ...r.record,
        topic: topicOf(feed),
        partition: p,
        offset: String(offset),
      });
      if (row.contractError) errors++;
      b.add(row, r.record.kafkaTimestampMs);
      n++;
      valueBytes += r.record.value?.byteLength ?? 0;
    }
    for (const b of buffers.values()) flush(b, Number.MAX_SAFE_INTEGER, true);
    for (const index of indexes.values()) docs += serializeDocument(index).byteLength;
    const per = (x: number) => Math.round(x / streams);
    const age =
      maxObjectAgeMs >= DAY ? '24 h (one object per partition-day)' : `${maxObjectAgeMs / 60_000} min`;
    console.log(
      `| ${age} | ${feed} | ${per(n)} | ${per(valueBytes)} | ${per(parquet)} | ${per(docs)} | ${objects} | ${errors} |`,
    );
  }
}
