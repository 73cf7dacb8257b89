/**
 * The stack's Prometheus and Alertmanager with the metrics client the project uses
 * (prom-client): a /metrics endpoint on an ephemeral port is added as a file_sd target
 * (<data>/prometheus/targets/*.json), scraped, and its value read back through
 * /api/v1/query; Prometheus has loaded the rules and found Alertmanager; Alertmanager
 * routes an alert by severity. Assumes `npm run stack -- up`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Gauge, Registry } from 'prom-client';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STACK_SH = join(ROOT, 'infra', 'local', 'stack.sh');

/** A connection setting: the environment first, then `stack.sh env` (which applies the stack's defaults). */
function stackSetting(key: string): string {
  const fromEnv = process.env[key];
  if (fromEnv) return fromEnv;
  const line = execFileSync('bash', [STACK_SH, 'env'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`stack.sh env has no ${key}`);
  return line.slice(key.length + 1);
}

const PROMETHEUS = stackSetting('PROMETHEUS_URL');
const ALERTMANAGER = stackSetting('ALERTMANAGER_URL');
const TARGETS_DIR = stackSetting('PROMETHEUS_TARGETS_DIR');
const run = `${process.pid}-${randomUUID().slice(0, 8)}`;

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  assert.ok(res.ok, `${init?.method ?? 'GET'} ${url}: HTTP ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
}

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** Polls an instant query until it returns one sample satisfying `accept`. */
async function waitForSample(
  query: string,
  accept: (v: number) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no sample';
  for (;;) {
    const r = await getJson<QueryResult>(`${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(query)}`);
    const sample = r.data.result[0];
    if (sample) {
      const v = Number(sample.value[1]);
      if (accept(v)) return v;
      last = `value ${v}`;
    }
    if (Date.now() > deadline) throw new Error(`${query}: ${last} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('stack: Prometheus and Alertmanager', () => {
  const registry = new Registry();
  const gauge = new Gauge({
    name: 'perpflow_stacktest_probe_value',
    help: 'A value set by the stack integration test',
    registers: [registry],
  });
  let server: Server;
  const targetFile = join(TARGETS_DIR, `stacktest-${run}.json`);
  let silenceId: string | undefined;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      void registry
        .metrics()
        .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await rm(targetFile, { force: true });
    await new Promise((resolve) => server.close(resolve));
    if (silenceId)
      await fetch(`${ALERTMANAGER}/api/v2/silence/${silenceId}`, { method: 'DELETE' }).catch(() => {});
  });

  it('scrapes a prom-client endpoint added as a file_sd target and serves its value', async () => {
    const { port } = server.address() as AddressInfo;
    gauge.set(1234.5);
    // Written under another name, then renamed: Prometheus never reads a half-written file.
    await writeFile(
      `${targetFile}.tmp`,
      JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { stacktest_run: run } }]),
    );
    await rename(`${targetFile}.tmp`, targetFile);

    const selector = `{stacktest_run="${run}"}`;
    assert.equal(await waitForSample(`up${selector}`, (v) => v === 1, 30_000), 1);
    assert.equal(
      await waitForSample(`perpflow_stacktest_probe_value${selector}`, () => true, 30_000),
      1234.5,
    );
    // A new value shows up at the next scrape: the series is live, not a one-off.
    gauge.set(-7);
    assert.equal(
      await waitForSample(`perpflow_stacktest_probe_value${selector}`, (v) => v === -7, 15_000),
      -7,
    );
  });

  it('has loaded the alert rules and found the local Alertmanager', async () => {
    const rules = await getJson<{
      data: { groups: { name: string; rules: { name: string; health: string }[] }[] };
    }>(`${PROMETHEUS}/api/v1/rules`);
    const targetDown = rules.data.groups.flatMap((g) => g.rules).find((r) => r.name === 'PerpflowTargetDown');
    assert.ok(targetDown, 'PerpflowTargetDown is loaded');
    assert.equal(targetDown.health, 'ok');

    const ams = await getJson<{ data: { activeAlertmanagers: { url: string }[] } }>(
      `${PROMETHEUS}/api/v1/alertmanagers`,
    );
    const amPort = new URL(ALERTMANAGER).port;
    assert.ok(
      ams.data.activeAlertmanagers.some((a) => new URL(a.url).port === amPort),
      `Alertmanager on port ${amPort} among ${JSON.stringify(ams.data.activeAlertmanagers)}`,
    );
  });

  it('routes an alert to the receiver of its severity (silenced, so no webhook call is made)', async () => {
    const alertname = `PerpflowStackTest_${run.replace(/-/g, '_')}`;
    const now = Date.now();
    // Silence first: the alert is routed and visible, but never sent to the webhook.
    const silence = await getJson<{ silenceID: string }>(`${ALERTMANAGER}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        matchers: [{ name: 'alertname', value: alertname, isRegex: false, isEqual: true }],
        startsAt: new Date(now - 1_000).toISOString(),
        endsAt: new Date(now + 120_000).toISOString(),
        createdBy: 'stack-prometheus.test.ts',
        comment: 'integration test of the local stack',
      }),
    });
    silenceId = silence.silenceID;
    const post = await fetch(`${ALERTMANAGER}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        ['critical', 'warning'].map((severity) => ({
          labels: { alertname, severity, instance: `stacktest-${severity}` },
          annotations: { summary: 'stack test' },
          startsAt: new Date(now).toISOString(),
          endsAt: new Date(now + 60_000).toISOString(),
        })),
      ),
    });
    assert.equal(post.status, 200);

    type AmAlert = {
      labels: Record<string, string>;
      receivers: { name: string }[];
      status: { state: string };
    };
    let alerts: AmAlert[] = [];
    const deadline = Date.now() + 10_000;
    while (alerts.length < 2 && Date.now() < deadline) {
      alerts = await getJson<AmAlert[]>(
        `${ALERTMANAGER}/api/v2/alerts?filter=${encodeURIComponent(`alertname="${alertname}"`)}`,
      );
      if (alerts.length < 2) await new Promise((r) => setTimeout(r, 200));
    }
    const receiverOf = (severity: string) =>
      alerts.find((a) => a.labels.severity === severity)?.receivers.map((r) => r.name);
    assert.deepEqual(receiverOf('critical'), ['webhook-critical']);
    assert.deepEqual(receiverOf('warning'), ['webhook-warning']);
    assert.ok(alerts.every((a) => a.status.state === 'suppressed'));

    // Resolve the alerts so that nothing of this test outlives it.
    await fetch(`${ALERTMANAGER}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        ['critical', 'warning'].map((severity) => ({
          labels: { alertname, severity, instance: `stacktest-${severity}` },
          startsAt: new Date(now).toISOString(),
          endsAt: new Date().toISOString(),
        })),
      ),
    });
  });
});
