// A node:test reporter that keeps a JSON file of counts up to date, synchronously
// on every result (so --test-force-exit cannot lose it):
// {"passed":N,"failed":N,"skipped":N,"todo":N,"failures":[...]} at $PERPFLOW_COUNT_FILE.
// scripts/test-summary.mjs sums these files into the suite's closing line.
import { writeFileSync } from 'node:fs';

export default async function* countReporter(source) {
  const file = process.env.PERPFLOW_COUNT_FILE;
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0, failures: [] };
  const save = () => file && writeFileSync(file, `${JSON.stringify(counts)}\n`);
  save();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    if (d.details?.type === 'suite') continue;
    if (d.skip) counts.skipped++;
    else if (d.todo) counts.todo++;
    else if (event.type === 'test:pass') counts.passed++;
    else {
      counts.failed++;
      counts.failures.push(`${d.file ?? ''}: ${d.name}`);
    }
    save();
  }
}
