// scripts/audit.mjs (npm run audit): the report's pure parts on a small lock and
// registry documents made here; the registry itself is not asked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// @ts-expect-error: a plain .mjs script without types
import { lockPackages, renderReport, rowOf } from '../../scripts/audit.mjs';

const lock = {
  packages: {
    '': { dependencies: { kafkajs: '2.2.4' }, devDependencies: { typescript: '5.9.3' } },
    'packages/x': { name: '@perpflow/x', dependencies: { zod: '^4' } },
    'node_modules/@perpflow/x': { link: true, resolved: 'packages/x' },
    'node_modules/kafkajs': { version: '2.2.4' },
    'node_modules/typescript': { version: '5.9.3', dev: true },
    'node_modules/zod': { version: '4.6.7' },
    'node_modules/a/node_modules/zod': { version: '3.25.0' },
    'node_modules/request': { version: '2.88.2' },
  },
};

describe('npm run audit', () => {
  it('lists each locked package once with every installed version, direct or not', () => {
    const pkgs = lockPackages(lock);
    assert.deepEqual(
      pkgs.map((p: { name: string; versions: string[]; direct: boolean; dev: boolean }) => [
        p.name,
        p.versions.join(','),
        p.direct,
        p.dev,
      ]),
      [
        ['kafkajs', '2.2.4', true, false],
        ['request', '2.88.2', false, false],
        ['typescript', '5.9.3', true, true],
        ['zod', '3.25.0,4.6.7', true, false],
      ],
    );
  });

  it('says plainly what it could not check, and flags deprecated versions when it could', () => {
    const pkgs = lockPackages(lock);
    const docs: Record<string, unknown> = {
      kafkajs: { 'dist-tags': { latest: '2.2.4' }, time: { '2.2.4': '2023-02-27T00:00:00Z' } },
      request: { 'dist-tags': { latest: '2.88.2' }, time: { '2.88.2': '2020-02-11T00:00:00Z' } },
      typescript: { 'dist-tags': { latest: '7.0.2' }, time: {} },
      zod: null,
    };
    const untrusted = { deprecated: false, time: false, canaryTime: '2024-03-13' };
    const rows = pkgs.map((p: { name: string }) => rowOf(p, docs[p.name], null, untrusted));
    const text = renderReport(rows, untrusted, '405 Method Not Allowed - POST …/advisories/bulk');
    assert.match(text, /advisories \(npm audit\): NOT CHECKED: 405 Method Not Allowed/);
    assert.match(text, /deprecation flags: NOT CHECKED/);
    assert.match(text, /publish dates: NOT CHECKED: .* dates request@2\.88\.2 2024-03-13, not 2020-02-11/);
    assert.match(text, /typescript +5\.9\.3 +→ 7\.0\.2 +2 major\(s\) behind/);
    assert.match(text, /NOT LOOKED UP \(registry error\): zod/);

    const trusted = { deprecated: true, time: true, canaryTime: '2020-02-11' };
    const req = pkgs.find((p: { name: string }) => p.name === 'request');
    const row = rowOf(req, docs.request, { '2.88.2': 'request has been deprecated' }, trusted);
    const text2 = renderReport([row], trusted, null);
    assert.match(text2, /DEPRECATED transitive request@2\.88\.2: request has been deprecated/);
    assert.equal(row.installedPublished['2.88.2'], '2020-02-11T00:00:00Z');
  });
});
