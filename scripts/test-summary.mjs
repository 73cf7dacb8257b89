// Sums the count files written by scripts/count-reporter.mjs and prints one closing line.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const total = { passed: 0, failed: 0, skipped: 0, todo: 0 };
const failures = [];
const rows = [];
for (const name of readdirSync(dir)
  // *-table.json and durations-*.json are reports written beside the counts (the fault
  // suite's table, node-test.mjs's seconds per file), not counts.
  .filter((f) => f.endsWith('.json') && !f.endsWith('-table.json') && !f.startsWith('durations-'))
  .sort()) {
  const lines = readFileSync(join(dir, name), 'utf8').trim().split('\n').filter(Boolean);
  for (const line of lines) {
    const c = JSON.parse(line);
    for (const k of Object.keys(total)) total[k] += c[k] ?? 0;
    failures.push(...(c.failures ?? []));
    rows.push(
      `  ${name.replace(/\.json$/, '').padEnd(40)} ${String(c.passed).padStart(5)} passed ${String(c.failed).padStart(3)} failed ${String(c.skipped).padStart(3)} skipped`,
    );
  }
}
console.log(rows.join('\n'));
for (const f of failures) console.log(`  failed: ${f}`);
if (total.skipped + total.todo > 0)
  console.log(`  note: ${total.skipped} skipped, ${total.todo} todo — each must say why in its test`);
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exit(total.failed > 0 || total.passed === 0 ? 1 : 0);
