import { type AlignedBar, WORD_TAG, WordHash } from '@perpflow/contracts';

/** Version 1, the definition the hashes of snapshots `v: 1` and `v: 2` were made with (align-stream.ts up to af6e5f2). */
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

/**
 * Version 2 as barContentHash's documentation defines it: every value of the bar without
 * its revision, in its key order, as WordHash words by its JSON kind, after the seeds.
 */
export function contentHashV2Reference(bar: AlignedBar): string {
  const { revision: _r, ...content } = bar;
  const h = new WordHash();
  h.start(0x3c6ef372, 0xa54ff53a);
  for (const v of Object.values(content)) {
    if (typeof v === 'number') h.number(v);
    else if (typeof v === 'string') h.string(v);
    else if (typeof v === 'boolean') h.boolean(v);
    else if (v === null) h.word(WORD_TAG.null);
    else throw new Error(`a bar value of kind ${typeof v}`);
  }
  h.finish();
  return h.hex();
}
