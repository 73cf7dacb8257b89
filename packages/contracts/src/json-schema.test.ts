import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { allJsonSchemas } from './json-schema.js';
import { parseRecord } from './parse.js';
import {
  sampleAlignedBar,
  sampleCandle,
  sampleDeadLetter,
  sampleFunding,
  sampleLiquidation,
  sampleOpenInterest,
} from './samples.js';
import type { RecordKind } from './schemas.js';

const schemaDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
const generated = allJsonSchemas();
const ajv = new Ajv2020({ allErrors: true, strict: false });

const valid: Record<RecordKind, Record<string, unknown>> = {
  candle: sampleCandle(),
  open_interest: sampleOpenInterest(),
  funding: sampleFunding(),
  liquidation: sampleLiquidation(),
  aligned_bar: sampleAlignedBar(),
  dead_letter: sampleDeadLetter(),
};

/** Mutations expressible in JSON Schema: both validators must reject them. */
const mutations: [string, (r: Record<string, unknown>) => Record<string, unknown>][] = [
  ['missing exchange', ({ exchange: _, ...r }) => r],
  ['unknown exchange', (r) => ({ ...r, exchange: 'mtgox' })],
  ['symbol with a path', (r) => ({ ...r, symbol: '../x' })],
  ['schema version 2', (r) => ({ ...r, schemaVersion: 2 })],
  [
    'string where a number goes',
    (r) => ('eventTimeMs' in r ? { ...r, eventTimeMs: '1709251200000' } : { ...r, deadLetteredAtMs: 'x' }),
  ],
  [
    'timestamp in seconds',
    (r) =>
      'eventTimeMs' in r ? { ...r, eventTimeMs: 1_709_251_200 } : { ...r, deadLetteredAtMs: 1_709_251_200 },
  ],
];

describe('JSON Schema export', () => {
  for (const kind of Object.keys(generated) as RecordKind[]) {
    it(`committed ${kind}.v1.schema.json is up to date (npm run schemas -w @perpflow/contracts)`, () => {
      const committed = JSON.parse(readFileSync(join(schemaDir, `${kind}.v1.schema.json`), 'utf8'));
      assert.deepEqual(committed, JSON.parse(JSON.stringify(generated[kind])));
    });

    it(`${kind}: JSON Schema and zod agree on the valid sample and on ${mutations.length} invalid ones`, () => {
      const validate = ajv.compile(generated[kind]);
      assert.equal(validate(valid[kind]), true, JSON.stringify(validate.errors));
      assert.equal(parseRecord(kind, valid[kind]).ok, true);
      for (const [name, mutate] of mutations) {
        if (kind === 'dead_letter' && (name.includes('symbol') || name.includes('exchange'))) continue; // free-form there
        const bad = mutate(valid[kind]);
        assert.equal(validate(bad), false, `JSON Schema accepted ${kind} with ${name}`);
        assert.equal(parseRecord(kind, bad).ok, false, `zod accepted ${kind} with ${name}`);
      }
    });
  }
});
