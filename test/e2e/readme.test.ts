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
  it('opens in one screen: what perpflow is, the two commands, what you get, a picture; reference in docs/', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const firstScreen = readme.slice(0, readme.indexOf('\n## ', readme.indexOf('## The two commands') + 1));
    assert.ok(
      firstScreen.split('\n').length <= 45,
      `first screen is ${firstScreen.split('\n').length} lines`,
    );
    assert.match(firstScreen, /!\[[^\]]+\]\(docs\/[^)]+\.png\)/, 'a picture');
    for (const doc of ['docs/CONFIGURATION.md', 'docs/METRICS.md', 'docs/ARCHITECTURE.md'])
      assert.ok(readme.includes(`](${doc})`), `README links ${doc}`);
  });
  it('has a configuration reference (docs/CONFIGURATION.md) equal to the zod schemas (regenerate: npx tsx --conditions=@perpflow/source scripts/config-reference.ts)', async () => {
    const readme = readFileSync(join(ROOT, 'docs/CONFIGURATION.md'), 'utf8');
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
  it("has a metrics reference (docs/METRICS.md) equal to the services' registries (regenerate: npx tsx --conditions=@perpflow/source scripts/metrics-reference.ts)", async () => {
    const readme = readFileSync(join(ROOT, 'docs/METRICS.md'), 'utf8');
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
