// A node:test reporter that writes one JSON line of counts: {"file":..., "passed":N, "failed":N, "skipped":N, "todo":N}.
// Used beside the spec reporter so scripts/test.sh can print one closing line for the whole suite.
export default async function* countReporter(source) {
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0, failures: [] };
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
  }
  yield `${JSON.stringify(counts)}\n`;
}
