import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from './node-flags.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SERVICES = ['exchange-ingest', 'exchange-sim', 'aligner', 'windower', 'monitor', 'archiver'];

/** Launchers that cannot import the constant (npm scripts, shell, the image) must still say the same. */
describe('SERVICE_NODE_FLAGS', () => {
  const flags = SERVICE_NODE_FLAGS.join(' ');
  it('caps the young generation', () => {
    assert.deepEqual(SERVICE_NODE_FLAGS, ['--max-semi-space-size=16']);
  });
  for (const service of SERVICES)
    it(`is in the npm start script of services/${service}`, () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'services', service, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      };
      // After the SERVICE_ENV assignments.
      assert.match(pkg.scripts.start ?? '', new RegExp(`^([A-Z_]+=\\S+ )*node ${flags} `));
    });
  it('comes first in the `perpflow` command (its own flags override it)', () => {
    assert.match(
      readFileSync(join(ROOT, 'services/windower/bin/perpflow.mjs'), 'utf8'),
      new RegExp(`\\[\\s*'${flags}',\\s*\\.\\.\\.process\\.execArgv,`),
    );
  });
  it("is in scripts/demo.sh's service launcher and the image's command", () => {
    assert.match(
      readFileSync(join(ROOT, 'scripts/demo.sh'), 'utf8'),
      new RegExp(`exec env ([A-Z_]+=\\S+ )*"\\$@" node ${flags} `),
    );
    const cmd = readFileSync(join(ROOT, 'infra/docker/service.Dockerfile'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CMD '));
    assert.equal(cmd, `CMD ["node", ${SERVICE_NODE_FLAGS.map((f) => `"${f}"`).join(', ')}, "dist/main.js"]`);
  });
  it('is spread by the test harness, the benches and the reprocess workers `perpflow reprocess` starts', () => {
    for (const file of [
      'test/src/harness.ts',
      'services/exchange-ingest/bench/local-run.ts',
      'bench/src/sections/reprocess.ts',
      'services/aligner/src/reprocess/cli.ts',
    ])
      assert.match(readFileSync(join(ROOT, file), 'utf8'), /\.\.\.SERVICE_NODE_FLAGS,/, file);
  });
});

describe('SERVICE_ENV', () => {
  const assignments = Object.entries(SERVICE_ENV).map(([k, v]) => `${k}=${v}`);
  it('caps the malloc arenas and keeps large blocks mapped', () => {
    assert.deepEqual(SERVICE_ENV, { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' });
  });
  for (const service of SERVICES)
    it(`is in the npm start script of services/${service}`, () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'services', service, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      };
      assert.ok(pkg.scripts.start?.startsWith(`${assignments.join(' ')} node `), pkg.scripts.start);
    });
  it("is in scripts/demo.sh's service launcher, the image and the `perpflow` command", () => {
    assert.match(
      readFileSync(join(ROOT, 'scripts/demo.sh'), 'utf8'),
      new RegExp(`exec env ${assignments.join(' ')} "\\$@" node `),
    );
    const image = readFileSync(join(ROOT, 'infra/docker/service.Dockerfile'), 'utf8');
    for (const a of assignments) assert.match(image, new RegExp(`^    ${a}( \\\\)?$`, 'm'), a);
    const bin = readFileSync(join(ROOT, 'services/windower/bin/perpflow.mjs'), 'utf8');
    for (const [k, v] of Object.entries(SERVICE_ENV)) assert.ok(bin.includes(`${k}: '${v}'`), k);
  });
  it('is spread, under the environment, by the test harness, the benches and `perpflow reprocess`', () => {
    for (const file of [
      'test/src/harness.ts',
      'services/exchange-ingest/bench/local-run.ts',
      'bench/src/sections/reprocess.ts',
      'services/aligner/src/reprocess/cli.ts',
    ])
      assert.match(readFileSync(join(ROOT, file), 'utf8'), /\.\.\.SERVICE_ENV,/, file);
  });
});
