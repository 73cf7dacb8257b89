/**
 * A generated block inside a hand-written document, between a start and an end marker:
 * docs/CONFIGURATION.md (scripts/config-reference.ts) and docs/METRICS.md
 * (scripts/metrics-reference.ts). The text around the block is the document's own.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface GeneratedSection {
  /** The document, relative to the repository root. */
  doc: string;
  start: string;
  end: string;
  /** The command that regenerates it (named when it is stale). */
  command: string;
}

/** The document with its block (markers included) replaced by `section`. */
export function replaceGenerated(g: GeneratedSection, text: string, section: string): string {
  const a = text.indexOf(g.start);
  const b = text.indexOf(g.end);
  if (a < 0 || b < 0) throw new Error(`${g.doc} has no ${g.start} … ${g.end} section`);
  return text.slice(0, a) + section + text.slice(b + g.end.length);
}

/** Writes the block, or with --check exits 1 when the document is stale. */
export function regenerate(g: GeneratedSection, section: string, argv: readonly string[]): void {
  const file = join(ROOT, g.doc);
  const text = readFileSync(file, 'utf8');
  const next = replaceGenerated(g, text, section);
  if (argv.includes('--check')) {
    if (next !== text) {
      console.error(`${g.doc} is stale: run ${g.command}`);
      process.exit(1);
    }
    console.log(`${g.doc} is up to date`);
    return;
  }
  writeFileSync(file, next);
  console.log(`${g.doc} regenerated`);
}
