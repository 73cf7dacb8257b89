import type {
  AlignedBar,
  Candle,
  Feed,
  FundingObservation,
  LiquidationEvent,
  OpenInterestObservation,
} from '@perpflow/contracts';

export type RawRecord = Candle | OpenInterestObservation | FundingObservation | LiquidationEvent;

/** One validated raw record and a handle the engine hands back with its verdicts. */
export interface EngineInput<Ref> {
  feed: Feed;
  record: RawRecord;
  ref: Ref;
}

export interface EngineRejection<Ref> {
  ref: Ref;
  feed: Feed;
  ruleId: string;
  message: string;
  exchange: string;
  symbol: string;
  late: boolean;
}

export interface EngineOutput<Ref> {
  bars: AlignedBar[];
  rejected: EngineRejection<Ref>[];
  /** Every rule hit, for the per-rule counters (rejects, drops, flags). */
  hits: { feed: Feed; ruleId: string; action: 'reject' | 'drop' | 'flag' }[];
  /** Stream watermarks after this step: exchange|symbol → watermark ms. */
  watermarks: Map<string, number>;
}

/**
 * The pure core of one partition: quality rules, then alignment, for every
 * stream whose key hashes to that partition. Deterministic for a given input
 * order; its state round-trips through JSON.
 */
export interface PartitionEngine {
  /**
   * Quality then alignment of `inputs`, in order, with `nowMs` as the rules' clock. The
   * results are appended to `into` when given (and it is returned), else to a new output: a
   * caller applying record by record reuses one instead of five objects a record.
   */
  apply<Ref>(inputs: EngineInput<Ref>[], nowMs: number, into?: EngineOutput<Ref>): EngineOutput<Ref>;
  /**
   * The state as JSON text in pieces whose concatenation is the whole snapshot (what
   * `createPartitionEngine` restores from, parsed), so that a writer never holds the whole
   * state as one object graph and one string at once.
   */
  snapshotJson(): Iterable<string>;
}
