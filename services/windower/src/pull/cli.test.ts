import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseTimeFlag, USAGE_EXIT_CODE } from '../cli-common.js';
import { progressReporter, runPullCli } from './cli.js';

const GOOD = [
  '--exchange',
  'binanceusdm',
  '--symbol',
  'BTC/USDT:USDT',
  '--from',
  '2024-03-01',
  '--to',
  '2024-03-02',
  '--out',
  'unused',
];

/** Runs the CLI with `over` replacing flags of GOOD; returns its exit code and stderr. */
async function run(over: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const args = [...GOOD];
  for (const [flag, v] of Object.entries(over)) {
    const i = args.indexOf(flag);
    if (i >= 0) args[i + 1] = v;
    else args.push(flag, v);
  }
  const lines: string[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    return { code: await runPullCli(args), stderr: lines.join('\n') };
  } finally {
    console.error = error;
  }
}

describe('perpflow pull flags', () => {
  const saved = process.env.S3_ENDPOINT;
  // A flag error must never reach S3; should one, it fails against a closed port, not another stack.
  before(() => {
    process.env.S3_ENDPOINT = 'http://127.0.0.1:9';
  });
  after(() => {
    if (saved === undefined) delete process.env.S3_ENDPOINT;
    else process.env.S3_ENDPOINT = saved;
  });

  it('refuses a range beyond 2010..2100 with the usage code and the bound, without planning it', async () => {
    const { code, stderr } = await run({ '--from': '0', '--to': '8640000000000000' });
    assert.equal(code, USAGE_EXIT_CODE);
    assert.equal(USAGE_EXIT_CODE, 2);
    assert.match(
      stderr,
      /^perpflow pull: --from 0 --to 8640000000000000: range \[0, 8640000000000000\) must lie within \[2010-01-01T00:00:00\.000Z, 2100-01-01T00:00:00\.000Z\)/,
    );
  });

  it('refuses impossible calendar dates, naming the flag and value', async () => {
    for (const [flag, v, why] of [
      ['--from', '2024-02-30', 'no day 30 in 2024-02 (it has 29 days)'],
      ['--from', '2023-02-29', 'no day 29 in 2023-02 (it has 28 days)'],
      ['--to', '2024-04-31T00:00:00Z', 'no day 31 in 2024-04 (it has 30 days)'],
      ['--to', '2024-13-01', 'no month 13'],
      ['--as-of', '2024-03-01T24:00:00Z', 'hour must be 00-23, minutes and seconds 00-59'],
      ['--as-of', '2024-03-01T12:00:00', 'no zone (add Z for UTC)'],
      ['--from', 'March 1 2024', 'not a time'],
    ] as const) {
      const { code, stderr } = await run({ [flag]: v });
      assert.equal(code, USAGE_EXIT_CODE, `${flag} ${v}: ${stderr}`);
      assert.ok(stderr.startsWith(`perpflow pull: ${flag} ${v}: ${why}; give a date`), stderr);
    }
  });

  it('gives the usage code for a bad prefix or symbol, naming the flag', async () => {
    let r = await run({ '--prefix': '../x' });
    assert.equal(r.code, USAGE_EXIT_CODE, r.stderr);
    assert.match(r.stderr, /^perpflow pull: --prefix \.\.\/x: segments of \[a-z0-9\._-\]/);
    r = await run({ '--symbol': 'BTC/USDT:USDT,../../etc' });
    assert.equal(r.code, USAGE_EXIT_CODE, r.stderr);
    assert.match(r.stderr, /^perpflow pull: --symbol \.\.\/\.\.\/etc: must be a ccxt unified symbol/);
    r = await run({ '--bogus': 'x' });
    assert.equal(r.code, USAGE_EXIT_CODE, r.stderr);
  });

  it('refuses a --concurrency that is not a whole number from 1 to 64, naming the value', async () => {
    for (const v of ['0', '65', '2.5', 'eight', '1e1', '']) {
      const r = await run({ '--concurrency': v });
      assert.equal(r.code, USAGE_EXIT_CODE, `--concurrency ${v}: ${r.stderr}`);
      assert.ok(
        r.stderr.startsWith(`perpflow pull: --concurrency must be a whole number from 1 to 64, got '${v}'`),
        r.stderr,
      );
    }
  });

  it('reads dates, ISO times with a zone and epoch ms as UTC', () => {
    const T0 = Date.UTC(2024, 2, 1);
    assert.equal(parseTimeFlag('from', '2024-03-01'), T0);
    assert.equal(parseTimeFlag('from', '2024-02-29'), Date.UTC(2024, 1, 29));
    assert.equal(parseTimeFlag('from', '2024-03-01T12:30Z'), T0 + 12.5 * 3_600_000);
    assert.equal(parseTimeFlag('from', '2024-03-01T12:00:00.25+02:00'), T0 + 10 * 3_600_000 + 250);
    assert.equal(parseTimeFlag('from', '2024-03-01T00:00:00-05:30'), T0 + 5.5 * 3_600_000);
    assert.equal(parseTimeFlag('from', String(T0)), T0);
  });
});

describe('perpflow pull progress', () => {
  it('writes plain lines with rate and ETA at most every 5 s, and the last one always', () => {
    let t = 0;
    const out: string[] = [];
    const report = progressReporter(
      (x) => out.push(x),
      false,
      () => t,
    );
    for (let done = 1; done <= 20; done++) {
      t += 1_000; // one window a second
      report({ windowsDone: done, windowsTotal: 20, bytesDownloaded: done * 1_048_576, key: `k${done}` });
    }
    // Lines at 1 s (the first), 6 s, 11 s, 16 s and the final one at 20 s.
    assert.equal(out.length, 5, out.join(''));
    assert.match(
      out[2]!,
      /^pull \[#+\.+\]\s+55\.0% {2}11\/20 windows {2}1\.0 windows\/s {2}ETA 9s {2}11\.0 MiB\n$/,
    );
    assert.match(out[4]!, /100\.0% {2}20\/20 windows {2}1\.0 windows\/s {2}done {2}20\.0 MiB\n$/);
  });

  it('redraws in place on a terminal and ends the line when the pull is done', () => {
    let t = 0;
    const out: string[] = [];
    const report = progressReporter(
      (x) => out.push(x),
      true,
      () => t,
    );
    report({ windowsDone: 1, windowsTotal: 2, bytesDownloaded: 0, key: 'a' });
    t += 500;
    report({ windowsDone: 2, windowsTotal: 2, bytesDownloaded: 0, key: 'b' });
    assert.equal(out.length, 2);
    assert.ok(out.every((x) => x.startsWith('\r')));
    assert.ok(!out[0]!.endsWith('\n') && out[1]!.endsWith('\n'));
  });
});
