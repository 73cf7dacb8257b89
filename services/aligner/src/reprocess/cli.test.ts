import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runReprocessCli } from './cli.js';

const dir = mkdtempSync(join(tmpdir(), 'perpflow-reprocess-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the command with console.error captured; none of these reach S3 or Redis. */
async function run(args: string[]): Promise<{ code: number; err: string }> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    return { code: await runReprocessCli(args), err: lines.join('\n') };
  } finally {
    console.error = original;
  }
}

const base = ['--from', '2024-03-01', '--to', '2024-03-02', '--exchange', 'binanceusdm'];

describe('perpflow reprocess: bad input stops before anything is read, naming it', () => {
  it('a missing flag, an unknown exchange, a reversed range, a bad worker count', async () => {
    for (const [args, want] of [
      [['--from', '2024-03-01', '--exchange', 'binanceusdm'], /--to is required/],
      [[...base.slice(0, 4), '--exchange', 'nasdaq'], /--exchange nasdaq: not one of binanceusdm, bybit/],
      [
        ['--from', '2024-03-02', '--to', '2024-03-01', '--exchange', 'bybit'],
        /--to 2024-03-01 must be after --from 2024-03-02/,
      ],
      [
        ['--from', '2024-02-30', '--to', '2024-03-01', '--exchange', 'bybit'],
        /--from 2024-02-30: no day 30 in 2024-02/,
      ],
      [[...base, '--workers', 'many'], /--workers many: a whole number 0-99/],
    ] as const) {
      const r = await run([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, want);
    }
  });

  it('an unreadable config file names the flag; an unknown align key names the key', async () => {
    const missing = await run([...base, '--quality-config', join(dir, 'nope.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--quality-config.*cannot read .*nope\.json as JSON/);
    const file = join(dir, 'align.json');
    writeFileSync(file, JSON.stringify({ revisionHorizonMs: 60_000, horizon: 1 }));
    const unknown = await run([...base, '--align-config', file]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /--align-config\.horizon/);
  });
});
