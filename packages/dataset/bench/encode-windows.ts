/**
 * encodeBarsToParquet as the windower calls it: W windows of 1,440 rows (one symbol-day
 * each), then one file of all W × 1,440 rows; rows/s wall and per CPU-second.
 * Profile: node --cpu-prof --conditions=@perpflow/source --import tsx bench/encode-windows.ts
 * Run: npm run bench:windows -w @perpflow/dataset [-- <windows> <repeats>]
 */
import type { AlignedBar } from '@perpflow/contracts';
import { encodeBarsToParquet } from '../src/parquet/encode.js';
import { makeBars } from '../src/test-support/bars.js';

const windowCount = Number(process.argv[2] ?? 300);
const repeats = Number(process.argv[3] ?? 2);
const windows: AlignedBar[][] = Array.from({ length: windowCount }, (_, i) =>
  makeBars({ count: 1_440, symbol: `S${i}/USDT:USDT`, seed: i + 1 }),
);
const rows = windowCount * 1_440;
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const fmt = (v: number) => Math.round(v).toLocaleString('en');

function measure(label: string, run: () => number): void {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const bytes = run();
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  console.log(
    `${label}: ${fmt(rows / s)} rows/s, ${fmt(rows / cpu)} rows/CPU-s, ${(bytes / rows).toFixed(2)} B/row, ` +
      `rss ${(process.memoryUsage().rss / 1_048_576).toFixed(0)} MiB`,
  );
}

for (let r = 1; r <= repeats; r++) {
  measure(`run ${r} per window (${windowCount} × 1,440)`, () => {
    let bytes = 0;
    for (const w of windows) bytes += encodeBarsToParquet(w).byteLength;
    return bytes;
  });
}
if (process.env.ONE_FILE !== '0') {
  const all = windows.flat();
  for (let r = 1; r <= repeats; r++)
    measure(`run ${r} one file (${fmt(rows)} rows)`, () => encodeBarsToParquet(all).byteLength);
}
