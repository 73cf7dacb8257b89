/**
 * The README's "dataset on S3" snippets, run as written against files the windower
 * wrote: the windower consumes bars from Kafka into S3, the test copies the
 * `aligned/v1` tree into a folder named `data` (what `perpflow pull` or an
 * `aws s3 sync` gives a user), then runs the pandas/pyarrow snippet with the
 * project's .venv Python and the DuckDB SQL with DuckDB, and checks types, nulls,
 * row counts and values against the bars produced.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { AlignedBar } from '@perpflow/contracts';
import { deletePrefix, getBytes, listKeys, readStoredDataset, testS3 } from '../src/dataset-io.js';
import {
  freePort,
  ROOT,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { createTestTopic, deleteTestTopics, produceRaw, testKafka } from '../src/kafka-io.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 2, 1, 22, 0); // two daily windows
const N = 150;
const EX = 'okx';
const SYMBOLS = ['BTC/USDT:USDT', 'ETH/USDT:USDT'];

function bar(symbol: string, i: number): AlignedBar {
  const t = T0 + i * TF;
  const p = (symbol.startsWith('BTC') ? 60_000 : 3_000) + i * 1.5;
  return {
    schemaVersion: 1,
    exchange: EX,
    symbol,
    timeframe: '1m',
    eventTimeMs: t,
    open: p,
    high: p + 10,
    low: p - 10,
    close: p + 2.5,
    volume: 1 + i / 8,
    openInterest: i % 6 === 0 ? null : 70_000 + i,
    openInterestTimeMs: i % 6 === 0 ? null : t - 60_000,
    openInterestMissing: i % 6 === 0 ? 'not_observed' : null,
    fundingRate: i % 4 === 0 ? null : 0.0001,
    fundingTimeMs: i % 4 === 0 ? null : Date.UTC(2024, 2, 1, 16),
    predictedFundingRate: null,
    predictedFundingTimeMs: null,
    fundingIntervalMs: null,
    fundingRate8h: null,
    markPrice: null,
    markPriceTimeMs: null,
    indexPrice: null,
    indexPriceTimeMs: null,
    basis: null,
    liqLongNotional: i % 10 === 0 ? 500 : 0,
    liqShortNotional: 0,
    liqCount: i % 10 === 0 ? 2 : 0,
    liqPriceKind: 'bankruptcy',
    liqCompleteness: 'unknown',
    knownAtMs: t + TF + 250,
    revision: 0,
    candleFilled: i % 25 === 0,
    openInterestStale: false,
    fundingStale: false,
  };
}

/** The fenced block after `<!-- snippet: <name> … -->` in the README, exactly as a reader copies it. */
function readmeSnippet(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- snippet: ${name}\\b[^>]*-->\\s*\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m?.[1]) throw new Error(`README has no snippet ${name}`);
  return m[1];
}

describe('README dataset snippets against files the windower wrote', { timeout: 300_000 }, () => {
  const kafka = testKafka();
  const client = testS3();
  const prefix = uniqueName('e2e-snippets');
  const topic = uniqueName('e2e-snippets-aligned');
  const work = mkdtempSync(join(tmpdir(), 'windower-snippets-'));
  let windower: ServiceProcess | null = null;
  const expected = SYMBOLS.flatMap((s) => Array.from({ length: N }, (_, i) => bar(s, i)));

  before(async () => {
    execFileSync('bash', [join(ROOT, 'packages/dataset/scripts/ensure-pyarrow-venv.sh')], {
      stdio: 'inherit',
    });
    await createTestTopic(kafka, topic, 2);
    await produceRaw(
      kafka,
      topic,
      expected.map((value) => ({ exchange: EX, symbol: value.symbol, value })),
    );
    const port = await freePort();
    windower = await startService({
      name: 'windower-snippets',
      workspace: 'services/windower',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        S3_ENDPOINT: STACK.s3Endpoint,
        S3_BUCKET: STACK.s3Bucket,
        S3_PREFIX: prefix,
        WINDOWER_TOPIC: topic,
        WINDOWER_GROUP_ID: uniqueName('e2e-snippets'),
        WINDOWER_FLUSH_INTERVAL_MS: '300',
        METRICS_PORT: String(port),
      },
      readyPort: port,
      readyTimeoutMs: 90_000,
    });
    await waitFor(
      'every bar in S3',
      async () => (await readStoredDataset(client, prefix)).latest.length === expected.length,
      120_000,
      1_000,
    );
    // What a user has after `aws s3 sync s3://<bucket>/<prefix>/aligned/v1 data`.
    const head = `${prefix}/aligned/v1/`;
    for (const key of await listKeys(client, prefix))
      if (key.startsWith(head) && key.endsWith('.parquet')) {
        const file = join(work, 'data', key.slice(head.length));
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, await getBytes(client, key));
      }
  });

  after(async () => {
    if (windower) await stopService(windower);
    await deletePrefix(client, prefix);
    await deleteTestTopics(kafka, [topic]);
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the pandas/pyarrow snippet: dtypes, nulls, row count and values as produced', () => {
    // The snippet as written, then lines that report what it built (df) as JSON.
    const script = `${readmeSnippet('dataset-pandas')}
import json
print("@@" + json.dumps({
    "rows": len(df),
    "dtypes": {c: str(t) for c, t in df.dtypes.items()},
    "nulls": {c: int(n) for c, n in df.isna().sum().items()},
    "symbols": sorted(df["symbol"].unique().tolist()),
    "ts_ms": [int(v.value // 1_000_000) for v in df["ts"]],
    "close": df["close"].tolist(),
    "open_interest": [None if v != v else v for v in df["open_interest"]],
    "known_at_ms": [int(v.value // 1_000_000) for v in df["known_at"]],
    "liq_count": df["liq_count"].tolist(),
    "candle_filled": df["candle_filled"].tolist(),
}))
`;
    const out = execFileSync(join(ROOT, '.venv/bin/python'), ['-c', script], { cwd: work, encoding: 'utf8' });
    assert.match(out, /BTC\/USDT:USDT/, 'the snippet prints the tail of the frame');
    const r = JSON.parse(out.slice(out.indexOf('@@') + 2));
    const want = [...expected].sort(
      (a, b) => a.symbol.localeCompare(b.symbol) || a.eventTimeMs - b.eventTimeMs,
    );
    assert.equal(r.rows, want.length);
    assert.deepEqual(r.symbols, SYMBOLS);
    for (const c of ['ts', 'known_at', 'open_interest_ts', 'funding_ts'])
      assert.equal(r.dtypes[c], 'datetime64[ms, UTC]', c);
    for (const c of ['open', 'close', 'volume', 'open_interest', 'funding_rate'])
      assert.equal(r.dtypes[c], 'float64', c);
    assert.equal(r.dtypes.liq_count, 'int32');
    assert.equal(r.dtypes.candle_filled, 'bool');
    assert.equal(r.nulls.open_interest, want.filter((b) => b.openInterest === null).length);
    assert.equal(r.nulls.funding_rate, want.filter((b) => b.fundingRate === null).length);
    assert.equal(r.nulls.predicted_funding_rate, want.length);
    assert.equal(r.nulls.close, 0);
    assert.deepEqual(
      r.ts_ms,
      want.map((b) => b.eventTimeMs),
    );
    assert.deepEqual(
      r.close,
      want.map((b) => b.close),
    );
    assert.deepEqual(
      r.open_interest,
      want.map((b) => b.openInterest),
    );
    assert.deepEqual(
      r.known_at_ms,
      want.map((b) => b.knownAtMs),
    );
    assert.deepEqual(
      r.liq_count,
      want.map((b) => b.liqCount),
    );
    assert.deepEqual(
      r.candle_filled,
      want.map((b) => b.candleFilled),
    );
  });

  it('runs the DuckDB snippet: per-symbol counts, first/last bar, nulls and sums as produced', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      // Relative paths in DuckDB are relative to the process: point 'data/' at the folder.
      const sql = readmeSnippet('dataset-duckdb').replace("'data/", `'${join(work, 'data')}/`);
      const reader = await conn.runAndReadAll(sql);
      const types = reader.columnTypes().map((t) => t.toString());
      assert.deepEqual(reader.columnNames(), [
        'symbol',
        'bars',
        'first_bar',
        'last_bar',
        'bars_with_oi',
        'liquidations',
      ]);
      assert.equal(types[2], 'TIMESTAMP WITH TIME ZONE');
      const rows = reader.getRowObjectsJS() as Record<string, unknown>[];
      assert.deepEqual(
        rows.map((r) => [
          r.symbol,
          Number(r.bars),
          (r.first_bar as Date).getTime(),
          (r.last_bar as Date).getTime(),
          Number(r.bars_with_oi),
          Number(r.liquidations),
        ]),
        SYMBOLS.map((s) => {
          const bars = expected.filter((b) => b.symbol === s);
          return [
            s,
            bars.length,
            T0,
            T0 + (N - 1) * TF,
            bars.filter((b) => b.openInterest !== null).length,
            bars.reduce((n, b) => n + (b.liqCount ?? 0), 0),
          ];
        }),
      );
    } finally {
      conn.closeSync();
    }
  });
});
