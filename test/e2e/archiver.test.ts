/**
 * The raw archive on the real Kafka and S3: records of the four raw feeds, dead
 * letters, garbage, a tombstone and an unsafe exchange id are archived with their
 * exact bytes; every offset once; manifests match the objects; the day indexes list
 * every object; an idle partition becomes durable within the stated bound; DuckDB
 * reads an object back.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  sampleCandle,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
  schemaHeader,
  HEADERS,
} from '@perpflow/contracts';
import { buildDeadLetter, deadLetterToMessage } from '@perpflow/kafka';
import { archivedIds, type ProducedRecord, produceToPartition, readArchive } from '../src/archive-io.js';
import { deletePrefix, getBytes, testS3 } from '../src/dataset-io.js';
import { freePort, ROOT, STACK, startService, stopService, uniqueName, waitFor } from '../src/harness.js';
import { createTestTopic, deleteTestTopics, testKafka } from '../src/kafka-io.js';

const MAX_AGE_MS = 1_500;
/** ARCHIVER_MAX_OBJECT_AGE_MS + one tick (≤ 1 s) + a generous write allowance on a loaded machine. */
const DURABLE_BOUND_MS = MAX_AGE_MS + 1_000 + 5_000;

const hdr = (kind: Parameters<typeof schemaHeader>[0], i: number) => ({
  [HEADERS.schema]: Buffer.from(schemaHeader(kind)),
  'x-binary': Buffer.from([0, 255, i & 255]),
});

describe('archiver: raw feeds and dead letters to S3, byte for byte', { timeout: 300_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const prefix = uniqueName('e2e-archive');
  const topics = {
    ohlcv: uniqueName('e2e-arch-ohlcv'),
    open_interest: uniqueName('e2e-arch-oi'),
    funding: uniqueName('e2e-arch-funding'),
    liquidation: uniqueName('e2e-arch-liq'),
    dead_letter: uniqueName('e2e-arch-dlq'),
  };

  after(async () => {
    await deletePrefix(client, prefix);
    await deleteTestTopics(kafka, Object.values(topics));
  });

  it('archives every record once with its bytes, manifests and indexes complete; an idle partition within the bound', async () => {
    await createTestTopic(kafka, topics.ohlcv, 2);
    for (const t of [topics.open_interest, topics.funding, topics.liquidation, topics.dead_letter])
      await createTestTopic(kafka, t, 1);
    const produced: ProducedRecord[] = [];
    const T = Date.UTC(2024, 2, 1, 23, 58);
    const candles = (ex: string, sym: string, n: number, from: number) =>
      Array.from({ length: n }, (_, i) => {
        const t = T + (from + i) * 60_000; // crosses midnight: two day folders
        const c = sampleCandle({
          exchange: ex as never,
          symbol: sym,
          eventTimeMs: t,
          openTimeMs: t,
          receivedAtMs: t + 60_100,
          volume: i,
        });
        return { key: `${ex}|${sym}`, value: JSON.stringify(c), headers: hdr('candle', i) };
      });
    produced.push(
      ...(await produceToPartition(kafka, topics.ohlcv, 0, [
        ...candles('binanceusdm', 'BTC/USDT:USDT', 6, 0),
        { key: 'binanceusdm|BTC/USDT:USDT', value: Buffer.from([0xff, 0x00, 0xfe, 0x7b, 0x0a]), headers: {} },
        {
          key: 'x|y',
          value: JSON.stringify(sampleCandle({ exchange: '../../escape' as never, symbol: 'A/B' })),
        },
        { key: 'bybit|ETH/USDT:USDT', value: null },
        ...candles('bybit', 'ETH/USDT:USDT', 4, 0),
      ])),
      ...(await produceToPartition(kafka, topics.ohlcv, 1, candles('okx', 'SOL/USDT:USDT', 9, 0))),
      ...(await produceToPartition(
        kafka,
        topics.open_interest,
        0,
        Array.from({ length: 5 }, (_, i) => ({
          key: 'binanceusdm|BTC/USDT:USDT',
          value: JSON.stringify(sampleOpenInterest({ openInterest: 1000 + i })),
          headers: hdr('open_interest', i),
        })),
      )),
      ...(await produceToPartition(
        kafka,
        topics.funding,
        0,
        Array.from({ length: 3 }, (_, i) => ({
          key: 'bybit|BTC/USDT:USDT',
          value: JSON.stringify(sampleFunding({ exchange: 'bybit', fundingRate: 0.0001 * i })),
          headers: hdr('funding', i),
        })),
      )),
      ...(await produceToPartition(kafka, topics.liquidation, 0, [
        ...Array.from({ length: 4 }, (_, i) => ({
          key: 'binanceusdm|BTC/USDT:USDT',
          value: JSON.stringify(sampleLiquidation({ amount: 1 + i })),
          headers: hdr('liquidation', i),
        })),
        // Fails its contract (side): archived anyway, its columns still read for pruning.
        { key: 'binanceusdm|BTC/USDT:USDT', value: JSON.stringify({ ...sampleLiquidation(), side: 'up' }) },
      ])),
    );
    const letters = [0, 1].map((i) =>
      deadLetterToMessage(
        buildDeadLetter(
          {
            topic: topics.liquidation,
            partition: 0,
            offset: String(4 + i),
            key: 'binanceusdm|BTC/USDT:USDT',
            value: Buffer.from(i === 0 ? '{"side":"up"}' : '\u0000garbage'),
            headers: {},
          },
          { ruleId: `contract.rule${i}`, message: 'bad', exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT' },
          'aligner',
          T,
        ),
        'aligner',
      ),
    );
    produced.push(
      ...(await produceToPartition(
        kafka,
        topics.dead_letter,
        0,
        letters.map((m) => ({
          key: m.key as string,
          value: m.value as string,
          headers: Object.fromEntries(
            Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.from(String(v))]),
          ),
        })),
      )),
    );

    const port = await freePort();
    const env = {
      KAFKA_BROKERS: STACK.kafkaBrokers,
      S3_ENDPOINT: STACK.s3Endpoint,
      S3_BUCKET: STACK.s3Bucket,
      S3_PREFIX: prefix,
      ARCHIVER_TOPICS: Object.entries(topics)
        .map(([feed, topic]) => `${feed}=${topic}`)
        .join(','),
      ARCHIVER_GROUP_ID: uniqueName('e2e-archiver'),
      ARCHIVER_MAX_OBJECT_AGE_MS: String(MAX_AGE_MS),
      ARCHIVER_MAX_OBJECT_RECORDS: '4',
      ARCHIVER_SESSION_TIMEOUT_MS: '6000',
      METRICS_PORT: String(port),
    };
    const archiver = await startService({
      name: 'archiver-e2e',
      workspace: 'services/archiver',
      env,
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    try {
      const want = produced.map((p) => `${p.topic}/${p.partition}/${p.offset}`).sort();
      const stored = await waitFor(
        'every produced record archived',
        async () => {
          const a = await readArchive(client, prefix);
          return archivedIds(a).length >= want.length ? a : null;
        },
        120_000,
        500,
      );
      assert.deepEqual(archivedIds(stored).sort(), want, 'each produced offset archived exactly once');
      assert.deepEqual(
        stored.indexed.map((o) => o.key).sort(),
        stored.listedObjects,
        'the indexes list every object',
      );
      assert.equal(
        stored.listedManifests.length,
        stored.listedObjects.length,
        'a manifest beside each object',
      );
      for (const o of stored.indexed) {
        assert.ok(o.shaOk, `sha256 of ${o.key}`);
        assert.equal(o.manifest.object.rowCount, o.rows.length);
        assert.deepEqual(
          [o.manifest.firstOffset, o.manifest.lastOffset],
          [o.rows[0]!.offset, o.rows.at(-1)!.offset],
        );
        assert.ok(o.rows.length <= 4, 'ARCHIVER_MAX_OBJECT_RECORDS holds');
      }

      // Byte for byte: key, value and headers as produced.
      const byId = new Map(
        stored.indexed.flatMap((o) =>
          o.rows.map((r) => [`${r.topic}/${r.partition}/${r.offset}`, { r, key: o.key }]),
        ),
      );
      for (const p of produced) {
        const got = byId.get(`${p.topic}/${p.partition}/${p.offset}`)!;
        const id = `${p.topic}/${p.partition}/${p.offset}`;
        assert.deepEqual(got.r.value === null ? null : Buffer.from(got.r.value), p.value, `value of ${id}`);
        assert.deepEqual(got.r.key === null ? null : Buffer.from(got.r.key), p.key, `key of ${id}`);
        assert.deepEqual(
          Object.fromEntries(got.r.headers.map((h) => [h.name, Buffer.from(h.value ?? [])])),
          p.headers,
          `headers of ${id}`,
        );
      }

      // Hive folders: exchange and day from the record; unsafe or missing → exchange=_invalid.
      const where = (topic: string, partition: number, offset: number) =>
        byId
          .get(`${topic}/${partition}/${offset}`)!
          .key.replace(`${prefix}/raw/`, '')
          .replace(/\/[^/]+$/, '');
      assert.equal(where(topics.ohlcv, 0, 0), 'feed=ohlcv/exchange=binanceusdm/date=2024-03-01');
      assert.equal(where(topics.ohlcv, 0, 5), 'feed=ohlcv/exchange=binanceusdm/date=2024-03-02');
      for (const garbage of [6, 7, 8])
        assert.match(
          where(topics.ohlcv, 0, garbage),
          /^feed=ohlcv\/exchange=_invalid\/date=\d{4}-\d{2}-\d{2}$/,
        );
      assert.equal(
        byId.get(`${topics.ohlcv}/0/7`)!.r.exchange,
        '../../escape',
        'the column keeps what the record said',
      );
      assert.equal(where(topics.dead_letter, 0, 0), 'feed=dead_letter/exchange=binanceusdm/date=2024-03-01');
      assert.deepEqual(
        [0, 1].map((o) => byId.get(`${topics.dead_letter}/0/${o}`)!.r.ruleId),
        ['contract.rule0', 'contract.rule1'],
        'dead letters archived with their reasons',
      );
      const bad = byId.get(`${topics.liquidation}/0/4`)!.r;
      assert.match(bad.contractError ?? '', /side/);
      assert.equal(bad.exchange, 'binanceusdm');
      assert.match(byId.get(`${topics.ohlcv}/0/6`)!.r.contractError ?? '', /not valid JSON/);
      assert.match(byId.get(`${topics.ohlcv}/0/8`)!.r.contractError ?? '', /tombstone/);
      assert.ok(
        !stored.listedObjects.some((k) => !k.startsWith(`${prefix}/raw/feed=`)),
        'no key outside its prefix',
      );

      // DuckDB reads an object: the garbage bytes come back as they were produced.
      const dir = mkdtempSync(join(tmpdir(), 'archive-'));
      try {
        const garbageKey = byId.get(`${topics.ohlcv}/0/6`)!.key;
        writeFileSync(join(dir, 'o.parquet'), await getBytes(client, garbageKey));
        const db = await (await DuckDBInstance.create(':memory:')).connect();
        const rows = (
          await db.runAndReadAll(
            `SELECT "offset"::VARCHAR AS o, hex(value) AS v, exchange, len(headers) AS h FROM read_parquet('${join(dir, 'o.parquet')}') ORDER BY "offset"`,
          )
        ).getRowObjects();
        const g = rows.find((r) => r.o === '6');
        assert.equal(g?.v, 'FF00FE7B0A');
        assert.equal(g?.exchange, null);
        // pyarrow (the project's .venv): column types and the same bytes.
        execFileSync('bash', [join(ROOT, 'packages/dataset/scripts/ensure-pyarrow-venv.sh')], {
          stdio: 'inherit',
        });
        const py = execFileSync(
          join(ROOT, '.venv/bin/python'),
          [
            '-c',
            [
              'import json, sys, pyarrow.parquet as pq',
              't = pq.read_table(sys.argv[1])',
              'rows = t.to_pylist()',
              'g = [r for r in rows if r["offset"] == 6][0]',
              'print(json.dumps({"types": {f.name: str(f.type) for f in t.schema}, "value": g["value"].hex(), "contract_error": g["contract_error"]}))',
            ].join('\n'),
            join(dir, 'o.parquet'),
          ],
          { encoding: 'utf8' },
        );
        const read = JSON.parse(py) as {
          types: Record<string, string>;
          value: string;
          contract_error: string;
        };
        assert.equal(read.value, 'ff00fe7b0a');
        assert.match(read.contract_error, /not valid JSON/);
        assert.deepEqual(
          [read.types.offset, read.types.kafka_time, read.types.key, read.types.value, read.types.headers],
          [
            'int64',
            'timestamp[ms, tz=UTC]',
            'binary',
            'binary',
            'list<item: struct<name: string not null, value: binary> not null>',
          ],
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }

      // An idle partition: one record, nothing after it; durable within the stated bound.
      const [late] = await produceToPartition(kafka, topics.funding, 0, [
        { key: 'bybit|BTC/USDT:USDT', value: JSON.stringify(sampleFunding({ exchange: 'bybit' })) },
      ]);
      const sentAt = Date.now();
      await waitFor(
        'the idle partition’s record in an indexed object',
        async () =>
          archivedIds(await readArchive(client, prefix)).includes(`${late!.topic}/0/${late!.offset}`) || null,
        DURABLE_BOUND_MS + 10_000,
        200,
      );
      const took = Date.now() - sentAt;
      assert.ok(took <= DURABLE_BOUND_MS, `durable after ${took} ms, bound ${DURABLE_BOUND_MS} ms`);
    } finally {
      await stopService(archiver);
    }
  });
});
