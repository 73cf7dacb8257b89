import {
  type AlignedBar,
  hex16,
  SCHEMA_VERSION,
  type Timeframe,
  writeDecimalDigits,
} from '@perpflow/contracts';

/**
 * The 64-bit content hash of a bar without its revision (two 32-bit FNV-1a lanes) over
 * the text `JSON.stringify(Object.values(bar without revision))`. The hashes live in
 * snapshots, so that text must never change; the property tests hold this function to
 * that definition. It is built here without the text: the lanes after the stream's
 * constant prefix are computed once per stream, and each value is mixed in as its JSON
 * form (a JSON number is the number's String(), non-finite numbers and null are `null`).
 * `prefix` must be `hashPrefixOf` the bar's own exchange, symbol and timeframe. Building the
 * rest object, the values array and the text was 10 % of the aligner's core profile.
 */
export function barContentHash(bar: AlignedBar, prefix: readonly [number, number]): string {
  mixBar(bar, prefix);
  return hex16(laneA, laneB);
}

/**
 * The same hash as its two lanes (as int32: small integers, no heap number per lane),
 * written into `out`: the aligner keeps and compares them as numbers and writes the hex
 * text only into snapshots (`hashText`).
 */
export function barContentLanes(bar: AlignedBar, prefix: readonly [number, number], out: HashLanes): void {
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

/** The lanes after `[schemaVersion,"exchange","symbol","timeframe",`: what every bar of a stream starts with. */
export function hashPrefixOf(exchange: string, symbol: string, timeframe: Timeframe): [number, number] {
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
