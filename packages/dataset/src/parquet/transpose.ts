import {
  type AlignedBar,
  type ExchangeId,
  LIQUIDATION_SEMANTICS,
  type LiquidationCompleteness,
  type LiquidationPriceKind,
  type OpenInterestMissingReason,
  SCHEMA_VERSION,
  type Timeframe,
} from '@perpflow/contracts';

/**
 * Rows ⇄ columns with one literal property access per field: barsToArrowBuffers
 * (encode) and columnsToBars (decode). Generic access (`bar[field]`, or a getter per
 * column called from one shared loop) is megamorphic: V8 then boxes every double it
 * returns, and at 1M rows the garbage collector took 5 of 8 seconds. Both directions
 * name every field once; the round-trip tests and ALIGNED_BAR_COLUMNS (which names
 * the same fields) keep them in step.
 */

/** Decoded columns, by AlignedBar field (decode.ts fills them, columnsToBars reads them). */
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

/**
 * The encoder's Arrow buffers, filled in one pass over the rows: values already in
 * their Arrow layout (int64 milliseconds as little-endian int32 pairs, bit-packed
 * booleans and validity), so nothing is copied or converted a second time.
 */
export interface ArrowBarBuffers {
  length: number;
  /** UTF-8 bytes and offsets by string field. */
  utf8: Record<string, { offsets: Int32Array; bytes: Uint8Array }>;
  /** int64 milliseconds by timestamp field; 0 where null. */
  int64: Record<string, BigInt64Array>;
  /** Doubles by field; 0 where null. */
  float64: Record<string, Float64Array>;
  int32: Record<string, Int32Array>;
  /** Bit-packed booleans (least significant bit first), by boolean field. */
  bits: Record<string, Uint8Array>;
  /** Validity bitmap of a nullable field; absent when the field has no null. */
  validity: Record<string, Uint8Array>;
  nullCount: Record<string, number>;
}

const TWO_32 = 4_294_967_296;

/** int64 as two int32 halves: BigInt(v) per row costs seconds of GC at 1M rows. */
function setMs(halves: Int32Array, i: number, v: number): void {
  const high = Math.floor(v / TWO_32);
  halves[2 * i] = v - high * TWO_32;
  halves[2 * i + 1] = high;
}

/**
 * One column of few distinct strings (exchange, symbol, timeframe), usually one value
 * per file: then the bytes are encoded once and repeated.
 */
function utf8Column(strings: readonly string[]) {
  const n = strings.length;
  const offsets = new Int32Array(n + 1);
  const encoder = new TextEncoder();
  const first = n > 0 ? strings[0]! : '';
  let constant = true;
  for (let i = 1; i < n && constant; i++) constant = strings[i] === first;
  if (constant) {
    const one = encoder.encode(first);
    const len = one.length;
    const bytes = new Uint8Array(n * len);
    if (n > 0) {
      bytes.set(one, 0);
      for (let filled = len; filled < bytes.length; filled *= 2)
        bytes.copyWithin(filled, 0, Math.min(filled, bytes.length - filled));
    }
    for (let i = 1; i <= n; i++) offsets[i] = i * len;
    return { offsets, bytes };
  }
  // Several values (a file of many symbols): encode each distinct string once, copy its
  // bytes per row in a loop (TypedArray#set costs more than a short copy).
  const encoded = new Map<string, Uint8Array>();
  const perRow: Uint8Array[] = new Array(n);
  let prev = '';
  let prevBytes: Uint8Array = encoder.encode(prev);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const s = strings[i]!;
    if (s !== prev) {
      let b = encoded.get(s);
      if (b === undefined) {
        b = encoder.encode(s);
        encoded.set(s, b);
      }
      prev = s;
      prevBytes = b;
    }
    perRow[i] = prevBytes;
    total += prevBytes.length;
    offsets[i + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let i = 0; i < n; i++) {
    const b = perRow[i]!;
    const at = offsets[i]!;
    for (let k = 0; k < b.length; k++) bytes[at + k] = b[k]!;
  }
  return { offsets, bytes };
}

export function barsToArrowBuffers(rows: readonly AlignedBar[]): ArrowBarBuffers {
  const n = rows.length;
  const f = () => new Float64Array(n);
  const t = () => new Int32Array(2 * n);
  const bitmap = () => new Uint8Array((n + 7) >> 3);
  const [eventTimeMs, knownAtMs, openInterestTimeMs, fundingTimeMs, predictedFundingTimeMs] = [
    t(),
    t(),
    t(),
    t(),
    t(),
  ];
  const [markPriceTimeMs, indexPriceTimeMs] = [t(), t()];
  const [markPrice, indexPrice, basis] = [f(), f(), f()];
  const [open, high, low, close, volume] = [f(), f(), f(), f(), f()];
  const [openInterest, fundingRate, predictedFundingRate, liqLongNotional, liqShortNotional] = [
    f(),
    f(),
    f(),
    f(),
    f(),
  ];
  const fundingRate8h = f();
  const fundingIntervalMs = new Int32Array(n);
  const liqCount = new Int32Array(n);
  const revision = new Int32Array(n);
  // A null string is an empty entry in the offsets, marked null in its validity bitmap.
  const liqPriceKind: string[] = new Array(n);
  const liqCompleteness: string[] = new Array(n);
  const openInterestMissing: string[] = new Array(n);
  // Strings are collected here, in the one pass over the rows: a second pass over
  // a big file's rows (sorted by time, so scattered in memory) costs cache misses.
  const exchange: string[] = new Array(n);
  const symbol: string[] = new Array(n);
  const timeframe: string[] = new Array(n);
  const [vOi, vOiT, vFr, vFrT, vPfr, vPfrT] = [bitmap(), bitmap(), bitmap(), bitmap(), bitmap(), bitmap()];
  const [vFi, vFr8, vMp, vMpT, vIp, vIpT, vB] = [
    bitmap(),
    bitmap(),
    bitmap(),
    bitmap(),
    bitmap(),
    bitmap(),
    bitmap(),
  ];
  const [vLl, vLs, vLc, vLk, vOiM] = [bitmap(), bitmap(), bitmap(), bitmap(), bitmap()];
  const [candleFilled, openInterestStale, fundingStale] = [bitmap(), bitmap(), bitmap()];
  let [nOi, nOiT, nFr, nFrT, nPfr, nPfrT, nFi, nFr8] = [0, 0, 0, 0, 0, 0, 0, 0];
  let [nMp, nMpT, nIp, nIpT, nB] = [0, 0, 0, 0, 0];
  let [nLl, nLs, nLc, nLk, nOiM] = [0, 0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const b = rows[i]!;
    const at = i >> 3;
    const bit = 1 << (i & 7);
    exchange[i] = b.exchange;
    symbol[i] = b.symbol;
    timeframe[i] = b.timeframe;
    setMs(eventTimeMs, i, b.eventTimeMs);
    setMs(knownAtMs, i, b.knownAtMs);
    open[i] = b.open;
    high[i] = b.high;
    low[i] = b.low;
    close[i] = b.close;
    volume[i] = b.volume;
    if (b.openInterest !== null) {
      openInterest[i] = b.openInterest;
      vOi[at]! |= bit;
    } else nOi++;
    if (b.openInterestTimeMs !== null) {
      setMs(openInterestTimeMs, i, b.openInterestTimeMs);
      vOiT[at]! |= bit;
    } else nOiT++;
    if (b.openInterestMissing !== null) {
      openInterestMissing[i] = b.openInterestMissing;
      vOiM[at]! |= bit;
    } else {
      openInterestMissing[i] = '';
      nOiM++;
    }
    if (b.fundingRate !== null) {
      fundingRate[i] = b.fundingRate;
      vFr[at]! |= bit;
    } else nFr++;
    if (b.fundingTimeMs !== null) {
      setMs(fundingTimeMs, i, b.fundingTimeMs);
      vFrT[at]! |= bit;
    } else nFrT++;
    if (b.predictedFundingRate !== null) {
      predictedFundingRate[i] = b.predictedFundingRate;
      vPfr[at]! |= bit;
    } else nPfr++;
    if (b.predictedFundingTimeMs !== null) {
      setMs(predictedFundingTimeMs, i, b.predictedFundingTimeMs);
      vPfrT[at]! |= bit;
    } else nPfrT++;
    if (b.fundingIntervalMs !== null) {
      fundingIntervalMs[i] = b.fundingIntervalMs;
      vFi[at]! |= bit;
    } else nFi++;
    if (b.fundingRate8h !== null) {
      fundingRate8h[i] = b.fundingRate8h;
      vFr8[at]! |= bit;
    } else nFr8++;
    if (b.markPrice !== null) {
      markPrice[i] = b.markPrice;
      vMp[at]! |= bit;
    } else nMp++;
    if (b.markPriceTimeMs !== null) {
      setMs(markPriceTimeMs, i, b.markPriceTimeMs);
      vMpT[at]! |= bit;
    } else nMpT++;
    if (b.indexPrice !== null) {
      indexPrice[i] = b.indexPrice;
      vIp[at]! |= bit;
    } else nIp++;
    if (b.indexPriceTimeMs !== null) {
      setMs(indexPriceTimeMs, i, b.indexPriceTimeMs);
      vIpT[at]! |= bit;
    } else nIpT++;
    if (b.basis !== null) {
      basis[i] = b.basis;
      vB[at]! |= bit;
    } else nB++;
    if (b.liqPriceKind !== null) {
      liqPriceKind[i] = b.liqPriceKind;
      vLk[at]! |= bit;
    } else {
      liqPriceKind[i] = '';
      nLk++;
    }
    liqCompleteness[i] = b.liqCompleteness;
    if (b.liqLongNotional !== null) {
      liqLongNotional[i] = b.liqLongNotional;
      vLl[at]! |= bit;
    } else nLl++;
    if (b.liqShortNotional !== null) {
      liqShortNotional[i] = b.liqShortNotional;
      vLs[at]! |= bit;
    } else nLs++;
    if (b.liqCount !== null) {
      liqCount[i] = b.liqCount;
      vLc[at]! |= bit;
    } else nLc++;
    revision[i] = b.revision;
    if (b.candleFilled) candleFilled[at]! |= bit;
    if (b.openInterestStale) openInterestStale[at]! |= bit;
    if (b.fundingStale) fundingStale[at]! |= bit;
  }
  const int64 = (h: Int32Array) => new BigInt64Array(h.buffer);
  const nullCount = {
    openInterest: nOi,
    openInterestTimeMs: nOiT,
    fundingRate: nFr,
    fundingTimeMs: nFrT,
    predictedFundingRate: nPfr,
    predictedFundingTimeMs: nPfrT,
    fundingIntervalMs: nFi,
    fundingRate8h: nFr8,
    markPrice: nMp,
    markPriceTimeMs: nMpT,
    indexPrice: nIp,
    indexPriceTimeMs: nIpT,
    basis: nB,
    openInterestMissing: nOiM,
    liqLongNotional: nLl,
    liqShortNotional: nLs,
    liqCount: nLc,
    liqPriceKind: nLk,
  };
  const validity: Record<string, Uint8Array> = {};
  const keep = (field: keyof typeof nullCount, bitmap: Uint8Array) => {
    if (nullCount[field] > 0) validity[field] = bitmap;
  };
  keep('openInterest', vOi);
  keep('openInterestTimeMs', vOiT);
  keep('fundingRate', vFr);
  keep('fundingTimeMs', vFrT);
  keep('predictedFundingRate', vPfr);
  keep('predictedFundingTimeMs', vPfrT);
  keep('fundingIntervalMs', vFi);
  keep('fundingRate8h', vFr8);
  keep('markPrice', vMp);
  keep('markPriceTimeMs', vMpT);
  keep('indexPrice', vIp);
  keep('indexPriceTimeMs', vIpT);
  keep('basis', vB);
  keep('openInterestMissing', vOiM);
  keep('liqLongNotional', vLl);
  keep('liqShortNotional', vLs);
  keep('liqCount', vLc);
  keep('liqPriceKind', vLk);
  return {
    length: n,
    utf8: {
      exchange: utf8Column(exchange),
      symbol: utf8Column(symbol),
      timeframe: utf8Column(timeframe),
      liqPriceKind: utf8Column(liqPriceKind),
      liqCompleteness: utf8Column(liqCompleteness),
      openInterestMissing: utf8Column(openInterestMissing),
    },
    int64: {
      eventTimeMs: int64(eventTimeMs),
      knownAtMs: int64(knownAtMs),
      openInterestTimeMs: int64(openInterestTimeMs),
      fundingTimeMs: int64(fundingTimeMs),
      predictedFundingTimeMs: int64(predictedFundingTimeMs),
      markPriceTimeMs: int64(markPriceTimeMs),
      indexPriceTimeMs: int64(indexPriceTimeMs),
    },
    float64: {
      open,
      high,
      low,
      close,
      volume,
      openInterest,
      fundingRate,
      predictedFundingRate,
      fundingRate8h,
      markPrice,
      indexPrice,
      basis,
      liqLongNotional,
      liqShortNotional,
    },
    int32: { fundingIntervalMs, liqCount, revision },
    bits: { candleFilled, openInterestStale, fundingStale },
    validity,
    nullCount,
  };
}

/** A column without validity (required in its file's layout): every row holds a value. */
const ALL_VALID = 'all valid' as const;

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
  const [knownAtMs, revision] = ['knownAtMs', 'revision'].map(num) as Float64Array[];
  // Required before layout 3 (no validity then: every value is a number).
  const [liqLong, liqShort, liqCount] = ['liqLongNotional', 'liqShortNotional', 'liqCount'].map(
    (k) => [num(k), c.valid[k] ?? ALL_VALID] as const,
  );
  const [filled, oiStale, frStale] = ['candleFilled', 'openInterestStale', 'fundingStale'].map((k) =>
    col(c.bool, k),
  );
  const nullable = (p: readonly [Float64Array, Uint8Array] | undefined, i: number): number | null =>
    p![1][i] === 1 ? p![0][i]! : null;
  const nullableAt = (p: readonly [Float64Array, Uint8Array | typeof ALL_VALID] | undefined, i: number) =>
    p![1] === ALL_VALID || p![1][i] === 1 ? p![0][i]! : null;
  // Layout 1 files have no interval, 8 h rate, mark, index, basis or liquidation
  // semantics: the numbers are null (not known then), the semantics are the venue's (the
  // same venue prices were read).
  const [fi, fr8, mp, mpT, ip, ipT, bs] = [
    'fundingIntervalMs',
    'fundingRate8h',
    'markPrice',
    'markPriceTimeMs',
    'indexPrice',
    'indexPriceTimeMs',
    'basis',
  ].map((k) => (c.num[k] === undefined ? undefined : ([num(k), valid(k)] as const)));
  const kinds = c.str.liqPriceKind as LiquidationPriceKind[] | undefined;
  const kindsValid = c.valid.liqPriceKind;
  const completeness = c.str.liqCompleteness as LiquidationCompleteness[] | undefined;
  // Layouts 1 and 2 have no open_interest_missing: a null open interest there reads as
  // not observed (those venues all serve history).
  const oiMissing = c.str.openInterestMissing as OpenInterestMissingReason[] | undefined;
  const oiMissingValid = c.valid.openInterestMissing;
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
      openInterestMissing:
        oiMissing === undefined
          ? oi![1][i] === 1
            ? null
            : 'not_observed'
          : oiMissingValid![i] === 1
            ? oiMissing[i]!
            : null,
      fundingRate: nullable(fr, i),
      fundingTimeMs: nullable(frT, i),
      predictedFundingRate: nullable(pfr, i),
      predictedFundingTimeMs: nullable(pfrT, i),
      fundingIntervalMs: fi === undefined ? null : nullable(fi, i),
      fundingRate8h: fr8 === undefined ? null : nullable(fr8, i),
      markPrice: mp === undefined ? null : nullable(mp, i),
      markPriceTimeMs: mpT === undefined ? null : nullable(mpT, i),
      indexPrice: ip === undefined ? null : nullable(ip, i),
      indexPriceTimeMs: ipT === undefined ? null : nullable(ipT, i),
      basis: bs === undefined ? null : nullable(bs, i),
      liqLongNotional: nullableAt(liqLong, i),
      liqShortNotional: nullableAt(liqShort, i),
      liqCount: nullableAt(liqCount, i),
      liqPriceKind:
        kinds === undefined
          ? LIQUIDATION_SEMANTICS[exchange[i] as ExchangeId].priceKind
          : kindsValid === undefined || kindsValid[i] === 1
            ? kinds[i]!
            : null,
      liqCompleteness: completeness?.[i] ?? LIQUIDATION_SEMANTICS[exchange[i] as ExchangeId].completeness,
      knownAtMs: knownAtMs![i]!,
      revision: revision![i]!,
      candleFilled: filled![i] === 1,
      openInterestStale: oiStale![i] === 1,
      fundingStale: frStale![i] === 1,
    };
  return out;
}
