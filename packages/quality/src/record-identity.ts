import {
  type Candle,
  type FundingObservation,
  hex16,
  type LiquidationEvent,
  type OpenInterestObservation,
  TIMEFRAMES,
  type Timeframe,
  WORD_TAG,
  WordHash,
  finalMix,
  writeDecimalDigits,
} from '@perpflow/contracts';
import type { RawRecord, RawRecordKind } from './record-rules.js';

/**
 * How a record is recognised again. `series` separates sub-streams whose event
 * times interleave legitimately (candle timeframes; settled vs predicted funding);
 * `identity` is the key within the series; `orderTimeMs` orders the series.
 */
export interface RecordIdentity {
  series: string;
  identity: string;
  orderTimeMs: number;
}

/** One string per timeframe, not a new one per record (it keys a Map lookup per record). */
const CANDLE_SERIES = Object.fromEntries(TIMEFRAMES.map((tf) => [tf, `candle:${tf}`])) as Record<
  Timeframe,
  string | undefined
>;

export function identityOf(kind: RawRecordKind, record: RawRecord): RecordIdentity {
  switch (kind) {
    case 'candle': {
      const c = record as Candle;
      return {
        series: CANDLE_SERIES[c.timeframe] ?? `candle:${c.timeframe}`,
        identity: String(c.openTimeMs),
        orderTimeMs: c.openTimeMs,
      };
    }
    case 'open_interest': {
      const o = record as OpenInterestObservation;
      return { series: 'open_interest', identity: String(o.eventTimeMs), orderTimeMs: o.eventTimeMs };
    }
    case 'funding': {
      const f = record as FundingObservation;
      // A settled rate is one value per settlement; predictions are a time series.
      return f.kind === 'settled'
        ? { series: 'funding:settled', identity: String(f.fundingTimeMs), orderTimeMs: f.fundingTimeMs }
        : { series: 'funding:predicted', identity: String(f.eventTimeMs), orderTimeMs: f.eventTimeMs };
    }
    case 'liquidation': {
      // Venues give liquidations no id: the whole content is the identity, so two
      // liquidations identical to the millisecond, side, price and amount are one.
      const l = record as LiquidationEvent;
      return {
        series: 'liquidation',
        identity: `${l.eventTimeMs}|${l.side}|${l.price}|${l.amount}`,
        orderTimeMs: l.eventTimeMs,
      };
    }
  }
}

/**
 * A 64-bit hash (two 32-bit lanes) of the record's content without `receivedAtMs` and
 * `source`: a re-poll or a backfill of the same data is a duplicate, not a revision. Two
 * records (JSON data, as JSON.parse gives them) have the same fingerprint when their
 * content is the same JSON: the same keys, in any order, with the same values, a number
 * by its value (-0 is 0; a non-finite number is null, as JSON writes it), a string by its
 * UTF-16 units. Version 2 (SymbolQuality snapshots `v: 2`): the values are mixed as
 * 32-bit words, a number as the two halves of its double, so no value's text is made
 * (the text of every double was most of version 1's cost, a sixth of the aligner's
 * core). Fingerprints are kept in state snapshots: this definition must never change;
 * a new one is a new version, and entries of older snapshots are compared by theirs
 * (legacyContentFingerprint).
 */
export function contentFingerprint(record: RawRecord): string {
  const content = record as unknown as Record<string, unknown>;
  const { sorted } = layoutOf(Object.keys(content));
  const h = words;
  h.start(SEED_A, SEED_B);
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i]!;
    h.word2(entry.hashA, entry.hashB);
    const v = content[entry.key];
    if (typeof v === 'number') h.number(v);
    else if (typeof v === 'string') h.string(v);
    else if (typeof v === 'boolean') h.boolean(v);
    else if (v === null || typeof v !== 'object') h.word(WORD_TAG.null);
    else {
      // Nested JSON (no record kind has any): by its JSON text.
      const text = JSON.stringify(v);
      if (text === undefined || text === 'null') h.word(WORD_TAG.null);
      else h.string(text, WORD_TAG.json);
    }
  }
  h.word(sorted.length);
  h.finish();
  return h.hex();
}

const SEED_A = 0x9e3779b9;
const SEED_B = 0x7f4a7c15;
const words = new WordHash();

/** Two 32-bit hashes of a key's name, for WordHash.word2 (worked out once per key layout). */
function keyHashes(key: string): { hashA: number; hashB: number } {
  const h = new WordHash();
  h.start(SEED_A ^ 0x5bd1e995, SEED_B ^ 0x5bd1e995);
  h.string(key);
  return { hashA: finalMix(h.laneA) | 0, hashB: finalMix(h.laneB ^ 0x27d4eb2f) | 0 };
}

/**
 * Version 1 of the fingerprint, kept to compare records with the entries of snapshots
 * written by earlier versions (`v: 1`): two 32-bit FNV-1a lanes over the canonical JSON of
 * the content, `[["key",value],…]` by sorted key.
 */
export function legacyContentFingerprint(record: RawRecord): string {
  // The canonical text is not built: its length (lane b's seed) is the layout's fixed part
  // plus the values' JSON lengths, and the lanes take the same characters piece by piece.
  // Integers and plain ASCII strings (times, counts, exchange, symbol) are mixed without
  // making their text at all; other values go through jsonValue.
  const content = record as unknown as Record<string, unknown>;
  const { sorted, fixedLength } = layoutOf(Object.keys(content));
  if (sorted.length > valueKinds.length) return fingerprintOfText(canonicalContent(content));
  let length = fixedLength;
  for (let i = 0; i < sorted.length; i++) {
    const v = content[sorted[i]!.key];
    if (typeof v === 'number' && Number.isSafeInteger(v)) {
      valueKinds[i] = INTEGER;
      valueNumbers[i] = v;
      length += integerLength(v);
    } else if (typeof v === 'string' && isPlainJsonString(v)) {
      valueKinds[i] = PLAIN_STRING;
      valueTexts[i] = v;
      length += v.length + 2;
    } else {
      const text = jsonValue(v);
      valueKinds[i] = TEXT;
      valueTexts[i] = text;
      length += text.length;
    }
  }
  laneA = 0x811c9dc5;
  laneB = 0x01000193 ^ length;
  mixChar(91); // [
  for (let i = 0; i < sorted.length; i++) {
    mixText(sorted[i]!.prefix);
    const kind = valueKinds[i];
    if (kind === INTEGER) mixInteger(valueNumbers[i]!);
    else if (kind === PLAIN_STRING) {
      mixChar(34); // "
      mixText(valueTexts[i]!);
      mixChar(34);
    } else mixText(valueTexts[i]!);
    mixChar(93); // ]
  }
  mixChar(93);
  return hex16(laneA, laneB);
}

/** The definition: both lanes over the canonical text (lane b seeded with its length). */
function fingerprintOfText(text: string): string {
  laneA = 0x811c9dc5;
  laneB = 0x01000193 ^ text.length;
  mixText(text);
  return hex16(laneA, laneB);
}

const TEXT = 0;
const INTEGER = 1;
const PLAIN_STRING = 2;
const valueKinds = new Uint8Array(64);
const valueNumbers = new Float64Array(64);
const valueTexts: string[] = [];
let laneA = 0;
let laneB = 0;

function mixChar(c: number): void {
  laneA = Math.imul(laneA ^ c, 0x01000193);
  laneB = Math.imul(laneB ^ c, 0x5bd1e995) ^ (laneB >>> 15);
}

function mixText(text: string): void {
  let a = laneA;
  let b = laneB;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  laneA = a;
  laneB = b;
}

/** A string JSON.stringify writes as itself in quotes: printable ASCII without `"` or `\`. */
function isPlainJsonString(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** Length of String(v) for a safe integer v (no exponent below 1e21; -0 is "0"). */
function integerLength(v: number): number {
  const n = v < 0 ? -v : v;
  let digits = 1;
  while (digits < 16 && n >= POWERS_OF_TEN[digits]!) digits++;
  return v < 0 ? digits + 1 : digits;
}

const digitBuffer = new Uint8Array(16);

/** Mixes the characters of String(v) for a safe integer v. */
function mixInteger(v: number): void {
  if (v < 0) mixChar(45); // -
  for (let at = writeDecimalDigits(v < 0 ? -v : v, digitBuffer); at < 16; at++) mixChar(digitBuffer[at]!);
}

/**
 * Records of one kind share their keys in one order (the contract's). The sorted key
 * order and each pair's `["key",` prefix are worked out once per key layout, so a
 * record costs one pass over its values, not a copy, a sort and a generic stringify
 * (which was most of the duplicate rule's time).
 */
interface KeyLayout {
  keys: string[];
  /** The content's keys (not receivedAtMs, source) sorted, with version 2's hashes of each name and version 1's prefix. */
  sorted: { key: string; prefix: string; hashA: number; hashB: number }[];
  /** Length of the canonical text without the values: brackets and prefixes. */
  fixedLength: number;
}
const layouts: KeyLayout[] = [];

function layoutOf(keys: string[]): KeyLayout {
  next: for (let j = 0; j < layouts.length; j++) {
    const l = layouts[j]!;
    if (l.keys.length !== keys.length) continue;
    for (let i = 0; i < keys.length; i++) if (l.keys[i] !== keys[i]) continue next;
    return l;
  }
  const sorted = keys
    .filter((k) => k !== 'receivedAtMs' && k !== 'source')
    .sort()
    .map((key, i) => ({ key, prefix: `${i === 0 ? '' : ','}[${JSON.stringify(key)},`, ...keyHashes(key) }));
  const layout = { keys, sorted, fixedLength: sorted.reduce((n, { prefix }) => n + prefix.length + 1, 2) };
  if (layouts.length < 32) layouts.push(layout);
  return layout;
}

/** Equals JSON.stringify(sortedKeys.map((k) => [k, content[k]])) for any record. */
export function canonicalContent(record: Record<string, unknown>): string {
  let text = '[';
  for (const { key, prefix } of layoutOf(Object.keys(record)).sorted)
    text += `${prefix}${jsonValue(record[key])}]`;
  return `${text}]`;
}

function jsonValue(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null'; // what JSON.stringify writes for them inside an array
    default:
      return JSON.stringify(v) ?? 'null';
  }
}
