/**
 * The alert rules as the stack's Prometheus loaded them (GET /api/v1/rules): every
 * alert of infra/prometheus/rules has a severity Alertmanager routes, a summary that
 * names its series (label templates), and a runbook_url whose anchor is an entry of
 * docs/RUNBOOK.md; every rule evaluates without error. Assumes `npm run stack -- up`
 * (after editing rules: `npm run stack -- reload prometheus`).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, STACK } from '../src/harness.js';

interface Rule {
  name: string;
  type: 'alerting' | 'recording';
  query: string;
  health: string;
  lastError?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Group {
  name: string;
  file: string;
  rules: Rule[];
}

/** GitHub-style anchors of the runbook's `## ` headings. */
const anchors = new Set(
  readFileSync(join(ROOT, 'docs', 'RUNBOOK.md'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('## '))
    .map((l) => l.slice(3).trim().toLowerCase().replace(/\s+/g, '-')),
);

/** Alert names as written in the repo's rule files (`- alert: Name`). */
const alertsInRepo = new Set(
  readdirSync(join(ROOT, 'infra', 'prometheus', 'rules'))
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) =>
      [
        ...readFileSync(join(ROOT, 'infra', 'prometheus', 'rules', f), 'utf8').matchAll(
          /^\s*- alert: (\w+)$/gm,
        ),
      ].map((m) => m[1] as string),
    ),
);

describe('alert rules loaded by the stack Prometheus', () => {
  it('has every alert of the repo, each with severity, a summary naming its series and a runbook entry', async () => {
    const res = await fetch(`${STACK.prometheusUrl}/api/v1/rules?type=alert`);
    assert.equal(res.status, 200);
    const groups = ((await res.json()) as { data: { groups: Group[] } }).data.groups.filter((g) =>
      g.file.startsWith(join(ROOT, 'infra', 'prometheus', 'rules')),
    );
    const rules = groups.flatMap((g) => g.rules);
    assert.deepEqual(
      new Set(rules.map((r) => r.name)),
      alertsInRepo,
      'reload Prometheus after editing rules',
    );
    for (const name of [
      'FeedStale',
      'DriftBreach',
      'PipelineStalled',
      'DeadLetterRateHigh',
      'ConsumerLagHigh',
      'S3WriteFailures',
    ])
      assert.ok(alertsInRepo.has(name), `${name} is defined`);
    for (const r of rules) {
      assert.notEqual(r.health, 'err', `${r.name}: ${r.lastError}`);
      assert.ok(
        ['critical', 'warning'].includes(r.labels?.severity ?? ''),
        `${r.name}: severity ${r.labels?.severity}`,
      );
      const summary = r.annotations?.summary ?? '';
      assert.match(summary, /\{\{ \$labels\.\w+ \}\}/, `${r.name}: the summary names its series`);
      const url = r.annotations?.runbook_url ?? '';
      const m = /^docs\/RUNBOOK\.md#([a-z0-9-]+)$/.exec(url);
      assert.ok(m, `${r.name}: runbook_url ${url}`);
      assert.equal(m[1], r.name.toLowerCase(), `${r.name}: runbook anchor`);
      assert.ok(anchors.has(m[1] as string), `${r.name}: docs/RUNBOOK.md has ## ${r.name}`);
    }
  });
});
