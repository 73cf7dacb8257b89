import type { AlignedBar } from '@perpflow/contracts';

/** The definition the hashes in existing snapshots were made with (align-stream.ts up to af6e5f2). */
export function contentHashReference(bar: AlignedBar): string {
  const { revision: _r, ...content } = bar;
  const text = JSON.stringify(Object.values(content));
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
