import type {
  Candle,
  FundingObservation,
  LiquidationEvent,
  OpenInterestObservation,
} from '@perpflow/contracts';

/**
 * Which archived raw records decided one aligned bar, by the rules of packages/align/README.md
 * ("Semantics of a bar"). Pure: rows in, chosen records out. Every copy of a deciding record is
 * returned (duplicates and re-deliveries are part of the lineage); `kept` marks the copy the
 * engine keeps (total order on the content, then the earliest receipt).
 */

/** Where an archived row came from: enough to find it again in Kafka and in S3. */
export interface RowOrigin {
  topic: string;
  partition: number;
  offset: string;
  kafkaTimestampMs: number;
  objectKey: string;
  objectSha256: string;
}

export type LineageInput =
  | { feed: 'ohlcv'; record: Candle; origin: RowOrigin }
  | { feed: 'open_interest'; record: OpenInterestObservation; origin: RowOrigin }
  | { feed: 'funding'; record: FundingObservation; origin: RowOrigin }
  | { feed: 'liquidation'; record: LiquidationEvent; origin: RowOrigin };

export interface Chosen<T extends LineageInput = LineageInput> {
  input: T;
  /** True for the one copy whose receipt the engine keeps; false for other copies of that content. */
  kept: boolean;
}

export interface BarLineage {
  ohlcv: Chosen<Extract<LineageInput, { feed: 'ohlcv' }>>[];
  openInterest: Chosen<Extract<LineageInput, { feed: 'open_interest' }>>[];
  /** Records of this feed that were at or before the close but beyond the staleness bound. */
  openInterestStale: Extract<LineageInput, { feed: 'open_interest' }>[];
  fundingSettled: Chosen<Extract<LineageInput, { feed: 'funding' }>>[];
  /** The settlement before the bar's one (also stamped by the close): its distance is fundingIntervalMs. */
  fundingPrevious: Chosen<Extract<LineageInput, { feed: 'funding' }>>[];
  fundingPredicted: Chosen<Extract<LineageInput, { feed: 'funding' }>>[];
  /** The latest premium-index observation by the close, within its staleness bound: markPrice, indexPrice. */
  markIndex: Chosen<Extract<LineageInput, { feed: 'funding' }>>[];
  liquidations: Chosen<Extract<LineageInput, { feed: 'liquidation' }>>[];
}

export interface SelectOptions {
  exchange: string;
  symbol: string;
  barTimeMs: number;
  timeframeMs: number;
  maxOpenInterestStalenessMs: number;
  maxMarkIndexStalenessMs: number;
}

type Of<F extends LineageInput['feed']> = Extract<LineageInput, { feed: F }>;

/** Compares a before b: negative when a wins. */
type Order<T> = (a: T, b: T) => number;

/**
 * The best content among `rows` by `order`, and every copy of it (equal in `same`), the
 * earliest receipt marked kept (ties: the lowest offset, so the mark is deterministic).
 */
function bestWithCopies<T extends LineageInput>(
  rows: T[],
  order: Order<T>,
  same: (a: T, b: T) => boolean,
): Chosen<T>[] {
  if (rows.length === 0) return [];
  const best = rows.reduce((acc, r) => (order(r, acc) < 0 ? r : acc));
  const copies = rows.filter((r) => same(r, best));
  const keptOne = copies.reduce((acc, r) =>
    r.record.receivedAtMs < acc.record.receivedAtMs ||
    (r.record.receivedAtMs === acc.record.receivedAtMs && BigInt(r.origin.offset) < BigInt(acc.origin.offset))
      ? r
      : acc,
  );
  return copies.map((input) => ({ input, kept: input === keptOne }));
}

/** A liquidation's identity: copies with equal identity are one liquidation, counted once. */
export function liquidationIdentity(r: LiquidationEvent): string {
  return `${r.eventTimeMs}|${r.side}|${r.price}|${r.amount}`;
}

const desc = (a: number, b: number): number => b - a;
const asc = (a: number, b: number): number => a - b;

export function selectBarLineage(rows: LineageInput[], o: SelectOptions): BarLineage {
  const t = o.barTimeMs;
  const close = t + o.timeframeMs;
  const mine = rows.filter((r) => r.record.exchange === o.exchange && r.record.symbol === o.symbol);
  const feed = <F extends LineageInput['feed']>(f: F): Of<F>[] =>
    mine.filter((r): r is Of<F> => r.feed === f);

  // OHLCV: the candle opening at t; closed over provisional, then larger volume, then larger OHLC.
  const candles = feed('ohlcv').filter((r) => r.record.openTimeMs === t);
  const candleOrder: Order<Of<'ohlcv'>> = (a, b) =>
    Number(b.record.closed) - Number(a.record.closed) ||
    desc(a.record.volume, b.record.volume) ||
    desc(a.record.open, b.record.open) ||
    desc(a.record.high, b.record.high) ||
    desc(a.record.low, b.record.low) ||
    desc(a.record.close, b.record.close);
  const ohlcv = bestWithCopies(candles, candleOrder, (a, b) => candleOrder(a, b) === 0);

  // Open interest: latest eventTimeMs ≤ close within the staleness bound; same time → larger value.
  const oiAll = feed('open_interest').filter((r) => r.record.eventTimeMs <= close);
  const oiFresh = oiAll.filter((r) => close - r.record.eventTimeMs <= o.maxOpenInterestStalenessMs);
  const oiOrder: Order<Of<'open_interest'>> = (a, b) =>
    desc(a.record.eventTimeMs, b.record.eventTimeMs) || desc(a.record.openInterest, b.record.openInterest);
  const openInterest = bestWithCopies(oiFresh, oiOrder, (a, b) => oiOrder(a, b) === 0);
  const openInterestStale =
    openInterest.length === 0 && oiAll.length > 0
      ? [oiAll.reduce((acc, r) => (oiOrder(r, acc) < 0 ? r : acc))]
      : [];

  // Settled funding: latest fundingTimeMs ≤ close with eventTimeMs ≤ close; same settlement →
  // earlier eventTimeMs, then larger rate.
  const funding = feed('funding').filter((r) => r.record.eventTimeMs <= close);
  const settledOrder: Order<Of<'funding'>> = (a, b) =>
    desc(a.record.fundingTimeMs, b.record.fundingTimeMs) ||
    asc(a.record.eventTimeMs, b.record.eventTimeMs) ||
    desc(a.record.fundingRate, b.record.fundingRate);
  const fundingSettled = bestWithCopies(
    funding.filter((r) => r.record.kind === 'settled' && r.record.fundingTimeMs <= close),
    settledOrder,
    (a, b) => settledOrder(a, b) === 0,
  );

  // Predicted funding: the latest prediction with eventTimeMs ≤ close, used only if it is for a
  // settlement after the close; same eventTimeMs → later fundingTimeMs, then larger rate.
  const predictedOrder: Order<Of<'funding'>> = (a, b) =>
    desc(a.record.eventTimeMs, b.record.eventTimeMs) ||
    desc(a.record.fundingTimeMs, b.record.fundingTimeMs) ||
    desc(a.record.fundingRate, b.record.fundingRate);
  const predicted = bestWithCopies(
    funding.filter((r) => r.record.kind === 'predicted'),
    predictedOrder,
    (a, b) => predictedOrder(a, b) === 0,
  );
  const fundingPredicted =
    predicted.length > 0 && predicted[0]!.input.record.fundingTimeMs > close ? predicted : [];
  // The settlement before the chosen one decides the interval; the same latest
  // observation, if fresh, decides mark and index (whatever settlement it predicts).
  const chosenSettlement = fundingSettled[0]?.input.record;
  const fundingPrevious = chosenSettlement
    ? bestWithCopies(
        funding.filter(
          (r) => r.record.kind === 'settled' && r.record.fundingTimeMs < chosenSettlement.fundingTimeMs,
        ),
        settledOrder,
        (a, b) => settledOrder(a, b) === 0,
      )
    : [];
  const latest = predicted[0]?.input.record;
  const markIndex =
    latest &&
    close - latest.eventTimeMs <= o.maxMarkIndexStalenessMs &&
    (latest.markPrice !== null || latest.indexPrice !== null)
      ? predicted
      : [];

  // Liquidations: event time in [t, close); identity (eventTimeMs, side, price, amount), each
  // identity counted once, its earliest receipt kept.
  const liqs = feed('liquidation').filter((r) => r.record.eventTimeMs >= t && r.record.eventTimeMs < close);
  const groups = new Map<string, Of<'liquidation'>[]>();
  for (const r of liqs) {
    const id = liquidationIdentity(r.record);
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  const liquidations = [...groups.values()].flatMap((g) =>
    bestWithCopies(
      g,
      () => 0,
      () => true,
    ),
  );

  return {
    ohlcv,
    openInterest,
    openInterestStale,
    fundingSettled,
    fundingPrevious,
    fundingPredicted,
    markIndex,
    liquidations,
  };
}
