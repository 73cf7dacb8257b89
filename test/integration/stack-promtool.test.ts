/**
 * The monitoring configs in the repo are valid for the tools that will load them:
 * promtool (Prometheus config, rules, rule unit tests) and amtool (Alertmanager config).
 * Needs only the Debian packages (npm run setup), not a running stack.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROM = join(ROOT, 'infra', 'prometheus');

function tool(cmd: string, ...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const ruleFiles = readdirSync(join(PROM, 'rules'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join('infra', 'prometheus', 'rules', f));

describe('stack: promtool and amtool accept the repo configs', () => {
  it('promtool check config infra/prometheus/prometheus.yml', () => {
    const r = tool('promtool', 'check', 'config', 'infra/prometheus/prometheus.yml');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: infra\/prometheus\/prometheus\.yml is valid prometheus config file syntax/);
    assert.match(r.out, new RegExp(`SUCCESS: ${ruleFiles.length} rule files found`));
  });

  it('promtool check rules infra/prometheus/rules/*.yml', () => {
    assert.ok(ruleFiles.length >= 1);
    const r = tool('promtool', 'check', 'rules', ...ruleFiles);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.match(/SUCCESS: \d+ rules found/g)?.length, ruleFiles.length, r.out);
    assert.doesNotMatch(r.out, /FAILED/);
  });

  it('promtool test rules: every rule file has unit tests and they pass', () => {
    const tests = readdirSync(join(PROM, 'tests'))
      .filter((f) => f.endsWith('.test.yml'))
      .map((f) => join('infra', 'prometheus', 'tests', f));
    // targets.yml ↔ targets.test.yml, slas.yml ↔ slas.test.yml, …
    assert.deepEqual(
      tests.map((t) => t.replace(/^.*\//, '').replace('.test.yml', '')).sort(),
      ruleFiles.map((f) => f.replace(/^.*\//, '').replace('.yml', '')).sort(),
    );
    const r = tool('promtool', 'test', 'rules', ...tests);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.match(/^ {2}SUCCESS$/gm)?.length, tests.length, r.out);
    assert.doesNotMatch(r.out, /FAILED/);
  });

  it('routes each severity the rules use to its webhook receiver (amtool config routes test)', () => {
    for (const severity of ['critical', 'warning']) {
      const r = tool(
        'amtool',
        'config',
        'routes',
        'test',
        '--config.file=infra/alertmanager/alertmanager.yml',
        `severity=${severity}`,
        'alertname=FeedStale',
      );
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`^webhook-${severity}$`, 'm'));
    }
  });

  it('amtool check-config infra/alertmanager/alertmanager.yml', () => {
    const r = tool('amtool', 'check-config', 'infra/alertmanager/alertmanager.yml');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
    assert.match(r.out, /2 receivers/);
  });
});
