import type {
  Candle,
  FundingObservation,
  LiquidationEvent,
  OpenInterestObservation,
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

export function identityOf(kind: RawRecordKind, record: RawRecord): RecordIdentity {
  switch (kind) {
    case 'candle': {
      const c = record as Candle;
      return { series: `candle:${c.timeframe}`, identity: String(c.openTimeMs), orderTimeMs: c.openTimeMs };
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
 * A 64-bit hash (two 32-bit FNV-1a lanes) of the record's content without
 * `receivedAtMs` and `source`: a re-poll or a backfill of the same data is a
 * duplicate, not a revision. The hashed text is the canonical JSON of the content,
 * `[["key",value],…]` by sorted key; fingerprints are kept in state snapshots, so that
 * text must never change.
 */
export function contentFingerprint(record: RawRecord): string {
  const text = canonicalContent(record as unknown as Record<string, unknown>);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/**
 * Records of one kind share their keys in one order (the contract's). The sorted key
 * order and each pair's `["key",` prefix are worked out once per key layout, so a
 * record costs one pass over its values, not a copy, a sort and a generic stringify
 * (which was most of the duplicate rule's time).
 */
interface KeyLayout {
  keys: string[];
  sorted: { key: string; prefix: string }[];
}
const layouts: KeyLayout[] = [];

function layoutOf(keys: string[]): KeyLayout {
  next: for (const l of layouts) {
    if (l.keys.length !== keys.length) continue;
    for (let i = 0; i < keys.length; i++) if (l.keys[i] !== keys[i]) continue next;
    return l;
  }
  const sorted = keys
    .filter((k) => k !== 'receivedAtMs' && k !== 'source')
    .sort()
    .map((key, i) => ({ key, prefix: `${i === 0 ? '' : ','}[${JSON.stringify(key)},` }));
  const layout = { keys, sorted };
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
