#!/usr/bin/env node
// Runs node's test runner over TypeScript test files (Node 20's --test takes no globs).
// Usage: node scripts/node-test.mjs [--concurrency N] <dir|file>... [-- extra node --test args]
// Files: every *.test.ts below each dir (node_modules and dist skipped), sorted.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const sep = args.indexOf('--');
const extra = sep >= 0 ? args.slice(sep + 1) : [];
const roots = sep >= 0 ? args.slice(0, sep) : args;
let concurrency = null;
const paths = [];
for (let i = 0; i < roots.length; i++) {
  if (roots[i] === '--concurrency') concurrency = roots[++i];
  else paths.push(roots[i]);
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
// --test-force-exit: a test that leaves a socket open must not hang the suite.
const nodeArgs = ['--conditions=@perpflow/source', '--import', 'tsx', '--test', '--test-force-exit'];
// With PERPFLOW_TEST_RESULTS=<dir>, counts also go to <dir>/<name>.json for the closing summary.
const resultsDir = process.env.PERPFLOW_TEST_RESULTS;
let childEnv = process.env;
if (resultsDir) {
  const name = (process.env.npm_package_name ?? 'tests').replace(/[^a-z0-9._-]+/gi, '_');
  mkdirSync(resultsDir, { recursive: true });
  const reporter = new URL('./count-reporter.mjs', import.meta.url).href;
  nodeArgs.push('--test-reporter=spec', '--test-reporter-destination=stdout');
  nodeArgs.push(`--test-reporter=${reporter}`, '--test-reporter-destination=/dev/null');
  childEnv = {
    ...process.env,
    PERPFLOW_COUNT_FILE: join(resultsDir, `${name}${process.env.PERPFLOW_TEST_SUFFIX ?? ''}.json`),
  };
}
if (concurrency) nodeArgs.push(`--test-concurrency=${concurrency}`);
const res = spawnSync(process.execPath, [...nodeArgs, ...extra, ...files], {
  stdio: 'inherit',
  env: childEnv,
});
process.exit(res.status ?? 1);
