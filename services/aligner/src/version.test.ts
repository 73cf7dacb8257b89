import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HEADERS } from '@perpflow/contracts';
import { loadConfig, loadEngineConfig } from './config.js';
import { barMessage } from './domain/batch.js';
import { datasetVersionOf, ENGINE_VERSION } from './version.js';

const versionOf = (env: Record<string, string>) => datasetVersionOf(loadEngineConfig(loadConfig(env)));

describe('dataset version of the aligner', () => {
  it('is dv- and the first 16 hex digits of the sha256 of its descriptor JSON, which names every row-deciding setting', () => {
    const v = versionOf({});
    const sha = createHash('sha256').update(v.json.trimEnd()).digest('hex');
    assert.equal(v.id, `dv-${sha.slice(0, 16)}`);
    const d = JSON.parse(v.json);
    assert.deepEqual(Object.keys(d).sort(), ['align', 'engineVersion', 'quality', 'schemaVersion']);
    assert.equal(d.engineVersion, ENGINE_VERSION);
    assert.equal(d.align.timeframe, undefined, 'the timeframe is a partition column, not a version');
    assert.equal(d.align.allowedLatenessMs, 5_000);
    assert.equal(d.align.fillPolicy, 'previous-close');
    assert.ok(JSON.stringify(d.quality).length > 50, 'the quality config with every default filled');
  });

  it('is equal for equal configs, whatever order or defaults they are written with', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aligner-version-'));
    const defaults = versionOf({});
    writeFileSync(join(dir, 'empty.json'), '{}');
    assert.equal(versionOf({ ALIGNER_QUALITY_CONFIG: join(dir, 'empty.json') }).id, defaults.id);
    assert.equal(
      versionOf({ ALIGNER_ALLOWED_LATENESS_MS: '5000', ALIGNER_FILL_POLICY: 'previous-close' }).id,
      defaults.id,
    );
    // Resource bounds and the timeframe decide no row of a version's tree.
    assert.equal(
      versionOf({ ALIGNER_MAX_STREAMS_PER_PARTITION: '7', ALIGNER_TIMEFRAME: '5m' }).id,
      defaults.id,
    );
  });

  it('changes with any align or quality setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aligner-version-'));
    const quality = loadEngineConfig(loadConfig({})).quality as Record<string, unknown>;
    const [firstKey] = Object.keys(quality);
    assert.ok(firstKey);
    const ids = new Set([
      versionOf({}).id,
      versionOf({ ALIGNER_ALLOWED_LATENESS_MS: '5001' }).id,
      versionOf({ ALIGNER_REVISION_HORIZON_MS: '3600000' }).id,
      versionOf({ ALIGNER_FILL_POLICY: 'skip' }).id,
    ]);
    assert.equal(ids.size, 4);
    // One quality threshold changed in a file: another version.
    const file = join(dir, 'q.json');
    const changed = tweak(quality);
    writeFileSync(file, JSON.stringify(changed.config));
    const q = versionOf({ ALIGNER_QUALITY_CONFIG: file });
    assert.ok(!ids.has(q.id), `changing quality ${changed.path} kept the id`);
  });

  it('is stamped on every bar message as the perpflow-dataset-version header', () => {
    const bar = {
      exchange: 'binanceusdm',
      symbol: 'BTC/USDT:USDT',
      timeframe: '1m',
      eventTimeMs: 60_000,
    } as unknown as Parameters<typeof barMessage>[0];
    const id = versionOf({}).id;
    assert.equal(barMessage(bar, 1, 'aligner', id).headers?.[HEADERS.datasetVersion], id);
    assert.equal(barMessage(bar, 1, 'aligner').headers?.[HEADERS.datasetVersion], undefined);
  });
});

/** The config with its first numeric leaf (depth-first) increased by one, and that leaf's path. */
function tweak(config: Record<string, unknown>): { config: Record<string, unknown>; path: string } {
  const copy = structuredClone(config);
  const walk = (o: Record<string, unknown>, path: string): string | null => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'number') {
        o[k] = v + 1;
        return `${path}.${k}`;
      }
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const found = walk(v as Record<string, unknown>, `${path}.${k}`);
        if (found) return found;
      }
    }
    return null;
  };
  const path = walk(copy, 'quality');
  assert.ok(path, 'no numeric setting in the quality config');
  return { config: copy, path };
}
