import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderReference, replaceSection } from '../../scripts/config-reference.js';
import { renderMetricsReference, replaceMetricsSection } from '../../scripts/metrics-reference.js';
import { ROOT } from '../src/harness.js';

describe('README', () => {
  it('opens with the two commands', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const first = readme.indexOf('npm run demo');
    assert.ok(first > 0 && first < 900, 'npm run demo is not near the top');
    assert.ok(readme.indexOf('npm test') > 0 && readme.indexOf('npm test') < 1000);
  });
  it('has a configuration reference equal to the zod schemas (regenerate: npx tsx --conditions=@perpflow/source scripts/config-reference.ts)', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = await renderReference();
    assert.equal(replaceSection(readme, section), readme);
    for (const key of [
      'KAFKA_BROKERS',
      'INGEST_EXCHANGES',
      'ALIGNER_GROUP_ID',
      'ALIGNER_REVISION_HORIZON_MS',
    ])
      assert.ok(section.includes(`\`${key}\``), key);
  });
  it("has a metrics reference equal to the services' registries (regenerate: npx tsx --conditions=@perpflow/source scripts/metrics-reference.ts)", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = await renderMetricsReference();
    assert.equal(replaceMetricsSection(readme, section), readme);
    for (const name of [
      'perpflow_ingest_records_published_total',
      'perpflow_dlq_records_total',
      'perpflow_windower_rows_written_total',
      'perpflow_drift_psi',
      'perpflow_archiver_records_archived_total',
      'perpflow_sim_http_requests_total',
    ])
      assert.ok(section.includes(`\`${name}\``), name);
  });
  it('.ci/run runs exactly the README test command', () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    const commands = ci
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#') && !/^(set|cd) /.test(l.trim()));
    assert.deepEqual(commands, ['npm test']);
  });
});
