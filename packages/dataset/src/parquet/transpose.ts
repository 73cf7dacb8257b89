import { type AlignedBar, type ExchangeId, SCHEMA_VERSION, type Timeframe } from '@perpflow/contracts';

/**
 * Rows ⇄ columns with one literal property access per field. Generic access
 * (`bar[field]`, or a getter per column called from one shared loop) is megamorphic:
 * V8 then boxes every double it returns, and at 1M rows the garbage collector took
 * 5 of 8 seconds. Both directions name every field once; the round-trip tests and
 * ALIGNED_BAR_COLUMNS (which names the same fields) keep them in step.
 */
export interface BarColumns {
  length: number;
  /** Numbers and timestamps (ms) by AlignedBar field; 0 where null. */
  num: Record<string, Float64Array>;
  /** 1 where the nullable field is not null. */
  valid: Record<string, Uint8Array>;
  /** 0/1 by boolean field. */
  bool: Record<string, Uint8Array>;
  str: Record<string, string[]>;
}

export function barsToColumns(rows: readonly AlignedBar[]): BarColumns {
  const n = rows.length;
  const f = () => new Float64Array(n);
  const u = () => new Uint8Array(n);
  const exchange: string[] = new Array(n);
  const symbol: string[] = new Array(n);
  const timeframe: string[] = new Array(n);
  const [eventTimeMs, open, high, low, close, volume] = [f(), f(), f(), f(), f(), f()];
  const [openInterest, openInterestTimeMs, fundingRate, fundingTimeMs] = [f(), f(), f(), f()];
  const [predictedFundingRate, predictedFundingTimeMs] = [f(), f()];
  const [liqLongNotional, liqShortNotional, liqCount, knownAtMs, revision] = [f(), f(), f(), f(), f()];
  const [vOi, vOiT, vFr, vFrT, vPfr, vPfrT] = [u(), u(), u(), u(), u(), u()];
  const [candleFilled, openInterestStale, fundingStale] = [u(), u(), u()];
  for (let i = 0; i < n; i++) {
    const b = rows[i]!;
    exchange[i] = b.exchange;
    symbol[i] = b.symbol;
    timeframe[i] = b.timeframe;
    eventTimeMs[i] = b.eventTimeMs;
    open[i] = b.open;
    high[i] = b.high;
    low[i] = b.low;
    close[i] = b.close;
    volume[i] = b.volume;
    if (b.openInterest !== null) {
      openInterest[i] = b.openInterest;
      vOi[i] = 1;
    }
    if (b.openInterestTimeMs !== null) {
      openInterestTimeMs[i] = b.openInterestTimeMs;
      vOiT[i] = 1;
    }
    if (b.fundingRate !== null) {
      fundingRate[i] = b.fundingRate;
      vFr[i] = 1;
    }
    if (b.fundingTimeMs !== null) {
      fundingTimeMs[i] = b.fundingTimeMs;
      vFrT[i] = 1;
    }
    if (b.predictedFundingRate !== null) {
      predictedFundingRate[i] = b.predictedFundingRate;
      vPfr[i] = 1;
    }
    if (b.predictedFundingTimeMs !== null) {
      predictedFundingTimeMs[i] = b.predictedFundingTimeMs;
      vPfrT[i] = 1;
    }
    liqLongNotional[i] = b.liqLongNotional;
    liqShortNotional[i] = b.liqShortNotional;
    liqCount[i] = b.liqCount;
    knownAtMs[i] = b.knownAtMs;
    revision[i] = b.revision;
    candleFilled[i] = b.candleFilled ? 1 : 0;
    openInterestStale[i] = b.openInterestStale ? 1 : 0;
    fundingStale[i] = b.fundingStale ? 1 : 0;
  }
  return {
    length: n,
    str: { exchange, symbol, timeframe },
    num: {
      eventTimeMs,
      open,
      high,
      low,
      close,
      volume,
      openInterest,
      openInterestTimeMs,
      fundingRate,
      fundingTimeMs,
      predictedFundingRate,
      predictedFundingTimeMs,
      liqLongNotional,
      liqShortNotional,
      liqCount,
      knownAtMs,
      revision,
    },
    valid: {
      openInterest: vOi,
      openInterestTimeMs: vOiT,
      fundingRate: vFr,
      fundingTimeMs: vFrT,
      predictedFundingRate: vPfr,
      predictedFundingTimeMs: vPfrT,
    },
    bool: { candleFilled, openInterestStale, fundingStale },
  };
}

export function columnsToBars(c: BarColumns): AlignedBar[] {
  const col = <T>(rec: Record<string, T>, field: string): T => {
    const v = rec[field];
    if (v === undefined) throw new Error(`column for ${field} missing`);
    return v;
  };
  const num = (field: string) => col(c.num, field);
  const valid = (field: string) => col(c.valid, field);
  const [exchange, symbol, timeframe] = [
    col(c.str, 'exchange'),
    col(c.str, 'symbol'),
    col(c.str, 'timeframe'),
  ];
  const [eventTimeMs, open, high, low, close, volume] = [
    'eventTimeMs',
    'open',
    'high',
    'low',
    'close',
    'volume',
  ].map(num) as Float64Array[];
  const [oi, oiT, fr, frT, pfr, pfrT] = [
    'openInterest',
    'openInterestTimeMs',
    'fundingRate',
    'fundingTimeMs',
    'predictedFundingRate',
    'predictedFundingTimeMs',
  ].map((k) => [num(k), valid(k)] as const);
  const [liqLong, liqShort, liqCount, knownAtMs, revision] = [
    'liqLongNotional',
    'liqShortNotional',
    'liqCount',
    'knownAtMs',
    'revision',
  ].map(num) as Float64Array[];
  const [filled, oiStale, frStale] = ['candleFilled', 'openInterestStale', 'fundingStale'].map((k) =>
    col(c.bool, k),
  );
  const nullable = (p: readonly [Float64Array, Uint8Array] | undefined, i: number): number | null =>
    p![1][i] === 1 ? p![0][i]! : null;
  const out: AlignedBar[] = new Array(c.length);
  for (let i = 0; i < c.length; i++)
    out[i] = {
      schemaVersion: SCHEMA_VERSION,
      exchange: exchange[i] as ExchangeId,
      symbol: symbol[i]!,
      timeframe: timeframe[i] as Timeframe,
      eventTimeMs: eventTimeMs![i]!,
      open: open![i]!,
      high: high![i]!,
      low: low![i]!,
      close: close![i]!,
      volume: volume![i]!,
      openInterest: nullable(oi, i),
      openInterestTimeMs: nullable(oiT, i),
      fundingRate: nullable(fr, i),
      fundingTimeMs: nullable(frT, i),
      predictedFundingRate: nullable(pfr, i),
      predictedFundingTimeMs: nullable(pfrT, i),
      liqLongNotional: liqLong![i]!,
      liqShortNotional: liqShort![i]!,
      liqCount: liqCount![i]!,
      knownAtMs: knownAtMs![i]!,
      revision: revision![i]!,
      candleFilled: filled![i] === 1,
      openInterestStale: oiStale![i] === 1,
      fundingStale: frStale![i] === 1,
    };
  return out;
}
