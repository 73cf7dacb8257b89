#!/usr/bin/env node
// Runs node's test runner over TypeScript test files, one node process per file, and
// counts every verdict.
// Usage: node scripts/node-test.mjs [--concurrency N] [--topics-per-file] [--durations F] [--stagger-ms N] [--first F]... <dir|file>... [-- extra node --test args]
// Files: every *.test.ts below each dir (node_modules and dist skipped), sorted.
// --topics-per-file: each file's process gets KAFKA_TOPIC_PREFIX=t.<dir>.<name>. (test/e2e/aligner.test.ts:
// t.e2e.aligner.), which the services it starts inherit: its pipeline topics are its own, so
// files that run at once never consume each other's records (test/src/harness.ts TOPICS).
// --durations F: a JSON object of file (relative to the working directory) → seconds; files
// start slowest first, those not in F before them (order only: with several at a time, a
// long file started last would end the run alone). Every run writes what it measured as
// $PERPFLOW_TEST_RESULTS/durations-<package><suffix>.json, the same shape, to refresh F from.
// --first F (repeatable; F is one of the files, relative to the working directory): F runs
// before every file not named so, which start only when all of them have ended (the named
// ones run at once, up to N). For files that stop a server the others use: the integration
// files stack-kafka and stack-redis restart the stack's broker and Redis, and the other
// integration files then run several at a time.
// --stagger-ms N: the first files start N ms apart (the k-th slot's first file after k × N ms),
// later ones as soon as a slot is free. The end-to-end files each create their topics and
// start several services at their beginning: started together, with the fault files' and
// the demo's own servers starting too, they held the run queue at 100-226 on 2 cores for
// about three minutes, and start-up bounds (a broker's 90 s, an ApiVersions request) ran out.
//
// Why one process per file with --test-isolation=none: with process isolation,
// --test-force-exit loses verdicts on their way from the file's child to the parent
// (nodejs/node#64833: align counted 45 of its 50 tests with exit 0). In-process the
// reporters see every event before the forced exit. Force-exit stays, so a test that
// leaves a socket open cannot hang the suite.
//
// Honesty check: scripts/count-reporter.mjs marks its count file complete only when the
// run's event stream has ended. A file whose report is missing or incomplete, or whose
// process failed with no failing test, counts as a failure naming the file.
//
// Counts: one JSON line {"passed","failed","skipped","todo","failures","files"} at
// $PERPFLOW_TEST_RESULTS/<package><suffix>.json when that is set (scripts/test-summary.mjs
// sums them), and a closing line on stdout either way.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const args = process.argv.slice(2);
const sep = args.indexOf('--');
const extra = sep >= 0 ? args.slice(sep + 1) : [];
const roots = sep >= 0 ? args.slice(0, sep) : args;
let concurrency = Math.max(1, availableParallelism() - 1);
const paths = [];
let topicsPerFile = false;
let durationsFile = null;
let staggerMs = 0;
const first = [];
for (let i = 0; i < roots.length; i++) {
  if (roots[i] === '--topics-per-file') topicsPerFile = true;
  else if (roots[i] === '--stagger-ms') {
    staggerMs = Number.parseInt(roots[++i] ?? '', 10);
    if (!(staggerMs >= 0)) {
      console.error(`node-test: --stagger-ms takes a whole number of milliseconds >= 0, got "${roots[i]}"`);
      process.exit(2);
    }
  } else if (roots[i] === '--first') {
    const f = roots[++i];
    if (!f) {
      console.error('node-test: --first takes a test file');
      process.exit(2);
    }
    first.push(resolve(f));
  } else if (roots[i] === '--durations') {
    durationsFile = roots[++i];
    if (!durationsFile) {
      console.error('node-test: --durations takes a JSON file of file → seconds');
      process.exit(2);
    }
  } else if (roots[i] === '--concurrency') {
    concurrency = Number.parseInt(roots[++i] ?? '', 10);
    if (!(concurrency >= 1)) {
      console.error(`node-test: --concurrency takes a whole number >= 1, got "${roots[i]}"`);
      process.exit(2);
    }
  } else paths.push(roots[i]);
}
const files = [];
function walk(p) {
  const st = statSync(p);
  if (st.isFile()) return void (p.endsWith('.test.ts') && files.push(p));
  for (const name of readdirSync(p)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    walk(join(p, name));
  }
}
for (const p of paths.length ? paths : ['src']) walk(resolve(p));
files.sort();
if (files.length === 0) {
  console.error(`node-test: no *.test.ts files under ${paths.join(' ')}`);
  process.exit(1);
}
if (durationsFile) {
  let known;
  try {
    known = JSON.parse(readFileSync(durationsFile, 'utf8'));
  } catch (err) {
    console.error(`node-test: --durations ${durationsFile}: ${err.message}`);
    process.exit(2);
  }
  const secondsOf = (f) => known[relative(process.cwd(), f)] ?? Number.POSITIVE_INFINITY;
  files.sort((a, b) => secondsOf(b) - secondsOf(a) || (a < b ? -1 : 1));
}
for (const f of first)
  if (!files.includes(f)) {
    console.error(`node-test: --first ${relative(process.cwd(), f)} is not among the test files`);
    process.exit(2);
  }
const measured = {};

/** t.<parent dir>.<file name without .test.ts>. : Kafka topic characters only. */
function topicPrefixOf(file) {
  const parts = file.split(/[\\/]/);
  const name = parts.at(-1).replace(/\.test\.ts$/, '');
  return `t.${parts.at(-2)}.${name}.`.replace(/[^A-Za-z0-9._-]/g, '_');
}

const reporter = new URL('./count-reporter.mjs', import.meta.url).href;
const countsDir = mkdtempSync(join(tmpdir(), 'perpflow-node-test-'));
const total = { passed: 0, failed: 0, skipped: 0, todo: 0, failures: [], files: files.length };

function runFile(file, index) {
  const countFile = join(countsDir, `${index}.json`);
  const nodeArgs = [
    '--conditions=@perpflow/source',
    '--import',
    'tsx',
    '--test',
    '--test-isolation=none',
    '--test-force-exit',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${reporter}`,
    // A file, not /dev/null: force-exit fsyncs reporter destinations, and /dev/null
    // refuses fsync (EINVAL) on Node 24.
    `--test-reporter-destination=${countFile}.out`,
    ...extra,
    file,
  ];
  // One file at a time streams straight through; in parallel each file's output is
  // kept and printed whole when it ends, so files do not interleave.
  const streamed = concurrency === 1;
  return new Promise((done) => {
    const child = spawn(process.execPath, nodeArgs, {
      stdio: streamed ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PERPFLOW_COUNT_FILE: countFile,
        ...(topicsPerFile ? { KAFKA_TOPIC_PREFIX: topicPrefixOf(file) } : {}),
      },
    });
    const chunks = [];
    if (!streamed) {
      child.stdout.on('data', (c) => chunks.push(c));
      child.stderr.on('data', (c) => chunks.push(c));
    }
    const startedAt = Date.now();
    child.on('close', (code, signal) => {
      measured[relative(process.cwd(), file)] = Math.round((Date.now() - startedAt) / 1000);
      if (!streamed) process.stdout.write(Buffer.concat(chunks));
      done({ file, code, signal, countFile });
    });
  });
}

function account({ file, code, signal, countFile }) {
  const name = relative(process.cwd(), file);
  let c = null;
  try {
    c = JSON.parse(readFileSync(countFile, 'utf8'));
  } catch {}
  if (c) {
    for (const k of ['passed', 'failed', 'skipped', 'todo']) total[k] += c[k];
    total.failures.push(...c.failures);
  }
  const how = signal ? `signal ${signal}` : `exit code ${code}`;
  if (!c?.complete) {
    total.failed++;
    total.failures.push(
      `${name}: no complete report (${how}; ${c ? `${c.passed + c.failed} verdicts seen` : 'no count file'})`,
    );
  } else if ((code !== 0 || signal) && c.failed === 0) {
    total.failed++;
    total.failures.push(`${name}: the process ended with ${how} and no failing test`);
  } else if (c.passed + c.failed + c.skipped + c.todo === 0) {
    total.failed++;
    total.failures.push(`${name}: ran no test`);
  }
}

async function runAll(batch) {
  const queue = batch.map((f) => [f, files.indexOf(f)]);
  async function worker(slot) {
    if (slot > 0 && staggerMs > 0) await new Promise((r) => setTimeout(r, slot * staggerMs));
    for (let next = queue.shift(); next; next = queue.shift()) account(await runFile(next[0], next[1]));
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, batch.length) }, (_, slot) => worker(slot)));
}
if (first.length > 0) await runAll(files.filter((f) => first.includes(f)));
await runAll(files.filter((f) => !first.includes(f)));
rmSync(countsDir, { recursive: true, force: true });

const resultsDir = process.env.PERPFLOW_TEST_RESULTS;
if (resultsDir) {
  const pkg = (process.env.npm_package_name ?? 'tests').replace(/[^a-z0-9._-]+/gi, '_');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    join(resultsDir, `${pkg}${process.env.PERPFLOW_TEST_SUFFIX ?? ''}.json`),
    `${JSON.stringify(total)}\n`,
  );
  const slowestFirst = Object.entries(measured).sort((a, b) => b[1] - a[1]);
  writeFileSync(
    join(resultsDir, `durations-${pkg}${process.env.PERPFLOW_TEST_SUFFIX ?? ''}.json`),
    `${JSON.stringify(Object.fromEntries(slowestFirst), null, 2)}\n`,
  );
}
for (const f of total.failures) console.log(`node-test: failed: ${f}`);
console.log(
  `node-test: ${files.length} files: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped, ${total.todo} todo`,
);
process.exit(total.failed > 0 ? 1 : 0);
