import { PerpflowError } from '@perpflow/contracts';
/**
 * Reversible, path-safe encoding of symbols for S3 key segments: every UTF-8 byte
 * outside [A-Z0-9] becomes `%XX` (upper-case hex). An encoded symbol holds only
 * [A-Z0-9%], so it contains no `/`, no `.`, no control character and cannot be empty
 * for a non-empty symbol: `BTC/USDT:USDT` → `BTC%2FUSDT%3AUSDT`.
 *
 * Why not `BTC-USDT--USDT`-style replacement: it maps `A/B` and `A-B` to one key.
 */
const HEX = '0123456789ABCDEF';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** S3 keys are ≤ 1024 bytes; one segment never needs more than this. */
export const MAX_ENCODED_SYMBOL_LENGTH = 255;

export class InvalidKeySegment extends PerpflowError {
  readonly code = 'INVALID_KEY_SEGMENT';
  readonly retriable = false;
}

function isUnreserved(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39);
}

export function encodeSymbol(symbol: string): string {
  if (symbol.length === 0) throw new InvalidKeySegment('symbol must not be empty');
  // TextEncoder would turn a lone surrogate into U+FFFD: not reversible.
  if (LONE_SURROGATE.test(symbol)) throw new InvalidKeySegment('symbol is not well-formed UTF-16');
  let out = '';
  for (const byte of new TextEncoder().encode(symbol))
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  if (out.length > MAX_ENCODED_SYMBOL_LENGTH)
    throw new InvalidKeySegment(`encoded symbol longer than ${MAX_ENCODED_SYMBOL_LENGTH} characters`);
  return out;
}

/** Inverse of encodeSymbol. Throws on anything encodeSymbol cannot have produced (one key per symbol). */
export function decodeSymbol(encoded: string): string {
  if (encoded.length === 0 || encoded.length > MAX_ENCODED_SYMBOL_LENGTH)
    throw new InvalidKeySegment(`not an encoded symbol: '${encoded}'`);
  const bytes = new Uint8Array(encoded.length);
  let n = 0;
  for (let i = 0; i < encoded.length; i++) {
    const code = encoded.charCodeAt(i);
    if (isUnreserved(code)) bytes[n++] = code;
    else if (code === 0x25 && /^[0-9A-F]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      const byte = Number.parseInt(encoded.slice(i + 1, i + 3), 16);
      if (isUnreserved(byte)) throw new InvalidKeySegment(`not canonical: '${encoded}' escapes a plain byte`);
      bytes[n++] = byte;
      i += 2;
    } else throw new InvalidKeySegment(`not an encoded symbol: '${encoded}'`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, n));
  } catch (cause) {
    throw new InvalidKeySegment(`not UTF-8 once decoded: '${encoded}'`, { cause });
  }
}
