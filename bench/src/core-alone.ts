/**
 * The aligner's pure core (contract decode, quality, align) in a process of its own, started
 * with the services' node flags as the aligner is: the records of `benchAligner` (the same
 * symbols and span, built anew here), their bars, and the first `keep` bars as the aligner's
 * bar messages in a JSON-lines file for src/produce-alone.ts. Prints one JSON line: the
 * core's figures (CoreRun) of the timed loop.
 *
 * node … src/core-alone.ts <symbols> <fromMs> <toMs> <messages.jsonl> <keep>
 * Started by sections/aligner.ts, so that the denominator of the aligner's ratio (CPU per
 * record through Kafka ÷ the core's) is measured under the same V8 flags and heap limits as
 * the aligner, in a heap holding only what the core needs (the bench process, which holds
 * the section's records and their Kafka messages, ran it with V8's defaults).
 */
import { writeFileSync } from 'node:fs';
import { barMessageLines, inProcessAlign } from './sections/aligner.js';
import { DAY_MS, rawRecords, universe } from './market-data.js';

const [symbols, fromMs, toMs, file, keep] = process.argv.slice(2).map((a, i) => (i === 3 ? a : Number(a)));
if (
  typeof file !== 'string' ||
  ![symbols, fromMs, toMs, keep].every((v) => typeof v === 'number' && Number.isSafeInteger(v))
) {
  console.error('usage: core-alone.ts <symbols> <fromMs> <toMs> <messages.jsonl> <keep>');
  process.exit(2);
}
const records = rawRecords(
  universe(symbols as number, (fromMs as number) - DAY_MS),
  fromMs as number,
  toMs as number,
);
const values = records.map((r) => Buffer.from(JSON.stringify(r.record)));
const { kept, ...run } = inProcessAlign(records, values, keep as number);
const { lines, valueBytes } = barMessageLines(kept);
writeFileSync(file, `${lines.join('\n')}\n`);
console.log(JSON.stringify({ ...run, records: records.length, messages: kept.length, valueBytes }));
