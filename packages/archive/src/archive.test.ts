import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SAMPLE_T0_MS, sampleCandle, sampleDeadLetter, sampleLiquidation } from '@perpflow/contracts';
import {
  archiveObjectKey,
  decodeArchiveParquet,
  encodeArchiveParquet,
  exchangeSegment,
  type KafkaRecord,
  ledgerKey,
  PartitionBuffer,
  parseArchiveManifest,
  parseColumns,
  parseLedgerEntry,
  planFlush,
  serializeDocument,
  sha256Hex,
  toArchiveRow,
  upsertDayIndex,
} from './index.js';

const DAY = 86_400_000;
const enc = (s: string) => new TextEncoder().encode(s);

function record(offset: number, value: Uint8Array | null, extra: Partial<KafkaRecord> = {}): KafkaRecord {
  return {
    topic: 'perpflow.raw.ohlcv.v1',
    partition: 3,
    offset: String(offset),
    kafkaTimestampMs: SAMPLE_T0_MS + offset,
    key: enc('binanceusdm|BTC/USDT:USDT'),
    value,
    headers: [{ name: 'perpflow-schema', value: enc('candle/v1') }],
    ...extra,
  };
}
const candle = (offset: number, over: Record<string, unknown> = {}) =>
  record(offset, enc(JSON.stringify(sampleCandle(over as never))));

describe('parseColumns: pruning columns from the value, never throwing', () => {
  it('reads exchange, symbol, event and receive time of a valid record', () => {
    assert.deepEqual(parseColumns('ohlcv', enc(JSON.stringify(sampleCandle()))), {
      exchange: 'binanceusdm',
      symbol: 'BTC/USDT:USDT',
      eventTimeMs: SAMPLE_T0_MS,
      receivedAtMs: SAMPLE_T0_MS + 60_250,
      contractError: null,
      ruleId: null,
    });
  });

  it('gives null columns and the reason for bytes that are not JSON', () => {
    const c = parseColumns('liquidation', new Uint8Array([0xff, 0xfe, 0x00, 0x7b]));
    assert.equal(c.exchange, null);
    assert.equal(c.eventTimeMs, null);
    assert.match(c.contractError ?? '', /not valid JSON/);
    assert.match(parseColumns('funding', null).contractError ?? '', /tombstone/);
  });

  it('keeps the columns of a record that failed its contract on another field', () => {
    const c = parseColumns('liquidation', enc(JSON.stringify({ ...sampleLiquidation(), side: 'sideways' })));
    assert.equal(c.exchange, 'binanceusdm');
    assert.equal(c.eventTimeMs, sampleLiquidation().eventTimeMs);
    assert.match(c.contractError ?? '', /side/);
  });

  it('reads a dead letter: its rule, exchange and when it was quarantined', () => {
    const letter = sampleDeadLetter();
    const c = parseColumns('dead_letter', enc(JSON.stringify(letter)));
    assert.deepEqual(
      [c.ruleId, c.exchange, c.receivedAtMs, c.eventTimeMs, c.contractError],
      [letter.ruleId, letter.exchange, letter.deadLetteredAtMs, null, null],
    );
  });
});

describe('layout: keys from data never escape their prefix', () => {
  it('uses the exchange only when it is a plain id, else _invalid', () => {
    for (const bad of ['../x', 'a/b', '', 'Binance', '..', 'a b', 'x\u0000', '%2e%2e', null])
      assert.equal(exchangeSegment(bad), '_invalid', String(bad));
    assert.equal(exchangeSegment('binanceusdm'), 'binanceusdm');
  });

  it('puts a record with an unsafe exchange under exchange=_invalid of its day', () => {
    const rows = [candle(7, { exchange: '../../etc' }), candle(8, { exchange: 'okx/../x' })].map((r) =>
      toArchiveRow('ohlcv', r),
    );
    const plan = planFlush('p', 'ohlcv', rows);
    assert.deepEqual(
      plan.objects.map((o) => o.key),
      [
        'p/raw/feed=ohlcv/exchange=_invalid/date=2024-03-01/perpflow.raw.ohlcv.v1+3+00000000000000000007.parquet',
      ],
    );
    assert.equal(
      decodeArchiveParquet(plan.objects[0]!.body)[0]!.exchange,
      '../../etc',
      'the column keeps the data',
    );
  });

  it('rejects a topic, partition or offset that is not Kafka-shaped', () => {
    const id = {
      feed: 'ohlcv' as const,
      exchange: 'okx',
      date: '2024-03-01',
      topic: 't',
      partition: 0,
      firstOffset: '1',
    };
    assert.throws(() => archiveObjectKey('p', { ...id, topic: '../t' }), /topic/);
    assert.throws(() => archiveObjectKey('p', { ...id, partition: -1 }), /partition/);
    assert.throws(() => ledgerKey('p', 't', 0, '1e3'), /offset/);
    assert.throws(() => archiveObjectKey('p', { ...id, exchange: 'a/b' }), /exchange/);
  });
});

describe('Parquet layout', () => {
  it('round-trips every byte of key, value and headers, nulls included, deterministically', () => {
    const garbage = new Uint8Array([0, 255, 10, 13, 0x80]);
    const rows = [
      toArchiveRow('ohlcv', record(1, garbage, { key: null, headers: [] })),
      toArchiveRow(
        'ohlcv',
        record(2, null, {
          headers: [
            { name: 'a', value: new Uint8Array([0, 1]) },
            { name: 'b', value: null },
          ],
        }),
      ),
      toArchiveRow('ohlcv', candle(3)),
    ];
    const bytes = encodeArchiveParquet(rows);
    assert.deepEqual(Buffer.from(encodeArchiveParquet(rows)), Buffer.from(bytes));
    assert.deepEqual(decodeArchiveParquet(bytes), rows);
  });
});

describe('planFlush', () => {
  it('splits a partition flush by (exchange, day); each object keyed by its first offset', () => {
    const rows = [
      candle(10),
      candle(11, { exchange: 'okx' }),
      candle(12, { eventTimeMs: SAMPLE_T0_MS + DAY, openTimeMs: SAMPLE_T0_MS + DAY }),
      record(13, enc('not json')),
      candle(14),
    ].map((r) => toArchiveRow('ohlcv', r));
    const plan = planFlush('ds', 'ohlcv', rows);
    const summary = plan.objects.map((o) => [
      o.key.replace('ds/raw/feed=ohlcv/', ''),
      o.manifest.object.rowCount,
      o.manifest.firstOffset,
      o.manifest.lastOffset,
    ]);
    assert.deepEqual(summary, [
      [
        'exchange=binanceusdm/date=2024-03-01/perpflow.raw.ohlcv.v1+3+00000000000000000010.parquet',
        2,
        '10',
        '14',
      ],
      ['exchange=okx/date=2024-03-01/perpflow.raw.ohlcv.v1+3+00000000000000000011.parquet', 1, '11', '11'],
      [
        'exchange=binanceusdm/date=2024-03-02/perpflow.raw.ohlcv.v1+3+00000000000000000012.parquet',
        1,
        '12',
        '12',
      ],
      [
        'exchange=_invalid/date=2024-03-01/perpflow.raw.ohlcv.v1+3+00000000000000000013.parquet',
        1,
        '13',
        '13',
      ],
    ]);
    for (const o of plan.objects) {
      assert.equal(o.manifest.object.sha256, sha256Hex(o.body));
      assert.deepEqual(parseArchiveManifest(serializeDocument(o.manifest)), o.manifest);
    }
    assert.deepEqual(parseLedgerEntry(plan.ledgerBody), {
      ...plan.ledger,
      firstOffset: '10',
      lastOffset: '14',
      rowCount: 5,
    });
    assert.equal(plan.ledgerKey, 'ds/raw/_ledger/perpflow.raw.ohlcv.v1/3/00000000000000000010.json');
    const again = planFlush('ds', 'ohlcv', rows);
    assert.deepEqual(
      again.objects.map((o) => o.manifest.object.sha256),
      plan.objects.map((o) => o.manifest.object.sha256),
    );
  });

  it('refuses rows of two partitions or out of offset order', () => {
    const a = toArchiveRow('ohlcv', candle(5));
    assert.throws(
      () => planFlush('ds', 'ohlcv', [a, { ...a, partition: 4, offset: '6' }]),
      /one topic-partition/,
    );
    assert.throws(() => planFlush('ds', 'ohlcv', [a, a]), /increasing offset/);
  });
});

describe('upsertDayIndex', () => {
  it('adds each object once, a rewrite replaces its entry, sorted by partition and offset', () => {
    const plan = (o: number, p = 3) =>
      planFlush('ds', 'ohlcv', [toArchiveRow('ohlcv', { ...candle(o), partition: p })]);
    const m = (o: number, p = 3) => plan(o, p).objects[0]!;
    let index = upsertDayIndex(null, m(20).manifest, m(20).manifestKey);
    index = upsertDayIndex(index, m(9).manifest, m(9).manifestKey);
    index = upsertDayIndex(index, m(20).manifest, m(20).manifestKey);
    index = upsertDayIndex(index, m(100, 1).manifest, m(100, 1).manifestKey);
    assert.deepEqual(
      index.objects.map((o) => [o.partition, o.firstOffset]),
      [
        [1, '100'],
        [3, '9'],
        [3, '20'],
      ],
    );
  });
});

describe('PartitionBuffer: rotation by size, count and age', () => {
  const limits = { maxObjectBytes: 10_000, maxObjectRecords: 3, maxObjectAgeMs: 1_000 };
  const row = (o: number, bytes = 10) => toArchiveRow('ohlcv', record(o, new Uint8Array(bytes)));

  it('rotates at the record limit, holding at most that many', () => {
    const b = new PartitionBuffer(limits);
    for (const o of [0, 1]) b.add(row(o), 0);
    assert.deepEqual(b.decide(0), { due: false });
    b.add(row(2), 0);
    b.add(row(3), 0);
    const d = b.decide(0);
    assert.ok(d.due && d.reason === 'records');
    assert.deepEqual(d.due && d.rows.map((r) => r.offset), ['0', '1', '2']);
  });

  it('rotates at the byte limit and by age of the oldest buffered record', () => {
    const b = new PartitionBuffer(limits);
    b.add(row(0, 20_000), 0);
    assert.equal(b.decide(0).due && (b.decide(0) as { reason: string }).reason, 'bytes');
    const idle = new PartitionBuffer(limits);
    idle.add(row(0), 5_000);
    assert.equal(idle.decide(5_999).due, false);
    const d = idle.decide(6_000);
    assert.ok(d.due && d.reason === 'age');
    idle.markDurable('0');
    assert.deepEqual(idle.size, { records: 0, bytes: 0 });
    assert.equal(idle.decide(99_999).due, false);
  });

  it("counts a record's contract error with its bytes, and gives them back when durable", () => {
    const b = new PartitionBuffer(limits);
    const valid = toArchiveRow('ohlcv', candle(0));
    const invalid = toArchiveRow('ohlcv', record(1, enc('{"exchange":"binanceusdm"}')));
    assert.equal(valid.contractError, null);
    assert.ok(invalid.contractError !== null && invalid.contractError.length > 20);
    b.add(valid, 0);
    b.add(invalid, 0);
    const bytes = (r: typeof valid) => 64 + (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0) + 15 + 9;
    assert.equal(b.size.bytes, bytes(valid) + bytes(invalid) + invalid.contractError!.length);
    b.markDurable('1');
    assert.equal(b.size.bytes, 0);
  });

  it('ignores re-delivered offsets, also after they became durable', () => {
    const b = new PartitionBuffer(limits);
    assert.equal(b.add(row(4), 0), true);
    assert.equal(b.add(row(4), 0), false);
    b.markDurable('4');
    assert.equal(b.add(row(3), 0), false);
    assert.equal(b.add(row(5), 0), true);
    assert.equal(b.firstOffset, '5');
  });

  it('a pin (a crashed writer’s ledger entry) fixes the flush to exactly its range', () => {
    const b = new PartitionBuffer({ ...limits, maxObjectRecords: 100 });
    b.add(row(0), 0);
    b.add(row(1), 0);
    b.pin('2');
    assert.equal(b.decide(10_000, true).due, false, 'not until offset 2 is buffered, whatever the age');
    b.add(row(2), 0);
    b.add(row(3), 0);
    const d = b.decide(0);
    assert.ok(d.due && d.reason === 'ledger');
    assert.deepEqual(d.due && d.rows.map((r) => r.offset), ['0', '1', '2']);
    b.markDurable('2');
    assert.equal(b.pinnedLastOffset, null);
    assert.equal(b.decide(0).due, false);
  });
});
