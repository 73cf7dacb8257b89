import {
  type AlignedBar,
  hex16,
  SCHEMA_VERSION,
  type Timeframe,
  WordHash,
  writeDecimalDigits,
} from '@perpflow/contracts';

/**
 * The 64-bit content hash of a bar without its revision, version 2 (AlignStream snapshots
 * `v: 3`): the bar's values in the contract's key order as WordHash words (a number as its
 * double's halves, no text made). The hashes live in snapshots, so these words must never
 * change; the property tests hold this function to that definition (every value of the
 * bar, so a field added to the contract and not here fails them). The words of the stream's
 * constant prefix (schemaVersion, exchange, symbol, timeframe) are taken in once per stream:
 * `prefix` must be `hashPrefixOf` the bar's own exchange, symbol and timeframe. Version 1
 * (legacyBarContentLanes) printed every double; it was a tenth of the aligner's core.
 */
export function barContentHash(bar: AlignedBar, prefix: readonly [number, number]): string {
  wordsOfBar(bar, prefix);
  return words.hex();
}

/**
 * The same hash as its two lanes (as int32: small integers, no heap number per lane),
 * written into `out`: the aligner keeps and compares them as numbers and writes the hex
 * text only into snapshots (`hashText`).
 */
export function barContentLanes(bar: AlignedBar, prefix: readonly [number, number], out: HashLanes): void {
  wordsOfBar(bar, prefix);
  out.a = words.laneA;
  out.b = words.laneB;
}

const words = new WordHash();

function wordsOfBar(bar: AlignedBar, prefix: readonly [number, number]): void {
  const h = words;
  h.start(prefix[0], prefix[1]);
  h.number(bar.eventTimeMs);
  h.number(bar.open);
  h.number(bar.high);
  h.number(bar.low);
  h.number(bar.close);
  h.number(bar.volume);
  h.number(bar.openInterest);
  h.number(bar.openInterestTimeMs);
  h.string(bar.openInterestMissing);
  h.number(bar.fundingRate);
  h.number(bar.fundingTimeMs);
  h.number(bar.predictedFundingRate);
  h.number(bar.predictedFundingTimeMs);
  h.number(bar.fundingIntervalMs);
  h.number(bar.fundingRate8h);
  h.number(bar.markPrice);
  h.number(bar.markPriceTimeMs);
  h.number(bar.indexPrice);
  h.number(bar.indexPriceTimeMs);
  h.number(bar.basis);
  h.number(bar.liqLongNotional);
  h.number(bar.liqShortNotional);
  h.number(bar.liqCount);
  h.string(bar.liqPriceKind);
  h.string(bar.liqCompleteness);
  h.number(bar.knownAtMs);
  h.boolean(bar.candleFilled);
  h.boolean(bar.openInterestStale);
  h.boolean(bar.fundingStale);
  h.finish();
}

/** The lanes of version 2 after the words of `schemaVersion, exchange, symbol, timeframe`. */
export function hashPrefixOf(exchange: string, symbol: string, timeframe: Timeframe): [number, number] {
  const h = new WordHash();
  h.start(0x3c6ef372, 0xa54ff53a);
  h.number(SCHEMA_VERSION);
  h.string(exchange);
  h.string(symbol);
  h.string(timeframe);
  return [h.laneA, h.laneB];
}

/**
 * Version 1 of the hash (AlignStream snapshots `v: 1` and `v: 2` hold it), kept to compare
 * a bar with an emission restored from such a snapshot: two 32-bit FNV-1a lanes over the
 * text `JSON.stringify(Object.values(bar without revision))`, built without the text (each
 * value mixed in as its JSON form). `prefix` must be `legacyHashPrefixOf` the bar's stream.
 */
export function legacyBarContentLanes(
  bar: AlignedBar,
  prefix: readonly [number, number],
  out: HashLanes,
): void {
  mixBar(bar, prefix);
  out.a = laneA | 0;
  out.b = laneB | 0;
}

export interface HashLanes {
  a: number;
  b: number;
}

/** The snapshot text of two lanes: 16 lower-case hex digits. */
export function hashText(lanes: HashLanes): string {
  return hex16(lanes.a, lanes.b);
}

/**
 * The lanes of a snapshot's hash text. Only the text `hashText` writes parses; any other
 * text gives NaN lanes, which equal nothing, as that text equalled no computed hash.
 */
export function hashLanesOf(text: string): HashLanes {
  if (!/^[0-9a-f]{16}$/.test(text)) return { a: Number.NaN, b: Number.NaN };
  return { a: Number.parseInt(text.slice(0, 8), 16) | 0, b: Number.parseInt(text.slice(8), 16) | 0 };
}

function mixBar(bar: AlignedBar, prefix: readonly [number, number]): void {
  laneA = prefix[0];
  laneB = prefix[1];
  mixNumber(bar.eventTimeMs);
  mixNumber(bar.open);
  mixNumber(bar.high);
  mixNumber(bar.low);
  mixNumber(bar.close);
  mixNumber(bar.volume);
  mixNumber(bar.openInterest);
  mixNumber(bar.openInterestTimeMs);
  mixEnum(bar.openInterestMissing);
  mixNumber(bar.fundingRate);
  mixNumber(bar.fundingTimeMs);
  mixNumber(bar.predictedFundingRate);
  mixNumber(bar.predictedFundingTimeMs);
  mixNumber(bar.fundingIntervalMs);
  mixNumber(bar.fundingRate8h);
  mixNumber(bar.markPrice);
  mixNumber(bar.markPriceTimeMs);
  mixNumber(bar.indexPrice);
  mixNumber(bar.indexPriceTimeMs);
  mixNumber(bar.basis);
  mixNumber(bar.liqLongNotional);
  mixNumber(bar.liqShortNotional);
  mixNumber(bar.liqCount);
  mixEnum(bar.liqPriceKind);
  mixEnum(bar.liqCompleteness);
  mixNumber(bar.knownAtMs);
  mixText(bar.candleFilled ? 'true,' : 'false,');
  mixText(bar.openInterestStale ? 'true,' : 'false,');
  mixText(bar.fundingStale ? 'true]' : 'false]');
}

/** Version 1's lanes after `[schemaVersion,"exchange","symbol","timeframe",`: what every bar of a stream starts with. */
export function legacyHashPrefixOf(exchange: string, symbol: string, timeframe: Timeframe): [number, number] {
  laneA = 0x811c9dc5;
  laneB = 0x9747b28c;
  mixText(`[${JSON.stringify([SCHEMA_VERSION, exchange, symbol, timeframe]).slice(1, -1)},`);
  return [laneA, laneB];
}

let laneA = 0;
let laneB = 0;

function mixText(text: string): void {
  let a = laneA;
  let b = laneB;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
  }
  laneA = a;
  laneB = b;
}

/** Mixes an enum value's JSON text (the quoted text itself, or null) and the comma after it. */
function mixEnum(v: string | null): void {
  mixText(v === null ? 'null,' : `"${v}",`);
}

/** Mixes the value's JSON text and the comma after it. */
function mixNumber(v: number | null): void {
  if (v !== null && Number.isSafeInteger(v)) mixInteger(v);
  else mixText(v === null || !Number.isFinite(v) ? 'null' : String(v));
  laneA = Math.imul(laneA ^ 44, 0x01000193);
  laneB = Math.imul(laneB ^ 44, 0x5bd1e995) ^ (laneB >>> 13);
}

const digitBuffer = new Uint8Array(16);

/** Mixes the characters of String(v) for a safe integer v (times, counts) without making the string. */
function mixInteger(v: number): void {
  let a = laneA;
  let b = laneB;
  if (v < 0) {
    a = Math.imul(a ^ 45, 0x01000193);
    b = Math.imul(b ^ 45, 0x5bd1e995) ^ (b >>> 13);
  }
  for (let at = writeDecimalDigits(v < 0 ? -v : v, digitBuffer); at < 16; at++) {
    const c = digitBuffer[at]!;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
  }
  laneA = a;
  laneB = b;
}
