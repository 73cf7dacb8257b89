/**
 * The README's cross-venue query ("Across venues, per base asset"), run as written by
 * DuckDB over a folder laid out as `perpflow pull` writes it: Parquet files of the
 * dataset's encoder, one per series and day, for two bases on four venues (Hyperliquid
 * without a liquidation source: null liquidations, which the sums skip). The result is
 * compared, row by row, with the same sums computed here from the bars.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  type AlignedBar,
  type ExchangeId,
  LIQUIDATION_SEMANTICS,
  OPEN_INTEREST_HISTORY,
  sampleAlignedBar,
} from '@perpflow/contracts';
import { encodeBarsToParquet, objectKey, windowStartOf } from '@perpflow/dataset';
import { ROOT } from '../src/harness.js';

const TF = 60_000;
const T0 = Date.UTC(2024, 2, 1, 23, 0); // the bars cross midnight: two day files per series
const N = 120;
const H = 3_600_000;
const SERIES: { exchange: ExchangeId; symbol: string }[] = [
  { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT' },
  { exchange: 'bybit', symbol: 'BTC/USDT:USDT' },
  { exchange: 'okx', symbol: 'BTC/USDT:USDT' },
  { exchange: 'hyperliquid', symbol: 'BTC/USDC:USDC' },
  { exchange: 'binanceusdm', symbol: 'ETH/USDT:USDT' },
  { exchange: 'bybit', symbol: 'ETH/USDT:USDT' },
];
const INTERVAL: Record<ExchangeId, number> = { binanceusdm: 8 * H, bybit: 4 * H, okx: H, hyperliquid: H };

/** Bar i of a series: values differ per venue and symbol; some open interest and funding missing. */
function bar(exchange: ExchangeId, symbol: string, i: number): AlignedBar {
  const v = ['binanceusdm', 'bybit', 'okx', 'hyperliquid'].indexOf(exchange);
  const liqSource = LIQUIDATION_SEMANTICS[exchange].completeness !== 'none';
  const close = (symbol.startsWith('BTC') ? 60_000 : 3_000) * (1 + v * 0.0003) + i * 0.5;
  const rate = (1 + v) * 0.00005 + i * 1e-7;
  const hasOi = (i + v) % 9 !== 0;
  const hasFunding = (i + v) % 13 !== 0;
  const liq = (i + 2 * v) % 7 === 0;
  const t = T0 + i * TF;
  return sampleAlignedBar({
    exchange,
    symbol,
    timeframe: '1m',
    eventTimeMs: t,
    open: close - 1,
    high: close + 2,
    low: close - 2,
    close,
    openInterest: hasOi ? 10_000 + v * 1_000 + i : null,
    openInterestTimeMs: hasOi ? t + 30_000 : null,
    openInterestMissing: hasOi ? null : OPEN_INTEREST_HISTORY[exchange] ? 'not_observed' : 'no_history',
    fundingRate: hasFunding ? rate : null,
    fundingTimeMs: hasFunding ? Math.floor(t / H) * H : null,
    fundingIntervalMs: hasFunding ? INTERVAL[exchange] : null,
    fundingRate8h: hasFunding ? (rate * 8 * H) / INTERVAL[exchange] : null,
    liqLongNotional: !liqSource ? null : liq ? 1_000 + i : 0,
    liqShortNotional: !liqSource ? null : liq ? 250 * (v + 1) : 0,
    liqCount: !liqSource ? null : liq ? 2 : 0,
    liqPriceKind: LIQUIDATION_SEMANTICS[exchange].priceKind,
    liqCompleteness: LIQUIDATION_SEMANTICS[exchange].completeness,
    knownAtMs: t + TF + 250,
    openInterestStale: !hasOi,
    fundingStale: !hasFunding,
  });
}

/** The fenced block after `<!-- snippet: <name> … -->` in the README, exactly as a reader copies it. */
function readmeSnippet(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- snippet: ${name}\\b[^>]*-->\\s*\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m?.[1]) throw new Error(`README has no snippet ${name}`);
  return m[1];
}

describe('the README cross-venue query over a pulled folder', () => {
  const work = mkdtempSync(join(tmpdir(), 'cross-venue-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('sums open interest and liquidations in USD over venues and puts each venue’s 8 h funding side by side', async () => {
    const bars = SERIES.flatMap((s) => Array.from({ length: N }, (_, i) => bar(s.exchange, s.symbol, i)));
    // The folder `perpflow pull --out data` gives: the aligned/v1 tree below `data/`.
    const days = new Map<string, AlignedBar[]>();
    for (const b of bars) {
      const key = objectKey('p', { ...b, unit: 'day', startMs: windowStartOf(b.eventTimeMs, 'day') });
      days.set(key, [...(days.get(key) ?? []), b]);
    }
    assert.equal(days.size, SERIES.length * 2, 'two day files per series');
    for (const [key, rows] of days) {
      const file = join(work, 'data', key.slice('p/aligned/v1/'.length));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, encodeBarsToParquet(rows));
    }

    const db = await (await DuckDBInstance.create(':memory:')).connect();
    await db.run(`SET file_search_path = '${work}'`);
    const rows = (await db.runAndReadAll(readmeSnippet('cross-venue'))).getRowObjectsJS();

    // The same, from the bars.
    const expected = new Map<string, Record<string, unknown>>();
    for (const b of bars) {
      const base = b.symbol.split('/')[0]!;
      const k = `${base}|${b.eventTimeMs}`;
      const e = expected.get(k) ?? {
        base,
        ts: b.eventTimeMs,
        oi: null as number | null,
        venuesWithOi: 0,
        liq: null,
        venuesWithLiq: 0,
        kinds: new Set<string>(),
        lowerBound: false,
        funding: { binanceusdm: null, bybit: null, okx: null, hyperliquid: null } as Record<
          string,
          number | null
        >,
      };
      if (b.openInterest !== null) {
        e.oi = ((e.oi as number | null) ?? 0) + b.openInterest * b.close;
        e.venuesWithOi = (e.venuesWithOi as number) + 1;
      }
      // A venue without a liquidation source contributes nothing (SUM skips its NULL), not 0.
      if (b.liqLongNotional !== null && b.liqShortNotional !== null) {
        e.liq = ((e.liq as number | null) ?? 0) + b.liqLongNotional + b.liqShortNotional;
        e.venuesWithLiq = (e.venuesWithLiq as number) + 1;
      }
      if (b.liqPriceKind !== null) (e.kinds as Set<string>).add(b.liqPriceKind);
      e.lowerBound = (e.lowerBound as boolean) || b.liqCompleteness !== 'all';
      (e.funding as Record<string, number | null>)[b.exchange] = b.fundingRate8h;
      expected.set(k, e);
    }
    assert.equal(rows.length, expected.size);
    assert.equal(rows.length, 2 * N, 'one row per base and bar time');
    let oiChecked = 0;
    for (const r of rows) {
      const ts = (r.ts as Date).getTime();
      const e = expected.get(`${r.base}|${ts}`);
      assert.ok(e, `unexpected row ${r.base} ${ts}`);
      const where = `${r.base} ${new Date(ts).toISOString()}`;
      if (e.oi === null) assert.equal(r.open_interest_usd, null, where);
      else {
        assert.ok(Math.abs((r.open_interest_usd as number) - (e.oi as number)) < 1e-6, where);
        oiChecked++;
      }
      assert.equal(Number(r.venues_with_oi), e.venuesWithOi, where);
      if (e.liq === null) assert.equal(r.liquidations_usd, null, where);
      else assert.ok(Math.abs((r.liquidations_usd as number) - (e.liq as number)) < 1e-9, where);
      assert.equal(Number(r.venues_with_liq), e.venuesWithLiq, where);
      assert.equal(r.liq_price_kinds, [...(e.kinds as Set<string>)].sort().join(','), where);
      assert.equal(r.liquidations_lower_bound, e.lowerBound, where);
      const f = e.funding as Record<string, number | null>;
      assert.equal(r.funding_8h_binanceusdm, f.binanceusdm, where);
      assert.equal(r.funding_8h_bybit, f.bybit, where);
      assert.equal(r.funding_8h_okx, f.okx, where);
      assert.equal(r.funding_8h_hyperliquid, f.hyperliquid, where);
    }
    assert.ok(oiChecked > N, `only ${oiChecked} rows had open interest`);
    const btc = rows.find(
      (r) => r.base === 'BTC' && r.funding_8h_okx !== null && r.funding_8h_bybit !== null,
    );
    assert.ok(btc, 'a BTC row with every venue’s funding');
    assert.equal(btc.liq_price_kinds, 'average_fill,bankruptcy');
    // Four BTC venues, three with a liquidation source: Hyperliquid's null is not counted.
    assert.equal(Number(btc.venues_with_liq), 3);
    assert.ok(rows.some((r) => r.base === 'BTC' && r.funding_8h_hyperliquid !== null));
  });
});
