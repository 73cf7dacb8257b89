import { hex16 } from './hash-text.js';

/**
 * Tags that say which kind of JSON value the words after them are, so that values of two
 * kinds never give the same words (the number 1 and the string "1"; null and false).
 */
export const WORD_TAG = { number: 1, string: 2, true: 3, false: 4, null: 5, json: 6 } as const;

const doubleView = new Float64Array(1);
const wordView = new Uint32Array(doubleView.buffer);

/** murmur3's finaliser: every input bit reaches every output bit. Unsigned. */
export function finalMix(h0: number): number {
  let h = h0 ^ (h0 >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A 64-bit hash of JSON values as 32-bit words, for the hashes kept in state snapshots
 * (the quality rules' content fingerprint, the aligner's bar hash): two 32-bit lanes, each
 * word taken in by murmur3's block step (lane b with other constants), ended as murmur3
 * x86_128 ends. A value never becomes text: a number is its tag and its double's two
 * halves (-0 as 0; a non-finite number is null, as JSON writes it), a string its tag, its
 * length and its UTF-16 units two to a word. Whoever keeps these hashes must never change
 * the words a value gives: a new definition is a new snapshot version.
 */
export class WordHash {
  laneA = 0;
  laneB = 0;

  start(seedA: number, seedB: number): void {
    this.laneA = seedA | 0;
    this.laneB = seedB | 0;
  }

  word(w: number): void {
    this.word2(w, w);
  }

  /** A word for each lane (the two halves of a 64-bit value hashed apart). */
  word2(wa: number, wb: number): void {
    let k = Math.imul(wa, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    let a = this.laneA ^ k;
    a = (a << 13) | (a >>> 19);
    this.laneA = (Math.imul(a, 5) + 0xe6546b64) | 0;
    let j = Math.imul(wb, 0x85ebca77);
    j = Math.imul((j << 13) | (j >>> 19), 0xc2b2ae3d);
    let b = this.laneB ^ j;
    b = (b << 17) | (b >>> 15);
    this.laneB = (Math.imul(b, 5) + 0x561ccd1b) | 0;
  }

  /** A number as JSON sees it, or null. */
  number(v: number | null): void {
    if (v === null) this.word(WORD_TAG.null);
    else if (v === 0) {
      this.word(WORD_TAG.number);
      this.word(0);
      this.word(0);
    } else if (v - v === 0) {
      doubleView[0] = v;
      this.word(WORD_TAG.number);
      this.word(wordView[0]!);
      this.word(wordView[1]!);
    } else this.word(WORD_TAG.null);
  }

  /** A string (or the JSON text of a nested value, tagged `json`), or null. */
  string(v: string | null, tag: number = WORD_TAG.string): void {
    if (v === null) {
      this.word(WORD_TAG.null);
      return;
    }
    this.word(tag);
    const n = v.length;
    this.word(n);
    let i = 0;
    for (; i + 1 < n; i += 2) this.word(v.charCodeAt(i) | (v.charCodeAt(i + 1) << 16));
    if (i < n) this.word(v.charCodeAt(i));
  }

  boolean(v: boolean): void {
    this.word(v ? WORD_TAG.true : WORD_TAG.false);
  }

  /** Ends the hash: laneA and laneB hold its two halves (int32). */
  finish(): void {
    // murmur3 x86_128's ending: each step a bijection of the two lanes.
    let a = (this.laneA + this.laneB) | 0;
    let b = (this.laneB + a) | 0;
    a = finalMix(a);
    b = finalMix(b);
    a = (a + b) | 0;
    b = (b + a) | 0;
    this.laneA = a;
    this.laneB = b;
  }

  /** The finished hash as 16 lower-case hex digits. */
  hex(): string {
    return hex16(this.laneA, this.laneB);
  }
}
