/**
 * Prints a saved result as the Markdown table used in docs/BENCHMARKS.md.
 * Usage: npm run bench:markdown -w @perpflow/bench [-- results/<file>.json]
 */
import { readFileSync } from 'node:fs';
import { type Figure, renderMarkdown } from './report.js';

const file = process.argv[2] ?? 'results/latest.json';
const r = JSON.parse(readFileSync(file, 'utf8')) as {
  startedAt: string;
  scale: string;
  stack: { kind: string };
  sections: {
    name: string;
    seconds: number;
    loadStart: { load1: number };
    error?: string;
    figures: Figure[];
  }[];
};
console.log(
  `Run ${r.startedAt}, scale ${r.scale}, stack ${r.stack.kind}; sections: ${r.sections
    .map((s) => `${s.name} ${s.seconds.toFixed(0)} s${s.error ? ' (FAILED)' : ''}`)
    .join(', ')}.\n`,
);
console.log(renderMarkdown(r.sections.flatMap((s) => s.figures)));
