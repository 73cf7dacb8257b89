import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import fc from 'fast-check';
import { readParquet, wasmMemory } from 'parquet-wasm';
import {
  decodeArchiveForReplay,
  decodeArchiveParquet,
  encodeArchiveParquet,
  Utf8Texts,
  viewsReadable,
} from './parquet.js';
import { encodeArchiveParquetReference } from './test-support/encode-reference.js';
import { planFlush } from './flush-plan.js';
import { ARCHIVE_FEEDS, type KafkaRecord, toArchiveRow } from './record.js';

const PREFIX = 'perpflow-prop';
const utf8 = (s: string) => new TextEncoder().encode(s);
const deep = (d: number) => '['.repeat(d) + ']'.repeat(d);

/** Values the archive must take as they are: JSON of every shape, garbage, huge numbers and times. */
const valueArb: fc.Arbitrary<Uint8Array | null> = fc.oneof(
  fc.constant(null),
  fc.uint8Array({ maxLength: 200 }),
  fc.integer({ min: 1, max: 20_000 }).map((d) => utf8(`{"open":${deep(d)}}`)),
  fc.jsonValue().map((v) => utf8(JSON.stringify(v))),
  fc
    .record({
      exchange: fc.oneof(fc.string(), fc.constantFrom('binanceusdm', '../../x', 'a/b', '', '_invalid')),
      symbol: fc.string({ maxLength: 300 }),
      eventTimeMs: fc.oneof(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom(8_640_000_000_000_001, 253_402_300_800_000, -1, 1e300),
        fc.double(),
      ),
      receivedAtMs: fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.string()),
      ruleId: fc.string(),
      deadLetteredAtMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    })
    .map((o) => utf8(JSON.stringify(o))),
  fc.string({ maxLength: 100 }).map((s) => utf8(`"${s}`)),
);

const recordsArb = fc.array(
  fc.record({
    key: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 2_000 })),
    value: valueArb,
    headers: fc.array(
      fc.record({
        name: fc.string({ maxLength: 40 }),
        value: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 100 })),
      }),
      { maxLength: 4 },
    ),
    kafkaTimestampMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  }),
  { minLength: 1, maxLength: 12 },
);

/** The records as the archiver's rows, on partition 3 from offset 100. */
function archiveRows(
  feed: (typeof ARCHIVE_FEEDS)[number],
  records: Omit<KafkaRecord, 'topic' | 'partition' | 'offset'>[],
) {
  return records.map((r, i) =>
    toArchiveRow(feed, {
      topic: `perpflow.raw.${feed}.v1`,
      partition: 3,
      offset: String(100 + i),
      ...r,
    } as KafkaRecord),
  );
}

describe('the archive takes any bytes', () => {
  it('every record becomes a row in an object under the prefix, byte for byte, and nothing throws', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ARCHIVE_FEEDS), recordsArb, (feed, records) => {
        const rows = archiveRows(feed, records);
        const plan = planFlush(PREFIX, feed, rows);
        const back = plan.objects.flatMap((o) => {
          assert.ok(o.key.startsWith(`${PREFIX}/raw/feed=${feed}/exchange=`), o.key);
          assert.ok(!o.key.includes('/../') && !o.key.includes('//'), o.key);
          return decodeArchiveParquet(o.body);
        });
        assert.equal(back.length, records.length, 'one row per record');
        const byOffset = new Map(back.map((r) => [r.offset, r]));
        records.forEach((r, i) => {
          const got = byOffset.get(String(100 + i))!;
          assert.deepEqual(
            got.value === null ? null : [...got.value],
            r.value === null ? null : [...r.value],
          );
          assert.deepEqual(got.key === null ? null : [...got.key], r.key === null ? null : [...r.key]);
          assert.equal(got.headers.length, r.headers.length);
        });
      }),
      { numRuns: 150 },
    );
  });
});

describe('the encoder writes its columns directly', () => {
  it('gives the bytes of the encoder through apache-arrow builders, for any rows (so a replay rewrites the same sha256)', () => {
    // Empty and null bytes, empty and repeated headers, texts of any units, every feed's parse.
    const rowsArb = fc.tuple(fc.constantFrom(...ARCHIVE_FEEDS), recordsArb).map(([feed, records]) =>
      archiveRows(
        feed,
        records.map((r, i) => (i % 5 === 4 ? { ...r, key: new Uint8Array(0), headers: [] } : r)),
      ),
    );
    let nulls = 0;
    fc.assert(
      fc.property(rowsArb, (rows) => {
        if (rows.some((r) => r.value === null || r.exchange === null)) nulls++;
        assert.deepEqual(
          Buffer.from(encodeArchiveParquet(rows)).toString('base64'),
          Buffer.from(encodeArchiveParquetReference(rows)).toString('base64'),
        );
      }),
      { numRuns: 300 },
    );
    assert.ok(nulls > 20, `only ${nulls} runs with null columns`);
  });
});

describe('a rebuild reads the rows it keeps as the full decode has them', () => {
  it('keeps exactly the rows `keep` accepts, each key and value byte for byte (null and empty apart), none sharing bytes', () => {
    const bytesOf = (b: Uint8Array | null) => (b === null ? null : [...b]);
    fc.assert(
      fc.property(
        fc.constantFrom(...ARCHIVE_FEEDS),
        recordsArb,
        fc.func(fc.boolean()),
        (feed, records, keepFn) => {
          for (const o of planFlush(PREFIX, feed, archiveRows(feed, records)).objects) {
            const full = decodeArchiveParquet(o.body);
            const keep = (ex: string | null, sym: string | null, et: number | null) => keepFn(ex, sym, et);
            const want = full.filter((r) => keep(r.exchange, r.symbol, r.eventTimeMs));
            const got = decodeArchiveForReplay(o.body, keep);
            assert.equal(got.rowCount, full.length);
            assert.deepEqual(
              got.rows.map((r) => [r.offset, r.kafkaTimestampMs, r.exchange, r.symbol, r.eventTimeMs]),
              want.map((r) => [r.offset, r.kafkaTimestampMs, r.exchange, r.symbol, r.eventTimeMs]),
            );
            got.rows.forEach((r, i) => {
              assert.deepEqual(bytesOf(r.key), bytesOf(want[i]!.key), `key of ${r.offset}`);
              assert.deepEqual(bytesOf(r.value), bytesOf(want[i]!.value), `value of ${r.offset}`);
              // Buffers, as a Kafka client gives them: the rebuild's contract check takes them as they are.
              for (const b of [r.key, r.value])
                assert.ok(b === null || Buffer.isBuffer(b), `a key or value of ${r.offset} is not a Buffer`);
            });
            // No two rows' bytes overlap: overwriting every row's bytes with its index shows it.
            const all = got.rows.flatMap((r) => [r.key, r.value]).filter((b): b is Buffer => b !== null);
            all.forEach((b, i) => {
              b.fill(i & 0xff);
            });
            all.forEach((b, i) => {
              assert.ok(
                b.every((x) => x === (i & 0xff)),
                'a row shares bytes with another',
              );
            });
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

/**
 * 6,000 rows of one partition (the reader hands Arrow batches of 1,024: several batches), of
 * 5 symbols; every nullKeyEvery-th key and nullValueEvery-th value null, values padded by `pad`.
 */
function manyRows(
  feed: (typeof ARCHIVE_FEEDS)[number],
  partition: number,
  o: { nullKeyEvery?: number; nullValueEvery?: number; pad?: number },
) {
  return Array.from({ length: 6_000 }, (_, i) =>
    toArchiveRow(feed, {
      topic: `perpflow.raw.${feed}.v1`,
      partition,
      offset: String(i),
      kafkaTimestampMs: 1_764_000_000_000 + i,
      key: o.nullKeyEvery && i % o.nullKeyEvery === 0 ? null : utf8(`binanceusdm|S${i % 5}/USDT:USDT`),
      value:
        o.nullValueEvery && i % o.nullValueEvery === 0
          ? null
          : utf8(
              JSON.stringify({
                exchange: 'binanceusdm',
                symbol: `S${i % 5}/USDT:USDT`,
                eventTimeMs: 1_764_000_000_000 + i,
                ...(o.pad ? { pad: 'x'.repeat(o.pad) } : {}),
              }),
            ),
      headers: [],
    } as KafkaRecord),
  );
}

describe('a rebuild reads an object of many record batches', () => {
  it('keeps the same rows as the full decode across batch boundaries, nulls included', () => {
    const feed = ARCHIVE_FEEDS[0]!;
    const rows = manyRows(feed, 3, { nullKeyEvery: 7, nullValueEvery: 11 });
    const o = planFlush(PREFIX, feed, rows).objects.sort((a, b) => b.body.byteLength - a.body.byteLength)[0];
    // The reader hands Arrow batches of 1,024 rows: the object must span several.
    assert.ok(tableFromIPC(readParquet(o!.body).intoIPCStream()).batches.length > 2);
    const keep = (_ex: string | null, sym: string | null, et: number | null) =>
      sym === null || (et !== null && et % 3 !== 0);
    const all = decodeArchiveParquet(o!.body);
    const full = all.filter((r) => keep(r.exchange, r.symbol, r.eventTimeMs));
    const got = decodeArchiveForReplay(o!.body, keep);
    assert.equal(got.rowCount, all.length);
    assert.ok(got.rows.length > 1_024);
    assert.equal(got.rows.length, full.length);
    const bytesOf = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'));
    got.rows.forEach((r, i) => {
      const w = full[i]!;
      assert.deepEqual(
        [r.offset, r.kafkaTimestampMs, r.exchange, r.symbol, r.eventTimeMs, bytesOf(r.key), bytesOf(r.value)],
        [w.offset, w.kafkaTimestampMs, w.exchange, w.symbol, w.eventTimeMs, bytesOf(w.key), bytesOf(w.value)],
      );
    });
  });
});

describe('a rebuild reads an object in parquet-wasm’s memory', () => {
  const feed = ARCHIVE_FEEDS[0]!;
  const rows = manyRows(feed, 1, { pad: 400 });
  const body = encodeArchiveParquet(rows);

  it('frees each decoded object there: 300 decodes leave its memory as 20 did', () => {
    const keep = () => true;
    for (let i = 0; i < 20; i++) decodeArchiveForReplay(body, keep);
    const after20 = wasmMemory().buffer.byteLength;
    for (let i = 0; i < 280; i++) decodeArchiveForReplay(body, keep);
    // Each decode holds ~3 MB there until freed: 280 unfreed would grow it by ~800 MB.
    assert.equal(wasmMemory().buffer.byteLength, after20);
    const got = decodeArchiveForReplay(body, keep);
    assert.equal(got.rows.length, 6_000);
    assert.equal(
      new TextDecoder().decode(got.rows[5_999]!.value!),
      new TextDecoder().decode(rows[5_999]!.value!),
    );
  });

  it('reads by views only arrays that start at their buffers’ start', () => {
    const table = tableFromIPC(readParquet(body).intoIPCStream());
    assert.ok(table.batches.length > 2);
    assert.equal(viewsReadable(table), true);
    assert.equal(viewsReadable(table.slice(1)), false);
    assert.equal(viewsReadable(table.slice(0, 10)), true);
  });
});

describe('Utf8Texts', () => {
  it('gives the decoded text of any bytes, reusing it only for equal bytes', () => {
    const texts = new Utf8Texts();
    const decoder = new TextDecoder();
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 6 }), { maxLength: 200 }), (list) => {
        for (const b of list) assert.equal(texts.textOf(b), decoder.decode(b));
      }),
    );
    // The text of a slice, compared in place: equal to the slice's, whatever bytes surround it.
    const inPlace = new Utf8Texts();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.nat(12), fc.nat(12)), { maxLength: 200 }),
        (list) => {
          for (const [b, x, y] of list) {
            const [start, end] = [Math.min(x, y, b.length), Math.min(Math.max(x, y), b.length)];
            assert.equal(inPlace.textIn(b, start, end), decoder.decode(b.subarray(start, end)));
          }
        },
      ),
    );
    assert.equal(texts.textOf(utf8('binanceusdm|BTC/USDT:USDT')), 'binanceusdm|BTC/USDT:USDT');
    assert.equal(texts.textOf(utf8('binanceusdm|BTC/USDT:USDU')), 'binanceusdm|BTC/USDT:USDU');
  });
});
