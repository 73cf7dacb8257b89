/**
 * Deterministic randomness: every value of the market is a pure function of
 * (seed, symbol, time index, purpose), so any range can be computed on its own.
 */

/** A 32-bit avalanche mix (murmur3 finaliser). */
export function mix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hash of several integers (each may exceed 32 bits: high and low halves are both mixed in). */
export function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    const lo = v >>> 0;
    const hi = Math.floor(v / 4294967296) >>> 0;
    h = mix32(h ^ lo);
    h = mix32(h + 0x632be5ab + hi);
  }
  return h;
}

/** FNV-1a of a string, for symbol keys. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Uniform [0, 1) from a hash. */
export function unit(h: number): number {
  return (h >>> 0) / 4294967296;
}

/** Standard normal from two hashes (Box-Muller). */
export function gaussFromHash(h: number): number {
  const u1 = (mix32(h) + 1) / 4294967297;
  const u2 = unit(mix32(h ^ 0x5bd1e995));
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A small sequential PRNG (mulberry32) for one block of values. */
export class BlockRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  gauss(): number {
    const u1 = this.next() || 1e-12;
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/**
 * Value noise: N(0,1) values on the integer lattice, smoothly interpolated.
 * Random access at any x, stationary, continuous.
 */
export function valueNoise(key: number, x: number): number {
  const i = Math.floor(x);
  const f = x - i;
  const a = gaussFromHash(hashInts(key, i));
  const b = gaussFromHash(hashInts(key, i + 1));
  const s = f * f * (3 - 2 * f);
  return a + (b - a) * s;
}

/** Rounds to `decimals` places and returns the double of that decimal string (so toFixed round-trips). */
export function roundTo(x: number, decimals: number): number {
  // n / 10^d is correctly rounded, so it equals Number(<the decimal string>) exactly.
  const p = POW10[decimals] ?? 10 ** decimals;
  return Math.round(x * p) / p;
}

const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);
