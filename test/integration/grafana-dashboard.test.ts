/**
 * infra/grafana/dashboards/perpflow.json queries only metrics the services register:
 * the names are collected from each service's own registry (the same factories the
 * services call at start), and every query is accepted by the stack's Prometheus.
 * Also checks the provisioning files point at the paths docker-compose mounts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Registry } from 'prom-client';
import { createAlignerMetrics } from '../../services/aligner/src/metrics.js';
import { createArchiverMetrics } from '../../services/archiver/src/metrics.js';
import { createIngestMetrics } from '../../services/exchange-ingest/src/metrics.js';
import { createMonitorMetrics } from '../../services/monitor/src/metrics.js';
import { createWindowerMetrics } from '../../services/windower/src/metrics.js';
import { ROOT, STACK } from '../src/harness.js';

const GRAFANA = join(ROOT, 'infra', 'grafana');
const dashboard = JSON.parse(readFileSync(join(GRAFANA, 'dashboards', 'perpflow.json'), 'utf8')) as {
  uid: string;
  panels: { title: string; type: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; query?: unknown }[] };
  annotations: { list: { expr?: string }[] };
};

/** The PromQL expressions of the dashboard: panels and annotations. */
const promql: string[] = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...dashboard.annotations.list.flatMap((a) => (a.expr ? [a.expr] : [])),
];
/** …and the variables' queries (Grafana functions such as label_values around metric names). */
const queries: string[] = [
  ...promql,
  ...dashboard.templating.list.flatMap((v) =>
    typeof v.query === 'object' && v.query !== null ? [String((v.query as { query: string }).query)] : [],
  ),
];

async function registeredNames(registries: Registry[]): Promise<Set<string>> {
  const names = new Set<string>();
  for (const r of registries)
    for (const m of await r.getMetricsAsJSON()) {
      names.add(m.name);
      if (m.type === ('histogram' as unknown))
        for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    }
  return names;
}

describe('Grafana dashboard', () => {
  it('has the five sections and references only registered metrics', async () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    assert.deepEqual(rows, ['Freshness', 'Drift', 'Throughput', 'Lag', 'Dead letters']);
    assert.ok(dashboard.panels.some((p) => p.type === 'heatmap' && /freshness/i.test(p.title)));
    const registered = await registeredNames([
      createIngestMetrics().registry,
      createAlignerMetrics().registry,
      createWindowerMetrics().registry,
      createMonitorMetrics().registry,
      createArchiverMetrics().registry,
    ]);
    const referenced = new Set(queries.flatMap((q) => q.match(/\bperpflow_[a-z0-9_]+/g) ?? []));
    assert.ok(referenced.size >= 15, `${referenced.size} metrics referenced`);
    const missing = [...referenced].filter((n) => !registered.has(n));
    assert.deepEqual(missing, [], 'metrics the dashboard queries but no service registers');
    // The alert rules use them too: every perpflow_ metric of the rules is registered.
    const rules = readFileSync(join(ROOT, 'infra', 'prometheus', 'rules', 'slas.yml'), 'utf8');
    assert.deepEqual(
      [...new Set(rules.match(/\bperpflow_[a-z0-9_]+/g) ?? [])].filter((n) => !registered.has(n)),
      [],
      'metrics the alert rules use but no service registers',
    );
  });

  it('every query is valid PromQL for the stack Prometheus', async () => {
    for (const q of promql) {
      const expr = q.replaceAll('$pipeline', '.*');
      const res = await fetch(`${STACK.prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string };
      assert.equal(body.status, 'success', `${expr}: ${body.error}`);
    }
  });

  it('is provisioned from the paths docker-compose mounts, with the datasource from PROMETHEUS_URL', () => {
    const dashboards = readFileSync(join(GRAFANA, 'provisioning', 'dashboards', 'perpflow.yml'), 'utf8');
    assert.match(dashboards, /path: \/var\/lib\/grafana\/dashboards/);
    const datasources = readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
    assert.match(datasources, /type: prometheus/);
    assert.match(datasources, /url: \$\{PROMETHEUS_URL\}/);
    assert.equal(dashboard.uid, 'perpflow');
  });
});
