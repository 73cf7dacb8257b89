#!/usr/bin/env node
// `perpflow <command>`: runs the TypeScript entry with tsx and the workspace source condition,
// so it works from a fresh clone without a build. Commands: see src/perpflow.ts (or run it bare).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../src/perpflow.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const r = spawnSync(
  process.execPath,
  // The services' V8 flags (SERVICE_NODE_FLAGS, packages/runtime/src/node-flags.ts), then
  // this process's own node flags, which override them (`node --max-semi-space-size=4
  // bin/perpflow.mjs reprocess-worker`: V8 flags NODE_OPTIONS refuses).
  [
    '--max-semi-space-size=16',
    ...process.execArgv,
    '--conditions=@perpflow/source',
    '--import',
    tsx,
    entry,
    ...process.argv.slice(2),
  ],
  // npm runs scripts in the workspace folder; relative paths (--out) mean the caller's folder.
  // The services' malloc settings (SERVICE_ENV) unless the environment says otherwise.
  {
    stdio: 'inherit',
    cwd: process.env.INIT_CWD ?? process.cwd(),
    env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', ...process.env },
  },
);
process.exit(r.status ?? 1);
