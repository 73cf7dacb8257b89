/** Writes packages/dataset/schemas/<name>.v1.schema.json. Run: npm run schemas -w @perpflow/dataset */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetJsonSchemas } from './json-schema.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(datasetJsonSchemas())) {
  const file = join(dir, `${name}.v1.schema.json`);
  writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
