import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Every non-test TypeScript file under dir. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (
      e.name.endsWith('.ts') &&
      !/\.(test|property\.test)\.ts$/.test(e.name) &&
      !e.name.endsWith('.d.ts')
    )
      out.push(p);
  }
  return out;
}

describe('the Kafka client seam', () => {
  it('no service or package but packages/kafka imports kafkajs (they use port.ts)', () => {
    const dirs = [
      ...readdirSync(join(ROOT, 'services')).map((d) => join(ROOT, 'services', d, 'src')),
      ...readdirSync(join(ROOT, 'packages'))
        .filter((d) => d !== 'kafka')
        .map((d) => join(ROOT, 'packages', d, 'src')),
    ];
    const files = dirs.flatMap((d) => {
      try {
        return sources(d);
      } catch {
        return []; // a workspace without src/
      }
    });
    assert.ok(files.length > 100, `${files.length} source files read`);
    const importing = files
      .filter((f) => /from ['"]kafkajs(\/[^'"]*)?['"]|require\(['"]kafkajs/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    assert.deepEqual(importing, []);
  });
});
