// A node:test reporter that keeps a JSON file of counts up to date, synchronously
// on every result: {"passed":N,"failed":N,"skipped":N,"todo":N,"failures":[...],
// (each "file: test name — first line of its error")
// "complete":bool} at $PERPFLOW_COUNT_FILE. "complete" turns true only when the run's
// event stream has ended, so scripts/node-test.mjs can tell a whole report from one
// cut short (a crash, a forced exit before the last verdicts were delivered).
import { writeFileSync } from 'node:fs';

/**
 * The first line of a failure's error (node wraps the test's own error as its cause),
 * so the summary at the end of a long run says why, not only which, test failed.
 */
function why(error) {
  const e = error?.cause ?? error;
  const text = String(e?.message ?? e ?? '')
    .split('\n')
    .find((l) => l.trim() !== '');
  if (!text) return '';
  return ` — ${text.length > 400 ? `${text.slice(0, 400)}…` : text}`;
}

export default async function* countReporter(source) {
  const file = process.env.PERPFLOW_COUNT_FILE;
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0, failures: [], complete: false };
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
      counts.failures.push(`${d.file ?? ''}: ${d.name}${why(d.details?.error)}`);
    }
    save();
  }
  counts.complete = true;
  save();
}
