import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { AlignedBar } from '@perpflow/contracts';
import { makeBars } from '../test-support/bars.js';
import { encodeBarsToParquet, encodeBarsToParquetStream } from './encode.js';

/** Files written here must read back correctly in the tools batch jobs use. */
const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..', '..');
const repoDir = join(packageDir, '..', '..');

const bars: AlignedBar[] = [
  ...makeBars({ count: 1440, seed: 21 }),
  ...makeBars({ count: 1440, seed: 22, exchange: 'bybit', symbol: 'ETH/USDT:USDT' }),
];
const sum = (f: (b: AlignedBar) => number | null) => bars.reduce((s, b) => s + (f(b) ?? 0), 0);
const expected = {
  rows: bars.length,
  nullOpenInterest: bars.filter((b) => b.openInterest === null).length,
  sumClose: sum((b) => b.close),
  sumOpenInterest: sum((b) => b.openInterest),
  sumLiqCount: sum((b) => b.liqCount),
  filled: bars.filter((b) => b.candleFilled).length,
  // Times are delta-encoded: their sums check every decoded value, nulls included.
  sumTsMs: sum((b) => b.eventTimeMs),
  sumKnownAtMs: sum((b) => b.knownAtMs),
  sumOpenInterestTsMs: sum((b) => b.openInterestTimeMs),
  nullOpenInterestTs: bars.filter((b) => b.openInterestTimeMs === null).length,
};
const TIME_COLUMNS = ['ts', 'open_interest_ts', 'funding_ts', 'predicted_funding_ts', 'known_at'];

/** The same rows written whole (one row group) and streamed in row groups of 1,000. */
const FILES = [
  { label: 'one row group', name: 'bars.parquet', rowGroups: 1 },
  { label: 'streamed, 3 row groups', name: 'streamed.parquet', rowGroups: 3 },
] as const;

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'perpflow-dataset-'));
  writeFileSync(join(dir, 'bars.parquet'), encodeBarsToParquet(bars));
  const parts: Uint8Array[] = [];
  for await (const part of await encodeBarsToParquetStream(bars, { rowGroupRows: 1_000 })) parts.push(part);
  writeFileSync(join(dir, 'streamed.parquet'), Buffer.concat(parts));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

for (const f of FILES)
  describe(`read-back with DuckDB (${f.label})`, () => {
    it('sees TIMESTAMP WITH TIME ZONE, DOUBLE with NULLs, INTEGER, BOOLEAN and equal sums', async () => {
      const db = await (await DuckDBInstance.create(':memory:')).connect();
      const path = join(dir, f.name).replaceAll("'", "''");
      const types = Object.fromEntries(
        (await db.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`))
          .getRowObjectsJS()
          .map((r) => [String(r.column_name), String(r.column_type)]),
      );
      assert.equal(types.ts, 'TIMESTAMP WITH TIME ZONE');
      assert.equal(types.known_at, 'TIMESTAMP WITH TIME ZONE');
      assert.equal(types.open_interest_ts, 'TIMESTAMP WITH TIME ZONE');
      assert.equal(types.open_interest, 'DOUBLE');
      assert.equal(types.funding_rate, 'DOUBLE');
      assert.equal(types.liq_count, 'INTEGER');
      assert.equal(types.revision, 'INTEGER');
      assert.equal(types.candle_filled, 'BOOLEAN');
      assert.equal(types.symbol, 'VARCHAR');

      const [agg] = (
        await db.runAndReadAll(`
        SELECT count(*)::BIGINT AS n,
               count(*) FILTER (WHERE open_interest IS NULL)::BIGINT AS null_oi,
               sum(close) AS sum_close, sum(open_interest) AS sum_oi,
               sum(liq_count)::BIGINT AS sum_liq, count(*) FILTER (WHERE candle_filled)::BIGINT AS filled,
               min(epoch_ms(ts))::BIGINT AS min_ts,
               sum(epoch_ms(ts))::BIGINT AS sum_ts, sum(epoch_ms(known_at))::BIGINT AS sum_known_at,
               sum(epoch_ms(open_interest_ts))::BIGINT AS sum_oi_ts,
               count(*) FILTER (WHERE open_interest_ts IS NULL)::BIGINT AS null_oi_ts
        FROM read_parquet('${path}')`)
      ).getRowObjectsJS() as [Record<string, unknown>];
      assert.equal(Number(agg.n), expected.rows);
      assert.equal(Number(agg.null_oi), expected.nullOpenInterest);
      assert.ok(close(Number(agg.sum_close), expected.sumClose));
      assert.ok(close(Number(agg.sum_oi), expected.sumOpenInterest));
      assert.equal(Number(agg.sum_liq), expected.sumLiqCount);
      assert.equal(Number(agg.filled), expected.filled);
      assert.equal(Number(agg.min_ts), bars[0]!.eventTimeMs);
      assert.equal(Number(agg.sum_ts), expected.sumTsMs);
      assert.equal(Number(agg.sum_known_at), expected.sumKnownAtMs);
      assert.equal(Number(agg.sum_oi_ts), expected.sumOpenInterestTsMs);
      assert.equal(Number(agg.null_oi_ts), expected.nullOpenInterestTs);

      const kv = (
        await db.runAndReadAll(
          `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${path}')`,
        )
      ).getRowObjectsJS();
      const ours = kv.find((r) => r.k === 'perpflow');
      assert.ok(ours, 'perpflow metadata key present');
      assert.equal(JSON.parse(String(ours.v)).schema, 'aligned_bar/v1');
    });
  });

for (const f of FILES)
  describe(`read-back with pyarrow (${f.label})`, () => {
    it('sees tz-aware millisecond timestamps, nullable doubles, int32, bools, ZSTD and equal sums', () => {
      // Fails (not skips) when the venv cannot be made: this check is part of the contract.
      execFileSync('bash', [join(packageDir, 'scripts', 'ensure-pyarrow-venv.sh')], { stdio: 'inherit' });
      const out = JSON.parse(
        execFileSync(
          join(repoDir, '.venv', 'bin', 'python'),
          [join(here, 'read_back.py'), join(dir, f.name)],
          {
            encoding: 'utf8',
          },
        ),
      ) as Record<string, unknown> & {
        types: Record<string, string>;
        nullable: Record<string, boolean>;
        parquet_logical: Record<string, string>;
        encodings: Record<string, string[]>;
        metadata: Record<string, string>;
      };
      assert.equal(out.rows, expected.rows);
      assert.equal(out.row_groups, f.rowGroups);
      assert.equal(out.types.ts, 'timestamp[ms, tz=UTC]');
      assert.equal(out.types.known_at, 'timestamp[ms, tz=UTC]');
      assert.equal(out.types.funding_ts, 'timestamp[ms, tz=UTC]');
      assert.equal(out.ts_tz, 'UTC');
      assert.equal(out.types.open_interest, 'double');
      assert.equal(out.nullable.open_interest, true);
      assert.equal(out.nullable.close, false);
      assert.equal(out.types.liq_count, 'int32');
      assert.equal(out.types.candle_filled, 'bool');
      assert.equal(out.types.symbol, 'string');
      assert.match(out.parquet_logical.ts!, /Timestamp\(isAdjustedToUTC=true, timeUnit=milliseconds/);
      assert.deepEqual(out.compression, ['ZSTD']);
      for (const c of TIME_COLUMNS) assert.ok(out.encodings[c]!.includes('DELTA_BINARY_PACKED'), c);
      assert.deepEqual(out.encodings.close, ['PLAIN', 'RLE']);
      assert.equal(out.sum_ts_ms, expected.sumTsMs);
      assert.equal(out.sum_known_at_ms, expected.sumKnownAtMs);
      assert.equal(out.sum_open_interest_ts_ms, expected.sumOpenInterestTsMs);
      assert.equal(out.null_open_interest_ts, expected.nullOpenInterestTs);
      assert.equal(out.ts_sorted, true);
      assert.equal(out.first_ts_iso, '2024-03-01T00:00:00+00:00');
      assert.equal(out.null_open_interest, expected.nullOpenInterest);
      assert.ok(close(out.sum_close as number, expected.sumClose));
      assert.ok(close(out.sum_open_interest as number, expected.sumOpenInterest));
      assert.equal(out.sum_liq_count, expected.sumLiqCount);
      assert.equal(out.filled, expected.filled);
      assert.deepEqual(out.symbols, ['BTC/USDT:USDT', 'ETH/USDT:USDT']);
      assert.equal(JSON.parse(out.metadata.perpflow!).schema, 'aligned_bar/v1');
      assert.match(String(out.created_by), /^@perpflow\/dataset /);
    });
  });
