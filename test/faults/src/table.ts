/** The fault suite's result table: one row per scenario, printed and written as JSON. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR } from '../../src/harness.js';

export interface ScenarioRow {
  scenario: string;
  expected: number;
  found: number;
  duplicated: number;
  lost: number;
  deadLetters: Record<string, number>;
  note: string;
}

export function formatRow(r: ScenarioRow): string {
  const dl = Object.entries(r.deadLetters)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${r.scenario.padEnd(28)} ${String(r.expected).padStart(8)} ${String(r.found).padStart(6)} ${String(r.duplicated).padStart(10)} ${String(r.lost).padStart(5)}  ${dl || '-'}${r.note ? `  (${r.note})` : ''}`;
}

export const TABLE_HEADER = `${'scenario'.padEnd(28)} ${'expected'.padStart(8)} ${'found'.padStart(6)} ${'duplicated'.padStart(10)} ${'lost'.padStart(5)}  dead letters by reason`;

export function writeTable(rows: ScenarioRow[], seed: number, name = 'faults-table.json'): string {
  const dir = process.env.PERPFLOW_TEST_RESULTS ?? join(DATA_DIR, 'test-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, `${JSON.stringify({ seed, rows }, null, 2)}\n`);
  return file;
}
