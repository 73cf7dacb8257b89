#!/usr/bin/env node
// npm run audit: what can be known of the dependencies without npm's advisory service.
//
//   1. npm audit itself, tried once with a time limit: its error is reported as it is.
//   2. Per package of package-lock.json (each name once): the installed versions, the
//      registry's latest, whether the installed version is deprecated, and when it and the
//      latest were published, from `npm view` (the registry's metadata).
//   3. Before trusting the registry's metadata, a canary: request@2.88.2 is deprecated and
//      was published on 2020-02-11. A registry that answers otherwise (a mirror that drops
//      `deprecated` or rewrites `time`) makes that column "not checked", said plainly.
//
// Writes .data/audit.json and prints a report; exit 1 when a direct dependency's
// installed version is deprecated (when that could be checked), else 0.
// AUDIT_CONCURRENCY (default 8) `npm view` calls at once; AUDIT_ONLY_DIRECT=1 looks up
// only the workspaces' direct dependencies.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CANARY = { name: 'request', version: '2.88.2', published: '2020-02-11' };

/** Packages of a package-lock.json v3: name → installed versions, and whether a workspace depends on it directly. */
export function lockPackages(lock) {
  const direct = new Set();
  const out = new Map();
  for (const [path, meta] of Object.entries(lock.packages ?? {})) {
    if (!path.includes('node_modules/')) {
      for (const field of ['dependencies', 'devDependencies', 'optionalDependencies'])
        for (const name of Object.keys(meta[field] ?? {})) direct.add(name);
      continue;
    }
    if (meta.link || !meta.version) continue;
    const name = meta.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const p = out.get(name) ?? { name, versions: new Set(), direct: false, dev: true };
    p.versions.add(meta.version);
    if (!meta.dev) p.dev = false;
    out.set(name, p);
  }
  for (const p of out.values()) p.direct = direct.has(p.name);
  return [...out.values()]
    .filter((p) => !p.name.startsWith('@perpflow/'))
    .map((p) => ({ ...p, versions: [...p.versions].sort() }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** One row of the report from a package and its registry document (`npm view name --json`). */
export function rowOf(pkg, doc, deprecatedOf, trust) {
  const latest = doc?.['dist-tags']?.latest ?? null;
  const time = doc?.time ?? {};
  const major = (v) => Number.parseInt(String(v).split('.')[0] ?? '', 10);
  return {
    name: pkg.name,
    direct: pkg.direct,
    dev: pkg.dev,
    installed: pkg.versions,
    latest,
    majorsBehind: latest ? Math.max(0, major(latest) - Math.max(...pkg.versions.map(major))) : null,
    deprecated: trust.deprecated ? (deprecatedOf ?? {}) : null,
    installedPublished: trust.time ? Object.fromEntries(pkg.versions.map((v) => [v, time[v] ?? null])) : null,
    latestPublished: trust.time && latest ? (time[latest] ?? null) : null,
    error: doc ? null : 'no registry document',
  };
}

export function renderReport(rows, trust, auditError) {
  const lines = [];
  const d = rows.filter((r) => r.direct);
  lines.push(`audit: ${rows.length} packages in package-lock.json, ${d.length} direct`);
  lines.push(
    `  advisories (npm audit): ${auditError ? `NOT CHECKED: ${auditError}` : 'checked: see npm audit above'}`,
  );
  lines.push(
    `  deprecation flags: ${trust.deprecated ? 'checked' : `NOT CHECKED: the registry reached here reports none for ${CANARY.name}@${CANARY.version}, which is deprecated`}`,
  );
  lines.push(
    `  publish dates: ${trust.time ? 'checked' : `NOT CHECKED: the registry reached here dates ${CANARY.name}@${CANARY.version} ${trust.canaryTime ?? 'not at all'}, not ${CANARY.published}`}`,
  );
  const deprecated = rows.filter((r) => r.deprecated && Object.keys(r.deprecated).length > 0);
  for (const r of deprecated)
    for (const [v, why] of Object.entries(r.deprecated))
      lines.push(`  DEPRECATED ${r.direct ? 'direct' : 'transitive'} ${r.name}@${v}: ${why}`);
  lines.push('  direct dependencies (installed → latest):');
  for (const r of d)
    lines.push(
      `    ${r.name.padEnd(34)} ${r.installed.join(',').padEnd(18)} → ${String(r.latest ?? '?').padEnd(14)}${r.majorsBehind ? ` ${r.majorsBehind} major(s) behind` : ''}${
        r.installedPublished
          ? ` published ${Object.values(r.installedPublished)
              .map((t) => String(t).slice(0, 10))
              .join(',')}`
          : ''
      }${r.error ? ` (${r.error})` : ''}`,
    );
  const behind = rows.filter((r) => !r.direct && r.majorsBehind);
  lines.push(`  transitive packages a major version or more behind their latest: ${behind.length}`);
  const missing = rows.filter((r) => r.error);
  if (missing.length)
    lines.push(`  NOT LOOKED UP (registry error): ${missing.map((r) => r.name).join(', ')}`);
  return lines.join('\n');
}

async function npmView(spec, ...fields) {
  try {
    const { stdout } = await run('npm', ['view', spec, ...fields, '--json'], { cwd: ROOT, timeout: 60_000 });
    return stdout.trim() ? JSON.parse(stdout) : undefined;
  } catch {
    return null;
  }
}

async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) {
        out[i] = await fn(items[i]);
        if (process.stderr.isTTY) process.stderr.write(`\raudit: looked up ${i + 1}/${items.length}`);
      }
    }),
  );
  if (process.stderr.isTTY) process.stderr.write('\n');
  return out;
}

async function main() {
  let auditError = null;
  try {
    await run('npm', ['audit', '--json'], { cwd: ROOT, timeout: 60_000 });
  } catch (err) {
    const text = `${err.stdout ?? ''}`;
    let msg = null;
    try {
      const j = JSON.parse(text);
      if (j.vulnerabilities) console.log(`npm audit: ${JSON.stringify(j.metadata?.vulnerabilities ?? {})}`);
      else msg = j.message ?? j.error?.summary ?? null;
    } catch {
      msg = (err.stderr ?? String(err)).trim().split('\n').slice(-1)[0];
    }
    auditError = msg;
  }

  const canaryDeprecated = await npmView(`${CANARY.name}@${CANARY.version}`, 'deprecated');
  // (`time.2.88.2` is no field path for npm view: the dots split it.)
  const canaryTime = (await npmView(CANARY.name, 'time'))?.[CANARY.version];
  const trust = {
    deprecated: typeof canaryDeprecated === 'string' && canaryDeprecated.length > 0,
    time: typeof canaryTime === 'string' && canaryTime.startsWith(CANARY.published),
    canaryTime: typeof canaryTime === 'string' ? canaryTime.slice(0, 10) : null,
  };

  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  let pkgs = lockPackages(lock);
  if (process.env.AUDIT_ONLY_DIRECT === '1') pkgs = pkgs.filter((p) => p.direct);
  const n = Number.parseInt(process.env.AUDIT_CONCURRENCY ?? '8', 10) || 8;
  const rows = await pool(pkgs, n, async (p) => {
    const doc = await npmView(p.name);
    let deprecatedOf = null;
    if (trust.deprecated) {
      deprecatedOf = {};
      for (const v of p.versions) {
        const why = await npmView(`${p.name}@${v}`, 'deprecated');
        if (typeof why === 'string' && why) deprecatedOf[v] = why;
      }
    }
    return rowOf(p, doc, deprecatedOf, trust);
  });
  console.log(renderReport(rows, trust, auditError));
  const out = join(ROOT, '.data', 'audit.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ at: new Date().toISOString(), trust, auditError, rows }, null, 2)}\n`,
  );
  console.log(`audit: written to ${out}`);
  const bad = rows.some((r) => r.direct && r.deprecated && Object.keys(r.deprecated).length > 0);
  process.exit(bad ? 1 : 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
