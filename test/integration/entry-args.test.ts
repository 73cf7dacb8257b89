import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { entryArgs, ROOT, startService } from '../src/harness.js';

/** entryArgs under a given PERPFLOW_RUN_BUILT, restored after. */
function withRunBuilt<T>(value: string | undefined, fn: () => T): T {
  const before = process.env.PERPFLOW_RUN_BUILT;
  if (value === undefined) delete process.env.PERPFLOW_RUN_BUILT;
  else process.env.PERPFLOW_RUN_BUILT = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.PERPFLOW_RUN_BUILT;
    else process.env.PERPFLOW_RUN_BUILT = before;
  }
}

describe('entryArgs: services and CLIs from their build or their sources', () => {
  it('runs the TypeScript source through tsx unless PERPFLOW_RUN_BUILT=1', () => {
    for (const v of [undefined, '0', 'true'])
      assert.deepEqual(
        withRunBuilt(v, () => entryArgs('services/windower', 'src/perpflow.ts')),
        ['--conditions=@perpflow/source', '--import', 'tsx', 'src/perpflow.ts'],
      );
  });

  it('with PERPFLOW_RUN_BUILT=1 runs dist/…js, and names a build that is missing', () => {
    if (existsSync(join(ROOT, 'services/windower/dist/perpflow.js')))
      assert.deepEqual(
        withRunBuilt('1', () => entryArgs('services/windower', 'src/perpflow.ts')),
        ['dist/perpflow.js'],
      );
    assert.throws(
      () => withRunBuilt('1', () => entryArgs('services/windower', 'src/no-such-entry.ts')),
      /services\/windower\/dist\/no-such-entry\.js does not exist: run npm run build/,
    );
    // The test workspace's own tools have no build: always their source.
    assert.deepEqual(withRunBuilt('1', () => entryArgs('.', 'test/src/write-loader-fixture.ts')).slice(-1), [
      'test/src/write-loader-fixture.ts',
    ]);
  });

  it('the build of a CLI prints what its source prints (perpflow pull --help)', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [...args, 'pull', '--help'], {
        cwd: join(ROOT, 'services/windower'),
        encoding: 'utf8',
        timeout: 60_000,
      });
    const source = run(withRunBuilt(undefined, () => entryArgs('services/windower', 'src/perpflow.ts')));
    assert.equal(source.status, 0, source.stderr);
    assert.match(source.stdout, /^usage: perpflow pull --exchange/);
    // npm test builds before it runs the tests: there the build must exist.
    const exists = existsSync(join(ROOT, 'services/windower/dist/perpflow.js'));
    if (process.env.PERPFLOW_RUN_BUILT === '1') assert.ok(exists, 'npm test built every workspace first');
    if (!exists) return;
    const built = run(withRunBuilt('1', () => entryArgs('services/windower', 'src/perpflow.ts')));
    assert.equal(built.status, 0, built.stderr);
    assert.equal(built.stdout, source.stdout);
  });
});

describe('startService: the log of a process that exits', () => {
  it('holds all its output once `exited` resolves, also what reaches the pipes after its exit', async () => {
    for (let round = 0; round < 3; round++) {
      const p = await startService({
        name: `print-and-exit-${process.pid}-${Date.now()}-${round}`,
        workspace: 'test',
        entry: 'src/print-and-exit.ts',
        args: ['2000000'],
        env: {},
        readyPort: null,
      });
      assert.equal(await p.exited, 3);
      const log = p.log();
      assert.equal(log.length, 2_000_000 + 'last line\n'.length, `round ${round}`);
      assert.ok(log.endsWith('last line\n'));
    }
  });
});
