/**
 * The rule table: every quality rule has a stable id (used as a metric label and
 * as the dead letter's `ruleId`) and a default action. Ids never change meaning;
 * a new behaviour gets a new id.
 */
export const RULE_IDS = [
  'candle.off_boundary',
  'candle.closed_early',
  'time.future',
  'time.too_old',
  'funding.out_of_bounds',
  'liquidation.price_band',
  'stream.duplicate',
  'stream.earlier_receipt',
  'stream.revision',
  'stream.out_of_order',
  'stream.gap',
  'price.jump',
  'price.outlier_mad',
  'value.frozen',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/**
 * What happens to a record that hits a rule:
 * - `reject`: the record goes to the dead-letter topic with the rule id and message;
 * - `drop`: the record is discarded and only counted (exact duplicates);
 * - `flag`: the record is kept and the hit is counted.
 */
export type RuleAction = 'reject' | 'drop' | 'flag';

export interface RuleHit {
  /** A `RuleId`, or `contract.<rule>` for a contract violation (e.g. `contract.ohlc.high_below_low`). */
  ruleId: string;
  action: RuleAction;
  /** Names the field, the value and the threshold. */
  message: string;
}

export const DEFAULT_RULE_ACTIONS: Record<RuleId, RuleAction> = {
  'candle.off_boundary': 'reject',
  'candle.closed_early': 'flag',
  'time.future': 'reject',
  'time.too_old': 'reject',
  'funding.out_of_bounds': 'reject',
  'liquidation.price_band': 'flag',
  'stream.duplicate': 'drop',
  'stream.earlier_receipt': 'flag',
  'stream.revision': 'flag',
  'stream.out_of_order': 'flag',
  'stream.gap': 'flag',
  'price.jump': 'flag',
  'price.outlier_mad': 'flag',
  'value.frozen': 'flag',
};

export type Verdict = 'accept' | 'drop' | 'reject';

/** reject wins over drop, drop over accept; flags never change the verdict. */
export function verdictOf(hits: readonly RuleHit[]): Verdict {
  // Loops, not .some(): this runs up to three times per record (a closure each time).
  let drop = false;
  for (let i = 0; i < hits.length; i++) {
    const action = hits[i]!.action;
    if (action === 'reject') return 'reject';
    if (action === 'drop') drop = true;
  }
  return drop ? 'drop' : 'accept';
}

/** The hit that decided a reject or drop (the first one), for the dead letter. */
export function decisiveHit(hits: readonly RuleHit[]): RuleHit | null {
  return hits.find((h) => h.action === 'reject') ?? hits.find((h) => h.action === 'drop') ?? null;
}
