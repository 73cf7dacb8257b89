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

/** Every source file of a service, and of each package but packages/kafka. */
function sourcesOutsideTheClient(): string[] {
  const dirs = [
    ...readdirSync(join(ROOT, 'services')).map((d) => join(ROOT, 'services', d, 'src')),
    ...readdirSync(join(ROOT, 'packages'))
      .filter((d) => d !== 'kafka')
      .map((d) => join(ROOT, 'packages', d, 'src')),
  ];
  return dirs.flatMap((d) => {
    try {
      return sources(d);
    } catch {
      return []; // a workspace without src/
    }
  });
}

describe('the Kafka client seam', () => {
  it('no service or package but packages/kafka imports kafkajs (they use port.ts)', () => {
    const files = sourcesOutsideTheClient();
    assert.ok(files.length > 100, `${files.length} source files read`);
    const importing = files
      .filter((f) => /from ['"]kafkajs(\/[^'"]*)?['"]|require\(['"]kafkajs/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    assert.deepEqual(importing, []);
  });

  it('no service calls kafkajs directly: its consumers come from KafkaClient.groupConsumer', () => {
    // What the services' main.ts called on kafkajs's objects before createKafkaClient: a port
    // to another client would have had to change each of them.
    const kafkajsCalls = [
      /\bcreateKafka\(/,
      /\bkafka\.(consumer|producer)\(/,
      /\.events\.(GROUP_JOIN|FETCH|CRASH)\b/,
      /\beachBatch(AutoResolve)?\s*:/,
      /\bpartitionAssigners\s*:/,
      /\bcreateIdempotentProducer\(/,
    ];
    const files = sourcesOutsideTheClient();
    const calling = files.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      return kafkajsCalls.filter((re) => re.test(text)).map((re) => `${relative(ROOT, f)}: ${re.source}`);
    });
    assert.deepEqual(calling, []);
    const mains = files.filter(
      (f) => f.endsWith(`${join('src', 'main.ts')}`) && /Kafka/.test(readFileSync(f, 'utf8')),
    );
    assert.ok(mains.length >= 5, `${mains.length} services' main.ts speak Kafka (through createKafkaClient)`);
    for (const f of mains) assert.match(readFileSync(f, 'utf8'), /\bcreateKafkaClient\(/, relative(ROOT, f));
  });
});
