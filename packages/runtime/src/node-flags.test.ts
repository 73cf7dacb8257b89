import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SERVICE_ENV, SERVICE_NODE_FLAGS, SERVICE_OWN_NODE_FLAGS, serviceNodeFlags } from './node-flags.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SERVICES = ['exchange-ingest', 'exchange-sim', 'aligner', 'windower', 'monitor', 'archiver'];

/** Launchers that cannot import the constant (npm scripts, shell, the image) must still say the same. */
describe('SERVICE_NODE_FLAGS', () => {
  const flags = SERVICE_NODE_FLAGS.join(' ');
  it('caps the young generation', () => {
    assert.deepEqual(SERVICE_NODE_FLAGS, ['--max-semi-space-size=16']);
  });
  for (const service of SERVICES)
    it(`is in the npm start script of services/${service}, with the service's own flags after it`, () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'services', service, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      };
      // After the SERVICE_ENV assignments.
      assert.match(
        pkg.scripts.start ?? '',
        new RegExp(`^([A-Z_]+=\\S+ )*node ${serviceNodeFlags(service).join(' ')} --conditions`),
      );
    });
  it('comes first in the `perpflow` command (its own flags override it)', () => {
    assert.match(
      readFileSync(join(ROOT, 'services/windower/bin/perpflow.mjs'), 'utf8'),
      new RegExp(`\\[\\s*'${flags}',\\s*\\.\\.\\.process\\.execArgv,`),
    );
  });
  it("is in scripts/demo.sh's service launcher and the image's command, a service's own flags after it", () => {
    const demo = readFileSync(join(ROOT, 'scripts/demo.sh'), 'utf8');
    assert.match(
      demo,
      new RegExp(`exec env ([A-Z_]+=\\S+ )*"\\$@" node ${flags} \\$\\(own_flags "\\$name"\\) `),
    );
    // own_flags names exactly the services of SERVICE_OWN_NODE_FLAGS, with their flags.
    const own = [
      ...(/own_flags\(\) \{[^}]*\}/.exec(demo)?.[0] ?? '').matchAll(/^\s+([a-z-]+)\) echo ([^;]+) ;;$/gm),
    ];
    assert.deepEqual(
      own.map((m) => [m[1], m[2]]),
      Object.entries(SERVICE_OWN_NODE_FLAGS).map(([service, f]) => [service, f.join(' ')]),
    );
    const quoted = (fs: readonly string[]) => fs.map((f) => `"${f}"`).join(', ');
    const cmd = readFileSync(join(ROOT, 'infra/docker/service.Dockerfile'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CMD '));
    assert.equal(cmd, `CMD ["node", ${quoted(SERVICE_NODE_FLAGS)}, "dist/main.js"]`);
    // docker-compose.yml: a service with flags of its own replaces the image's command.
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    for (const service of SERVICES) {
      const block = new RegExp(`\\n  ${service}:\\n((?:    .*\\n|\\s*\\n)*)`).exec(compose)?.[1] ?? '';
      assert.ok(
        block.includes('dockerfile: infra/docker/service.Dockerfile'),
        `${service} in docker-compose.yml`,
      );
      const command = /^ {4}command: (.*)$/m.exec(block)?.[1];
      if (SERVICE_OWN_NODE_FLAGS[service] === undefined) assert.equal(command, undefined, service);
      else assert.equal(command, `["node", ${quoted(serviceNodeFlags(service))}, "dist/main.js"]`, service);
    }
  });
  it('is spread by the test harness, the benches and the reprocess workers `perpflow reprocess` starts', () => {
    // The harness starts every service: with its own flags too.
    assert.match(
      readFileSync(join(ROOT, 'test/src/harness.ts'), 'utf8'),
      /\.\.\.serviceNodeFlags\(basename\(o\.workspace\)\),/,
    );
    for (const file of [
      'services/exchange-ingest/bench/local-run.ts',
      'bench/src/sections/reprocess.ts',
      'services/aligner/src/reprocess/cli.ts',
    ])
      assert.match(readFileSync(join(ROOT, file), 'utf8'), /\.\.\.SERVICE_NODE_FLAGS,/, file);
  });
});

describe('serviceNodeFlags', () => {
  it("gives the services' flags, then a service's own (V8 takes the last value)", () => {
    assert.deepEqual(serviceNodeFlags('aligner'), ['--max-semi-space-size=16']);
    assert.deepEqual(serviceNodeFlags('archiver'), ['--max-semi-space-size=16', '--max-semi-space-size=4']);
    for (const service of Object.keys(SERVICE_OWN_NODE_FLAGS)) assert.ok(SERVICES.includes(service), service);
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
