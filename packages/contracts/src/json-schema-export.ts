/** Writes packages/contracts/schemas/<kind>.v1.schema.json. Run: npm run schemas -w @perpflow/contracts */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allJsonSchemas } from './json-schema.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const [kind, schema] of Object.entries(allJsonSchemas())) {
  const file = join(dir, `${kind}.v1.schema.json`);
  writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
