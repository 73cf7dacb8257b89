/**
 * Text of numbers for the content hashes of @perpflow/align (bar hash) and
 * @perpflow/quality (record fingerprint), written without making strings: those
 * hashes mix the characters String(v) would have, and their text lives in snapshots,
 * so both must produce exactly String(v) and toString(16).
 */

/**
 * Writes the decimal digits of a safe integer n ≥ 0 at the end of `out` (16 bytes, ASCII)
 * and returns where they start: the same characters as String(n). n is split into two
 * int32 halves of 8 digits (floor(n / 1e8) corrected by the exact remainder), so the
 * digits come from int32 arithmetic, not float modulo (a slow library call per digit).
 */
export function writeDecimalDigits(n: number, out: Uint8Array): number {
  let hi = Math.floor(n / 1e8);
  let lo = n - hi * 1e8;
  if (lo < 0) {
    hi -= 1;
    lo += 1e8;
  } else if (lo >= 1e8) {
    hi += 1;
    lo -= 1e8;
  }
  let at = 16;
  let x = lo | 0;
  if (hi > 0) {
    for (let k = 0; k < 8; k++) {
      const q = (x / 10) | 0;
      out[--at] = 48 + x - q * 10;
      x = q;
    }
    x = hi | 0;
  }
  do {
    const q = (x / 10) | 0;
    out[--at] = 48 + x - q * 10;
    x = q;
  } while (x > 0);
  return at;
}

/** Two hex digits per byte: the same text as toString(16).padStart(2, '0'). */
const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** An int32 lane as 8 hex digits: the same text as (lane >>> 0).toString(16).padStart(8, '0'), ~9x faster. */
export function hex8(lane: number): string {
  return (
    HEX_BYTES[lane >>> 24]! +
    HEX_BYTES[(lane >>> 16) & 255]! +
    HEX_BYTES[(lane >>> 8) & 255]! +
    HEX_BYTES[lane & 255]!
  );
}

/** Char codes of the hex digits. */
const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/**
 * Two int32 lanes as 16 hex digits, the text of hex8(a) + hex8(b), built as one flat string:
 * V8 makes a concatenation of 13 or more characters a rope (a 20-byte node over its two
 * parts), 60 bytes a hash instead of 32. The aligner keeps one per remembered record
 * (hundreds of thousands at 500 symbols).
 */
export function hex16(a: number, b: number): string {
  return String.fromCharCode(
    HEX_CODES[(a >>> 28) & 15]!,
    HEX_CODES[(a >>> 24) & 15]!,
    HEX_CODES[(a >>> 20) & 15]!,
    HEX_CODES[(a >>> 16) & 15]!,
    HEX_CODES[(a >>> 12) & 15]!,
    HEX_CODES[(a >>> 8) & 15]!,
    HEX_CODES[(a >>> 4) & 15]!,
    HEX_CODES[a & 15]!,
    HEX_CODES[(b >>> 28) & 15]!,
    HEX_CODES[(b >>> 24) & 15]!,
    HEX_CODES[(b >>> 20) & 15]!,
    HEX_CODES[(b >>> 16) & 15]!,
    HEX_CODES[(b >>> 12) & 15]!,
    HEX_CODES[(b >>> 8) & 15]!,
    HEX_CODES[(b >>> 4) & 15]!,
    HEX_CODES[b & 15]!,
  );
}
