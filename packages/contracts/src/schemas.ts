import { z } from 'zod';
import {
  EXCHANGES,
  LIQUIDATION_COMPLETENESS,
  OPEN_INTEREST_MISSING_REASONS,
  LIQUIDATION_PRICE_KINDS,
  SYMBOL_MAX_LENGTH,
  UNIFIED_SYMBOL_PATTERN,
} from './exchanges.js';
import { epochMsProblem, MAX_EPOCH_MS, MIN_EPOCH_MS, TIMEFRAMES } from './time.js';

/**
 * The data contracts. One place defines each field; services import the
 * inferred types (`z.infer`) and never redeclare them.
 *
 * Every record carries:
 *  - `schemaVersion`: the contract version it was written with;
 *  - `exchange`: the ccxt id; `symbol`: the ccxt unified symbol;
 *  - `eventTimeMs`: the time as the EXCHANGE stamped it;
 *  - `receivedAtMs`: the time WE received it.
 * Both are integer milliseconds UTC and are never mixed.
 */
export const SCHEMA_VERSION = 1 as const;

/** A rule id travels with custom issues so that errors name the rule, not only the field. */
function ruleIssue(
  ctx: z.RefinementCtx,
  path: string[],
  rule: string,
  message: string,
  input: unknown,
): void {
  ctx.addIssue({ code: 'custom', path, message, params: { rule }, input });
}

/** Accepts any number, then explains unit errors precisely (seconds vs milliseconds). */
const epochMs = (description: string) =>
  z
    .number()
    .superRefine((v, ctx) => {
      const problem = epochMsProblem(v);
      if (problem !== null)
        ctx.addIssue({ code: 'custom', message: problem, params: { rule: 'epoch_ms' }, input: v });
    })
    .meta({ description, type: 'integer', minimum: MIN_EPOCH_MS, maximum: MAX_EPOCH_MS });

export const ExchangeIdSchema = z.enum(EXCHANGES).meta({ description: 'ccxt exchange id' });
export const SymbolSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(SYMBOL_MAX_LENGTH, `must be at most ${SYMBOL_MAX_LENGTH} characters`)
  .regex(UNIFIED_SYMBOL_PATTERN, 'must be a ccxt unified symbol like BTC/USDT:USDT')
  .meta({ description: 'ccxt unified symbol, e.g. BTC/USDT:USDT' });
export const TimeframeSchema = z.enum(TIMEFRAMES);

const price = (description: string) => z.number().positive('must be > 0').meta({ description });
const nonNegative = (description: string) => z.number().min(0, 'must be ≥ 0').meta({ description });

const base = {
  schemaVersion: z.literal(SCHEMA_VERSION),
  exchange: ExchangeIdSchema,
  symbol: SymbolSchema,
  eventTimeMs: epochMs('Event time as the exchange stamped it (integer ms UTC).'),
  receivedAtMs: epochMs('Time perpflow received the record (integer ms UTC).'),
};

/** Where a raw record came from: the live path or a backfill. */
export const IngestSourceSchema = z.enum(['live', 'backfill']);

export const CandleSchema = z
  .object({
    ...base,
    timeframe: TimeframeSchema,
    /** The bar's open time; equals eventTimeMs for candles. */
    openTimeMs: epochMs('Bar open time as the exchange stamped it.'),
    open: price('open price'),
    high: price('high price'),
    low: price('low price'),
    close: price('close price'),
    volume: nonNegative('base-asset volume'),
    quoteVolume: nonNegative('quote-asset volume').nullable(),
    trades: z.number().int().min(0).nullable(),
    /** false while the candle is still open: provisional, never final. */
    closed: z.boolean(),
    source: IngestSourceSchema,
  })
  .superRefine((c, ctx) => {
    if (c.eventTimeMs !== c.openTimeMs)
      ruleIssue(
        ctx,
        ['eventTimeMs'],
        'candle.event_time',
        'must equal openTimeMs for a candle',
        c.eventTimeMs,
      );
    if (c.high < c.low)
      ruleIssue(ctx, ['high'], 'ohlc.high_below_low', `must be ≥ low (low=${c.low})`, c.high);
    else if (c.high < Math.max(c.open, c.close))
      ruleIssue(
        ctx,
        ['high'],
        'ohlc.high_below_body',
        `must be ≥ max(open, close) (open=${c.open}, close=${c.close})`,
        c.high,
      );
    else if (c.low > Math.min(c.open, c.close))
      ruleIssue(
        ctx,
        ['low'],
        'ohlc.low_above_body',
        `must be ≤ min(open, close) (open=${c.open}, close=${c.close})`,
        c.low,
      );
  });
export type Candle = z.infer<typeof CandleSchema>;

export const OpenInterestSchema = z.object({
  ...base,
  /** Open interest in contracts / base asset, as the exchange reports it. */
  openInterest: nonNegative('open interest, base asset'),
  /** Open interest in quote currency when the exchange reports it. */
  openInterestValue: nonNegative('open interest, quote currency').nullable(),
  source: IngestSourceSchema,
});
export type OpenInterestObservation = z.infer<typeof OpenInterestSchema>;

export const FundingKindSchema = z.enum(['settled', 'predicted']);
export const FundingSchema = z.object({
  ...base,
  /** settled: a rate applied at fundingTimeMs; predicted: the current estimate for the next settlement. */
  kind: FundingKindSchema,
  /** Funding rate per interval, as a fraction (0.0001 = 1 bp). */
  fundingRate: z.number().meta({ description: 'funding rate as a fraction per interval' }),
  /** The settlement time the rate applies to. */
  fundingTimeMs: epochMs('Settlement time the rate applies to.'),
  markPrice: price('mark price').nullable(),
  indexPrice: price('index price').nullable(),
  source: IngestSourceSchema,
});
export type FundingObservation = z.infer<typeof FundingSchema>;

/**
 * The side of the liquidation ORDER as the exchange reports it. A `sell`
 * liquidation order closes a LONG position; a `buy` order closes a SHORT.
 */
export const LiquidationSideSchema = z.enum(['buy', 'sell']);
export const LiquidationSchema = z.object({
  ...base,
  side: LiquidationSideSchema,
  price: price('liquidation order price (average fill price when reported)'),
  amount: z.number().positive('must be > 0').meta({ description: 'base-asset quantity' }),
  source: IngestSourceSchema,
});
export type LiquidationEvent = z.infer<typeof LiquidationSchema>;

/**
 * One aligned bar per (exchange, symbol, timeframe, bar open). `eventTimeMs`
 * is the bar's open time; the bar covers [eventTimeMs, eventTimeMs + tf).
 * No value depends on data with event time after the bar's close.
 */
export const AlignedBarSchema = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    exchange: ExchangeIdSchema,
    symbol: SymbolSchema,
    timeframe: TimeframeSchema,
    eventTimeMs: epochMs('Bar open time (the bar covers [t, t + timeframe)).'),
    open: price('open'),
    high: price('high'),
    low: price('low'),
    close: price('close'),
    volume: nonNegative('base volume'),
    openInterest: nonNegative('latest open interest with event time ≤ bar close').nullable(),
    openInterestTimeMs: epochMs('event time of the open interest used').nullable(),
    /**
     * Why `openInterest` is null; null exactly when it is not. `no_history`: the venue
     * serves no open-interest history (`OPEN_INTEREST_HISTORY`), so a bar it was not
     * observed live for has none, and a backfill cannot supply one. `not_observed`: the
     * venue has history, but no point with event time ≤ the close within
     * `maxOpenInterestStalenessMs` was known to the engine (not fetched yet, a gap, or
     * only older points).
     */
    openInterestMissing: z.enum(OPEN_INTEREST_MISSING_REASONS).nullable().meta({
      description:
        'why openInterest is null (null when it is not): no_history = the venue serves no open-interest history; not_observed = no point ≤ close within the staleness limit was known',
    }),
    fundingRate: z.number().nullable(),
    fundingTimeMs: epochMs('settlement time of the latest settled funding ≤ bar close').nullable(),
    predictedFundingRate: z.number().nullable(),
    predictedFundingTimeMs: epochMs('settlement time the predicted rate is for').nullable(),
    /** The symbol's funding interval as its own settlements show it (fundingTimeMs − the one before). */
    fundingIntervalMs: z
      .number()
      .int()
      .positive()
      .nullable()
      .meta({ description: 'funding interval: fundingTimeMs minus the previous settlement time (ms)' }),
    /** fundingRate × 8 h / fundingIntervalMs: rates of 1, 4 and 8 h symbols side by side. */
    fundingRate8h: z.number().nullable().meta({ description: 'funding rate normalized to an 8 h interval' }),
    /** Mark price as of the bar close (latest premium-index observation ≤ close, not stale). */
    markPrice: price('mark price at the bar close').nullable(),
    markPriceTimeMs: epochMs('event time of the mark price used').nullable(),
    /** Index (spot basket) price as of the bar close, from the same observations. */
    indexPrice: price('index price at the bar close').nullable(),
    indexPriceTimeMs: epochMs('event time of the index price used').nullable(),
    /** (markPrice − indexPrice) / indexPrice: the perpetual's premium over spot. */
    basis: z.number().nullable().meta({ description: '(mark − index) / index at the bar close' }),
    /**
     * Notional (price × amount) of liquidated LONG positions (sell orders) in [t, t+tf).
     * Null exactly when `liqCompleteness` is `none` (the venue publishes no liquidations):
     * unknown, never 0.
     */
    liqLongNotional: nonNegative(
      'liquidated long notional; null when the venue has no liquidation source',
    ).nullable(),
    /** Notional of liquidated SHORT positions (buy orders) in [t, t+tf); null as liqLongNotional. */
    liqShortNotional: nonNegative(
      'liquidated short notional; null when the venue has no liquidation source',
    ).nullable(),
    liqCount: z
      .number()
      .int()
      .min(0)
      .nullable()
      .meta({ description: 'number of liquidations; null when the venue has no liquidation source' }),
    /** Which price the venue reports for a liquidation: notional = that price × amount. */
    liqPriceKind: z
      .enum(LIQUIDATION_PRICE_KINDS)
      .nullable()
      .meta({ description: 'liquidation price kind of the venue; null when it has no liquidation source' }),
    /**
     * `snapshot_1s`: the venue pushes at most one liquidation per symbol per second (counts
     * are lower bounds); `none`: it publishes none, and the four liquidation fields are null.
     */
    liqCompleteness: z
      .enum(LIQUIDATION_COMPLETENESS)
      .meta({ description: 'how complete the venue liquidation stream is' }),
    /** The latest receive time among the inputs used: join point-in-time on this. */
    knownAtMs: epochMs('latest receivedAtMs among the inputs of this bar'),
    /** 0 for the first emission, +1 for each re-emission after late data. */
    revision: z.number().int().min(0),
    candleFilled: z.boolean(),
    openInterestStale: z.boolean(),
    fundingStale: z.boolean(),
  })
  .superRefine((b, ctx) => {
    if (b.high < b.low)
      ruleIssue(ctx, ['high'], 'ohlc.high_below_low', `must be ≥ low (low=${b.low})`, b.high);
    // A venue without a liquidation source has unknown liquidations (null), never 0; a
    // venue with one has a number, 0 included, and its price kind.
    const noLiquidations = b.liqCompleteness === 'none';
    for (const field of ['liqLongNotional', 'liqShortNotional', 'liqCount', 'liqPriceKind'] as const) {
      if (noLiquidations && b[field] !== null)
        ruleIssue(
          ctx,
          [field],
          'liquidation.not_null_without_source',
          "must be null when liqCompleteness is 'none'",
          b[field],
        );
      if (!noLiquidations && b[field] === null)
        ruleIssue(
          ctx,
          [field],
          'liquidation.null_with_source',
          `must not be null when liqCompleteness is '${b.liqCompleteness}'`,
          b[field],
        );
    }
    if ((b.openInterest === null) === (b.openInterestMissing === null))
      ruleIssue(
        ctx,
        ['openInterestMissing'],
        'open_interest.missing_reason_mismatch',
        b.openInterest === null
          ? 'must name why openInterest is null (no_history or not_observed)'
          : 'must be null when openInterest is not',
        b.openInterestMissing,
      );
  });
export type AlignedBar = z.infer<typeof AlignedBarSchema>;

/** Size and sha256 (hex) of an original part a dead letter holds only a prefix of. */
const OriginalPartSchema = z.object({
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex sha256'),
});

/**
 * Why a record was quarantined, with everything needed to re-drive it. A dead letter is
 * bounded (well under the broker's 1 MiB message limit): a payload over 64 KiB, a key over
 * 1 KiB and headers over 16 KiB are cut, and `truncated` records each cut part's original
 * size and sha256. Such letters cannot be re-driven; the raw archive will keep the bytes.
 */
export const DeadLetterSchema = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  /** Stable rule id, e.g. `contract.type`, `ohlc.high_below_low`, `late`. */
  ruleId: z.string().min(1).max(128),
  message: z.string().max(4096),
  stage: z.enum(['ingest', 'aligner', 'windower']),
  source: z.object({
    topic: z.string().min(1),
    partition: z.number().int().min(0),
    offset: z.string().regex(/^[0-9]+$/, 'must be a decimal Kafka offset'),
  }),
  /** The original key (its first 1 KiB when longer: see `truncated.key`). */
  key: z.string().nullable(),
  /** The original value, byte for byte: utf8 when it was valid UTF-8, else base64. */
  payload: z.string(),
  payloadEncoding: z.enum(['utf8', 'base64']),
  /** Original value size in bytes (payload may be truncated for huge records). */
  payloadBytes: z.number().int().min(0),
  payloadTruncated: z.boolean(),
  /** The original headers (those that fit in 16 KiB when more: see `truncated.headers`). */
  headers: z.record(z.string(), z.string()),
  exchange: z.string().nullable(),
  symbol: z.string().nullable(),
  deadLetteredAtMs: epochMs('when the record was quarantined'),
  /**
   * Present when a part was cut: its original size and sha256 (payload: of the value bytes;
   * key: of its UTF-8 bytes; headers: of the JSON array of [name, value] pairs, in order).
   */
  truncated: z
    .object({
      payload: OriginalPartSchema.optional(),
      key: OriginalPartSchema.optional(),
      headers: OriginalPartSchema.extend({ count: z.number().int().min(0) }).optional(),
    })
    .optional(),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;

export const RECORD_SCHEMAS = {
  candle: CandleSchema,
  open_interest: OpenInterestSchema,
  funding: FundingSchema,
  liquidation: LiquidationSchema,
  aligned_bar: AlignedBarSchema,
  dead_letter: DeadLetterSchema,
} as const;
export type RecordKind = keyof typeof RECORD_SCHEMAS;
export type RecordOf<K extends RecordKind> = z.infer<(typeof RECORD_SCHEMAS)[K]>;
