// scripts/node-test.mjs is what every count in `npm test` comes from: these run it on
// small generated test files and check that it counts every verdict, and that a report
// cut short fails the run instead of being counted as fewer tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../src/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'perpflow-runner-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  todo: number;
  failures: string[];
  files: number;
}

function run(
  files: Record<string, string>,
  ...flags: string[]
): { status: number | null; out: string; counts: Counts; durations: Record<string, number> } {
  const sub = mkdtempSync(join(dir, 'case-'));
  // {rel} in a file: the case folder as node-test.mjs names its files (relative to test/);
  // {sub} in a flag: its absolute path.
  const rel = relative(join(ROOT, 'test'), sub);
  for (const [name, body] of Object.entries(files))
    writeFileSync(join(sub, name), body.replaceAll('{rel}', rel));
  const results = join(sub, 'results');
  const args = flags.map((f) => f.replaceAll('{sub}', sub));
  const res = spawnSync(process.execPath, [join(ROOT, 'scripts/node-test.mjs'), ...args, sub], {
    cwd: join(ROOT, 'test'),
    encoding: 'utf8',
    env: {
      ...process.env,
      PERPFLOW_TEST_RESULTS: results,
      PERPFLOW_TEST_SUFFIX: '',
      npm_package_name: 'case',
    },
  });
  const counts = JSON.parse(readFileSync(join(results, 'case.json'), 'utf8')) as Counts;
  const durations = JSON.parse(readFileSync(join(results, 'durations-case.json'), 'utf8')) as Record<
    string,
    number
  >;
  return { status: res.status, out: res.stdout + res.stderr, counts, durations };
}

/**
 * A test file that prints when its process began and when its test ended (epoch ms), the
 * test holding holdMs. "began" is the process's start (performance.timeOrigin), not the
 * test's: the start-up through tsx that comes between varies by a second and more when the
 * machine is busy, and a fresh CI once saw c's test begin 2,841 ms after a's with the slots
 * 3,000 ms apart.
 */
const stamped = (word: string, holdMs: number) =>
  `import { test } from 'node:test';\ntest('${word}', async () => { console.log('began:${word}:' + Math.round(performance.timeOrigin)); await new Promise((r) => setTimeout(r, ${holdMs})); console.log('ended:${word}:' + Date.now()); });\n`;
/** File letter → the epoch ms a stamped file printed for `what` (began or ended). */
const stamps = (out: string, what: 'began' | 'ended'): Record<string, number> =>
  Object.fromEntries(
    [...out.matchAll(new RegExp(`${what}:([a-z]):(\\d+)`, 'g'))].map((m) => [m[1], Number(m[2])]),
  );

/** Runs one stamped file per letter (letter → ms it holds); every one must pass and stamp. */
function runStamped(holds: Record<string, number>, ...flags: string[]) {
  const r = run(
    Object.fromEntries(Object.entries(holds).map(([w, ms]) => [`${w}.test.ts`, stamped(w, ms)])),
    ...flags,
  );
  const letters = Object.keys(holds).sort();
  assert.equal(r.counts.passed, letters.length, r.out.slice(-2000));
  const began = stamps(r.out, 'began');
  const ended = stamps(r.out, 'ended');
  assert.deepEqual(Object.keys(began).sort(), letters, r.out.slice(-2000));
  assert.deepEqual(Object.keys(ended).sort(), letters, r.out.slice(-2000));
  return { out: r.out, began, ended };
}

const many = (n: number) =>
  `import { test } from 'node:test';\n${Array.from({ length: n }, (_, i) => `test('t${i}', () => {});`).join('\n')}\n`;

describe('scripts/node-test.mjs', () => {
  it('counts every one of 2,000 fast tests in each of three files run two at a time', () => {
    // 2,000 empty tests per file lost 0-74 verdicts per run under process isolation with
    // --test-force-exit (nodejs/node#64833); every one must be counted here.
    const r = run(
      { 'a.test.ts': many(2000), 'b.test.ts': many(2000), 'c.test.ts': many(2000) },
      '--concurrency',
      '2',
    );
    assert.equal(r.counts.passed, 6000, r.out.slice(-2000));
    assert.equal(r.counts.failed, 0);
    assert.equal(r.counts.files, 3);
    assert.equal(r.status, 0);
  });

  it('fails the run, naming the file, when a file exits before its report is complete', () => {
    const r = run({
      'cut.test.ts': `import { test } from 'node:test';\ntest('first', () => {});\ntest('exits', () => { process.exit(0); });\ntest('never', () => {});\n`,
      'fine.test.ts': many(3),
    });
    assert.equal(r.status, 1);
    // fine's 3, plus 'first' when its verdict reached the reporter before the exit.
    assert.ok(r.counts.passed === 3 || r.counts.passed === 4, r.out.slice(-2000));
    assert.equal(r.counts.failed, 1);
    assert.match(r.counts.failures.join('\n'), /cut\.test\.ts: no complete report/);
  });

  it('counts a failing test and a file that fails to load, and ends a file that leaves a server open', () => {
    const r = run({
      'fails.test.ts': `import assert from 'node:assert/strict';\nimport { test } from 'node:test';\ntest('ok', () => {});\ntest('bad', () => { assert.equal(1, 2); });\n`,
      'broken.test.ts': `import { test } from 'node:test';\nimport './does-not-exist.js';\ntest('x', () => {});\n`,
      'open.test.ts': `import { createServer } from 'node:net';\nimport { test } from 'node:test';\ntest('listens', async () => { await new Promise<void>((r) => createServer().listen(0, '127.0.0.1', r)); });\n`,
    });
    assert.equal(r.status, 1);
    assert.equal(r.counts.passed, 2, r.out.slice(-2000)); // ok, listens
    const failures = r.counts.failures.join('\n');
    assert.match(failures, /fails\.test\.ts.*bad/);
    assert.match(failures, /broken\.test\.ts/);
    assert.doesNotMatch(failures, /open\.test\.ts/);
    assert.equal(r.counts.files, 3);
  });

  it('gives each file a topic prefix of its own with --topics-per-file', () => {
    // The file's own name is in its prefix, so two files running at once never share a topic.
    const own = (name: string) =>
      `import assert from 'node:assert/strict';\nimport { test } from 'node:test';\ntest('prefix', () => { assert.match(process.env.KAFKA_TOPIC_PREFIX ?? '', /^t\\.case-[A-Za-z0-9]+\\.${name}\\.$/); });\n`;
    const r = run(
      { 'alpha.test.ts': own('alpha'), 'beta-2.test.ts': own('beta-2') },
      '--concurrency',
      '2',
      '--topics-per-file',
    );
    assert.equal(r.counts.passed, 2, r.out.slice(-2000));
    assert.equal(r.counts.failed, 0);
    assert.equal(r.status, 0);
  });

  it('starts files slowest first by --durations, unknown ones first, and writes the seconds it measured', () => {
    const says = (word: string) =>
      `import { test } from 'node:test';\ntest('${word}', () => { console.log('ran:${word}'); });\n`;
    const r = run(
      {
        'durations.json': JSON.stringify({
          '{rel}/a.test.ts': 5,
          '{rel}/c.test.ts': 90,
          '{rel}/b.test.ts': 30,
        }),
        'a.test.ts': says('a'),
        'b.test.ts': says('b'),
        'c.test.ts': says('c'),
        'd.test.ts': says('d'),
      },
      '--concurrency',
      '1',
      '--durations',
      '{sub}/durations.json',
    );
    assert.equal(r.counts.passed, 4, r.out.slice(-2000));
    assert.deepEqual(r.out.match(/ran:[a-d]/g), ['ran:d', 'ran:c', 'ran:b', 'ran:a']);
    const names = Object.keys(r.durations).map((f) => f.split('/').at(-1));
    assert.deepEqual(names.sort(), ['a.test.ts', 'b.test.ts', 'c.test.ts', 'd.test.ts']);
    assert.ok(Object.values(r.durations).every((s) => Number.isInteger(s) && s >= 0));
  });

  it('starts the first files --stagger-ms apart', () => {
    // a and b stay 4 s, so their slots are busy when the next file is due: three slots
    // 1.5 s apart take a, b and c in turn.
    const { began } = runStamped({ a: 4_000, b: 4_000, c: 0 }, '--concurrency', '3', '--stagger-ms', '1500');
    const a = began.a as number;
    assert.ok((began.b as number) - a >= 1_400, `b began ${(began.b as number) - a} ms after a`);
    assert.ok((began.c as number) - a >= 2_900, `c began ${(began.c as number) - a} ms after a`);
  });

  it('runs the --first files before every other, the others several at a time after them', () => {
    // a is first and holds 2 s, b and c 1 s: with three slots they would all begin at once
    // without --first.
    const { out, began, ended } = runStamped(
      { a: 2_000, b: 1_000, c: 1_000 },
      '--concurrency',
      '3',
      '--first',
      '{sub}/a.test.ts',
    );
    assert.ok(
      (began.b as number) >= (ended.a as number),
      `b began ${(began.b as number) - (ended.a as number)} ms after a ended`,
    );
    assert.ok(
      (began.c as number) >= (ended.a as number),
      `c began ${(began.c as number) - (ended.a as number)} ms after a ended`,
    );
    // b and c together, not one after the other.
    assert.ok(
      (began.c as number) < (ended.b as number) && (began.b as number) < (ended.c as number),
      out.slice(-2000),
    );

    const wrong = spawnSync(
      process.execPath,
      [
        join(ROOT, 'scripts/node-test.mjs'),
        '--first',
        'no-such.test.ts',
        join(ROOT, 'test/integration/test-runner.test.ts'),
      ],
      { cwd: join(ROOT, 'test'), encoding: 'utf8' },
    );
    assert.equal(wrong.status, 2, wrong.stderr);
    assert.match(wrong.stderr, /--first no-such\.test\.ts is not among the test files/);
  });
});
