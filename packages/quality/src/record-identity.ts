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
 * duplicate, not a revision.
 */
export function contentFingerprint(record: RawRecord): string {
  const { receivedAtMs: _r, source: _s, ...content } = record;
  const text = canonicalJson(content);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

function canonicalJson(value: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(value)
      .sort()
      .map((k) => [k, value[k]]),
  );
}
