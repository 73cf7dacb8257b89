/**
 * docker-compose.yml without a Docker engine: the file is loaded by the loader of
 * `docker compose config` (compose-go, built by scripts/setup.sh into
 * infra/local/.cache/bin/compose-config), and every service container's environment
 * is parsed with that service's own zod config schema: an unknown key is a typo,
 * a missing required key or a bad value fails, and nothing may point at loopback.
 * Ports, healthchecks and Prometheus targets must agree with the configured
 * METRICS_PORT; the Dockerfile's and the mounts' paths must exist; the topic table
 * of kafka-init must equal pipelineTopics().
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { pipelineTopics } from '@perpflow/kafka';
import { parseConfig } from '@perpflow/runtime';
import type { z } from 'zod';
import { SERVICES } from '../../scripts/config-reference.js';
import { ROOT } from '../src/harness.js';

const VALIDATOR = join(ROOT, 'infra/local/.cache/bin/compose-config');
const COMPOSE = join(ROOT, 'docker-compose.yml');
const CLUSTER_ENV = join(ROOT, 'infra/docker/kafka-cluster.env');

interface ComposeService {
  image?: string;
  profiles?: string[];
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string | null>;
  expose?: string[];
  healthcheck?: { test?: string[] };
  volumes?: { type: string; source?: string; target: string }[];
  depends_on?: Record<string, { condition: string; required?: boolean }>;
}
interface ComposeProject {
  name: string;
  services: Record<string, ComposeService>;
}

/** Runs the validator with a clean environment (no stray KAFKA_BROKERS etc. from the shell). */
function loadCompose(args: string[]): {
  status: number | null;
  project: ComposeProject | null;
  stderr: string;
} {
  assert.ok(
    existsSync(VALIDATOR),
    `${VALIDATOR} is missing: run scripts/setup.sh (it builds infra/docker/compose-config with Go)`,
  );
  const r = spawnSync(VALIDATOR, ['--project-directory', ROOT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
  });
  return {
    status: r.status,
    project: r.status === 0 ? (JSON.parse(r.stdout) as ComposeProject) : null,
    stderr: r.stderr,
  };
}

/** Containers built from this repository: the perpflow services. */
function builtServices(
  p: ComposeProject,
): [string, ComposeService & { build: NonNullable<ComposeService['build']> }][] {
  return Object.entries(p.services).filter(
    (e): e is [string, ComposeService & { build: NonNullable<ComposeService['build']> }] => !!e[1].build,
  );
}

async function schemaOf(service: string): Promise<z.ZodObject> {
  const entry = SERVICES.find((s) => s.name === service);
  assert.ok(entry, `${service} has no config schema in scripts/config-reference.ts SERVICES`);
  const mod = (await import(
    new URL(entry.module, new URL('../../scripts/', import.meta.url)).href
  )) as Record<string, unknown>;
  const schema = mod[entry.exportName] as z.ZodObject | undefined;
  assert.ok(schema, `${entry.module} exports no ${entry.exportName}`);
  return schema;
}

/** The object schema inside a refined one (its keys are the environment variable names). */
function shapeKeys(schema: z.ZodObject): string[] {
  const s = schema as unknown as {
    shape?: Record<string, unknown>;
    def?: { in?: z.ZodObject; schema?: z.ZodObject };
  };
  const inner = s.shape ? schema : (s.def?.in ?? s.def?.schema ?? schema);
  return Object.keys((inner as unknown as { shape: Record<string, unknown> }).shape);
}

function listenPortKey(keys: string[]): { host: string; port: string } {
  return keys.includes('METRICS_PORT')
    ? { host: 'METRICS_HOST', port: 'METRICS_PORT' }
    : { host: 'HOST', port: 'PORT' };
}

function prometheusTargets(): Map<string, number> {
  const text = readFileSync(join(ROOT, 'infra/docker/prometheus/prometheus.yml'), 'utf8');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/-\s*names:\s*\[["']([^"']+)["']\]\s*\n\s*type:\s*A\s*\n\s*port:\s*(\d+)/g))
    out.set(m[1]!, Number(m[2]));
  return out;
}

describe('docker-compose.yml', { timeout: 120_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'compose-test-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  const single = loadCompose(['-f', COMPOSE]);

  it('is valid for the compose loader, with one Kafka broker by default', () => {
    assert.equal(single.status, 0, `compose-config rejected docker-compose.yml:\n${single.stderr}`);
    const p = single.project!;
    assert.equal(p.name, 'perpflow');
    for (const s of [
      'kafka',
      'kafka-init',
      'redis',
      'minio',
      'minio-init',
      'prometheus',
      'alertmanager',
      'grafana',
    ])
      assert.ok(p.services[s], `no ${s} service`);
    assert.ok(
      !p.services['kafka-2'] && !p.services['kafka-3'],
      'extra brokers outside the kafka-cluster profile',
    );
    assert.equal(p.services.kafka?.environment?.KAFKA_CONTROLLER_QUORUM_VOTERS, '1@kafka:9093');
    assert.match(p.services.kafka?.image ?? '', /^apache\/kafka:/);
  });

  it('the validator rejects a broken file (so a pass above means something)', () => {
    const broken = join(scratch, 'docker-compose.yml');
    writeFileSync(broken, readFileSync(COMPOSE, 'utf8').replace(/\n {4}expose:/, '\n    exposes:'));
    const r = loadCompose(['-f', broken]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /additional properties 'exposes' not allowed/);
  });

  it('with infra/docker/kafka-cluster.env runs three KRaft nodes with replication 3, and services bootstrap from all', () => {
    const r = loadCompose(['-f', COMPOSE, '--env-file', CLUSTER_ENV]);
    assert.equal(r.status, 0, r.stderr);
    const p = r.project!;
    const nodes = ['kafka', 'kafka-2', 'kafka-3'].map((n) => p.services[n]);
    assert.ok(nodes.every(Boolean), 'kafka-cluster profile did not add kafka-2 and kafka-3');
    const ids = nodes.map((n) => n!.environment!.KAFKA_NODE_ID);
    assert.deepEqual(ids, ['1', '2', '3']);
    for (const n of nodes) {
      assert.equal(
        n!.environment!.KAFKA_CONTROLLER_QUORUM_VOTERS,
        '1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093',
      );
      assert.equal(n!.environment!.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, '3');
      assert.equal(n!.environment!.CLUSTER_ID, nodes[0]!.environment!.CLUSTER_ID);
    }
    assert.equal(p.services['kafka-init']?.environment?.REPLICATION_FACTOR, '3');
    for (const [name, s] of builtServices(p))
      if (s.environment?.KAFKA_BROKERS !== undefined)
        assert.equal(s.environment.KAFKA_BROKERS, 'kafka:9092,kafka-2:9092,kafka-3:9092', name);
  });

  it('has one container per service folder, each built from infra/docker with its SERVICE', () => {
    const p = single.project!;
    const withMain = readdirSync(join(ROOT, 'services')).filter((d) =>
      existsSync(join(ROOT, 'services', d, 'src/main.ts')),
    );
    const built = builtServices(p);
    assert.deepEqual(
      built.map(([name]) => name).sort(),
      [...withMain].sort(),
      'containers differ from services/*/src/main.ts',
    );
    for (const [name, s] of built) {
      assert.equal(s.build.args?.SERVICE, name, `${name}: build arg SERVICE`);
      assert.equal(
        relative(ROOT, s.build.context),
        '',
        `${name}: the build context must be the repository root`,
      );
      assert.match(s.build.dockerfile, /^infra\/docker\//);
      assert.ok(existsSync(join(ROOT, s.build.dockerfile)), `${name}: ${s.build.dockerfile} missing`);
    }
  });

  it("parses every service container's environment with that service's zod schema", async () => {
    const p = single.project!;
    for (const [name, s] of builtServices(p)) {
      const schema = await schemaOf(name);
      const keys = shapeKeys(schema);
      const env = Object.fromEntries(
        Object.entries(s.environment ?? {}).map(([k, v]) => [k, v ?? undefined]),
      ) as Record<string, string | undefined>;
      const unknown = Object.keys(env).filter(
        (k) => !keys.includes(k) && !keys.includes(k.replace(/_FILE$/, '')),
      );
      assert.deepEqual(unknown, [], `${name}: keys its schema does not know (typos?)`);
      let config: Record<string, unknown>;
      try {
        config = parseConfig(schema, env) as Record<string, unknown>;
      } catch (err) {
        assert.fail(`${name}: ${(err as Error).message}`);
      }
      const { host, port } = listenPortKey(keys);
      assert.equal(config[host], '0.0.0.0', `${name}: ${host} must be 0.0.0.0 inside a container`);
      assert.ok(
        env[port] !== undefined,
        `${name}: set ${port} explicitly (the healthcheck and Prometheus use it)`,
      );
      for (const [k, v] of Object.entries(config))
        assert.ok(
          !/127\.0\.0\.1|localhost/.test(JSON.stringify(v) ?? ''),
          `${name}: ${k}=${JSON.stringify(v)} points at the container's own loopback`,
        );
    }
  });

  it('exposes, health-checks and scrapes each service on its configured port', async () => {
    const p = single.project!;
    const targets = prometheusTargets();
    for (const [name, s] of builtServices(p)) {
      const keys = shapeKeys(await schemaOf(name));
      const port = Number(s.environment?.[listenPortKey(keys).port]);
      assert.ok(port > 0, `${name}: no port`);
      assert.deepEqual(s.expose, [String(port)], `${name}: expose`);
      const test = s.healthcheck?.test ?? [];
      assert.deepEqual(test.slice(0, 3), ['CMD', 'node', '/app/healthcheck.mjs'], `${name}: healthcheck`);
      assert.equal(test[3], `http://127.0.0.1:${port}/readyz`, `${name}: healthcheck URL`);
      assert.equal(
        targets.get(name),
        port,
        `${name}: Prometheus target port (infra/docker/prometheus/prometheus.yml)`,
      );
    }
    assert.deepEqual(
      [...targets.keys()].sort(),
      builtServices(p)
        .map(([n]) => n)
        .sort(),
      'Prometheus scrapes exactly the service containers',
    );
  });

  it('mounts only files that exist, and the Dockerfile copies only paths that exist', () => {
    const p = single.project!;
    for (const [name, s] of Object.entries(p.services))
      for (const v of s.volumes ?? [])
        if (v.type === 'bind') {
          assert.ok(v.source && isAbsolute(v.source), `${name}: bind source not resolved`);
          assert.ok(
            existsSync(v.source),
            `${name}: mounts ${relative(ROOT, v.source)}, which does not exist`,
          );
        }
    const dockerfiles = new Set(builtServices(p).map(([, s]) => s.build.dockerfile));
    for (const file of dockerfiles) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      assert.match(text, /^USER node$/m, `${file}: runs as root`);
      assert.match(text, /^HEALTHCHECK /m, `${file}: no HEALTHCHECK`);
      assert.ok((text.match(/^FROM /gm) ?? []).length >= 2, `${file}: not multi-stage`);
      const copies = [...text.matchAll(/^COPY (?!.*--from=)(.+)$/gm)].map((m) =>
        m[1]!.split(/\s+/).filter((t) => !t.startsWith('--')),
      );
      assert.ok(copies.length >= 2, `${file}: expected COPY lines from the context`);
      for (const parts of copies)
        for (const src of parts.slice(0, -1))
          assert.ok(existsSync(join(ROOT, src)), `${file}: COPY ${src} does not exist in the build context`);
      const ignore = join(ROOT, `${file}.dockerignore`);
      assert.ok(existsSync(ignore), `${file}.dockerignore missing`);
      assert.match(readFileSync(ignore, 'utf8'), /node_modules/);
    }
    for (const [name] of builtServices(p))
      assert.ok(
        existsSync(join(ROOT, 'services', name, 'package.json')),
        `${name}: no services/${name}/package.json`,
      );
  });

  it('kafka-init creates exactly pipelineTopics() (names, partitions, retention)', () => {
    const text = readFileSync(join(ROOT, 'infra/docker/kafka-topics.sh'), 'utf8');
    const table = text.slice(text.indexOf("<<'TOPICS'"), text.lastIndexOf('\nTOPICS'));
    const rows = [...table.matchAll(/^(perpflow\.\S+)\s+(\d+)\s+(\d+)$/gm)].map((m) => ({
      topic: m[1],
      numPartitions: Number(m[2]),
      retention: m[3],
    }));
    const expected = pipelineTopics().map((t) => ({
      topic: t.topic,
      numPartitions: t.numPartitions,
      retention: t.configs?.['retention.ms'],
    }));
    const byName = (a: { topic?: string }, b: { topic?: string }) =>
      (a.topic ?? '').localeCompare(b.topic ?? '');
    assert.deepEqual(rows.sort(byName), expected.sort(byName));
    const p = single.project!;
    for (const [name, s] of builtServices(p)) {
      if (s.environment?.KAFKA_BROKERS === undefined) continue;
      assert.equal(
        s.depends_on?.['kafka-init']?.condition,
        'service_completed_successfully',
        `${name} starts before the topics exist`,
      );
    }
  });

  it('ships Prometheus and Alertmanager configs that promtool and amtool accept', () => {
    const prom = spawnSync(
      'promtool',
      ['check', 'config', '--syntax-only', join(ROOT, 'infra/docker/prometheus/prometheus.yml')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(prom.status, 0, `${prom.stdout}${prom.stderr}`);
    const am = spawnSync(
      'amtool',
      ['check-config', join(ROOT, 'infra/docker/alertmanager/alertmanager.yml')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(am.status, 0, `${am.stdout}${am.stderr}`);
    const p = single.project!;
    const rules = p.services.prometheus?.volumes?.find((v) => v.target === '/etc/prometheus/rules');
    assert.equal(
      relative(ROOT, rules?.source ?? ''),
      'infra/prometheus/rules',
      'Prometheus gets the local stack rules',
    );
  });

  it('provisions the Grafana dashboard from infra/grafana/dashboards against the compose Prometheus', () => {
    const dashboards = join(ROOT, 'infra/grafana/dashboards');
    const files = existsSync(dashboards) ? readdirSync(dashboards).filter((f) => f.endsWith('.json')) : [];
    assert.ok(files.includes('perpflow.json'), 'infra/grafana/dashboards/perpflow.json is missing');
    const ds = readFileSync(join(ROOT, 'infra/grafana/provisioning/datasources/prometheus.yml'), 'utf8');
    const uid = /uid:\s*(\S+)/.exec(ds)?.[1];
    for (const f of files) {
      const json = readFileSync(join(dashboards, f), 'utf8');
      for (const m of json.matchAll(/"datasource"\s*:\s*\{[^}]*"uid"\s*:\s*"([^"]+)"/g))
        assert.ok(
          m[1] === uid || m[1]!.startsWith('$'),
          `${f}: datasource uid ${m[1]} is not provisioned (${uid})`,
        );
    }
    const p = single.project!;
    assert.equal(p.services.grafana?.environment?.PROMETHEUS_URL, 'http://prometheus:9090');
    // The file provider reads the folder where compose mounts the dashboards.
    const providers = join(ROOT, 'infra/grafana/provisioning/dashboards');
    const paths = readdirSync(providers).flatMap((f) =>
      [...readFileSync(join(providers, f), 'utf8').matchAll(/^\s*path:\s*(\S+)/gm)].map((m) => m[1]),
    );
    const mount = p.services.grafana?.volumes?.find((v) => v.source === dashboards)?.target;
    assert.ok(
      mount && paths.includes(mount),
      `dashboards mounted at ${mount}, provider reads ${paths.join(', ')}`,
    );
  });
});
