/**
 * Encode/decode throughput of encodeBarsToParquet. Prints figures; not a test.
 * Run: npm run bench -w @perpflow/dataset [-- 100000 1000000]
 */
import type { AlignedBar } from '@perpflow/contracts';
import { decodeParquetToBars } from '../src/parquet/decode.js';
import { encodeBarsToParquet } from '../src/parquet/encode.js';
import { makeBars } from '../src/test-support/bars.js';

const SYMBOLS = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT', 'XRP/USDT:USDT', 'DOGE/USDT:USDT'];

function rowsOf(n: number): AlignedBar[] {
  const per = Math.ceil(n / SYMBOLS.length);
  return SYMBOLS.flatMap((symbol, i) => makeBars({ count: per, symbol, seed: i + 1 })).slice(0, n);
}

const mib = (b: number) => (b / 1_048_576).toFixed(1);
const sizes = process.argv.slice(2).map(Number);
for (const n of sizes.length ? sizes : [100_000, 1_000_000]) {
  const rows = rowsOf(n);
  for (let run = 1; run <= 2; run++) {
    const t0 = performance.now();
    const bytes = encodeBarsToParquet(rows);
    const t1 = performance.now();
    const back = decodeParquetToBars(bytes);
    const t2 = performance.now();
    if (back.length !== n) throw new Error(`read back ${back.length} rows, wrote ${n}`);
    const encS = (t1 - t0) / 1000;
    const decS = (t2 - t1) / 1000;
    console.log(
      `${n} rows run ${run}: encode ${encS.toFixed(2)} s (${Math.round(n / encS).toLocaleString('en')} rows/s), ` +
        `file ${mib(bytes.byteLength)} MiB (${(bytes.byteLength / n).toFixed(1)} B/row), ` +
        `decode ${decS.toFixed(2)} s (${Math.round(n / decS).toLocaleString('en')} rows/s), ` +
        `rss ${mib(process.memoryUsage().rss)} MiB`,
    );
  }
}
