import {
  type Candle,
  type ContractViolation,
  type FundingObservation,
  type LiquidationEvent,
  type OpenInterestObservation,
  parseRecord,
  type RecordOf,
  timeframeMs,
} from '@perpflow/contracts';
import { actionOf, type QualityConfig } from './config.js';
import type { RuleHit, RuleId } from './rules.js';

/** The four raw record kinds the aligner consumes. */
export type RawRecordKind = 'candle' | 'open_interest' | 'funding' | 'liquidation';
export type RawRecord = Candle | OpenInterestObservation | FundingObservation | LiquidationEvent;

/** The latest candle close the caller knows for the record's (exchange, symbol). */
export interface KnownClose {
  close: number;
  /** openTimeMs + timeframe of that candle. */
  closeTimeMs: number;
}

export interface RecordContext {
  /** The caller's clock (the aligner reads it once per batch). Only `time.future` uses it. */
  nowMs: number;
  config: QualityConfig;
  /** For `liquidation.price_band`; omitted or null when unknown (the rule is then skipped). */
  lastClose?: KnownClose | null;
}

/** Builds a hit with the configured action, or null when the rule is off. */
export function ruleHit(config: QualityConfig, ruleId: RuleId, message: string): RuleHit | null {
  const action = actionOf(config, ruleId);
  return action === null ? null : { ruleId, action, message };
}

function push(hits: RuleHit[], hit: RuleHit | null): void {
  if (hit !== null) hits.push(hit);
}

/**
 * Per-record checks: the data contract first (every issue becomes a
 * `contract.<rule>` reject), then the per-record quality rules on the parsed value.
 * Stateless and pure.
 */
export function validateRecord(kind: RawRecordKind, input: unknown, ctx: RecordContext): RuleHit[] {
  const parsed = parseRecord(kind, input);
  if (!parsed.ok) return contractHits(parsed.error);
  return checkRecordRules(kind, parsed.value, ctx);
}

/** One `contract.<rule>` reject per contract issue. */
export function contractHits(violation: ContractViolation): RuleHit[] {
  return violation.issues.map((issue) => ({
    ruleId: `contract.${issue.rule}`,
    action: 'reject' as const,
    message: `${violation.recordKind}.${issue.field}: ${issue.message} (got ${issue.value})`,
  }));
}

/** The per-record quality rules for a record that already satisfies its contract. */
export function checkRecordRules<K extends RawRecordKind>(
  kind: K,
  record: RecordOf<K>,
  ctx: RecordContext,
): RuleHit[] {
  const hits: RuleHit[] = [];
  checkTimes(kind, record as RawRecord, ctx, hits);
  switch (kind) {
    case 'candle':
      checkCandle(record as Candle, ctx, hits);
      break;
    case 'funding':
      checkFunding(record as FundingObservation, ctx, hits);
      break;
    case 'liquidation':
      checkLiquidation(record as LiquidationEvent, ctx, hits);
      break;
    default:
      break;
  }
  return hits;
}

function checkTimes(kind: RawRecordKind, r: RawRecord, ctx: RecordContext, hits: RuleHit[]): void {
  const { config, nowMs } = ctx;
  const skew = config.clockSkewMs;
  if (r.eventTimeMs > r.receivedAtMs + skew)
    push(
      hits,
      ruleHit(
        config,
        'time.future',
        `${kind}.eventTimeMs ${r.eventTimeMs} is ${r.eventTimeMs - r.receivedAtMs} ms after receivedAtMs ${r.receivedAtMs} (clockSkewMs ${skew})`,
      ),
    );
  else if (r.eventTimeMs > nowMs + skew)
    push(
      hits,
      ruleHit(
        config,
        'time.future',
        `${kind}.eventTimeMs ${r.eventTimeMs} is ${r.eventTimeMs - nowMs} ms after now ${nowMs} (clockSkewMs ${skew})`,
      ),
    );
  if (r.receivedAtMs > nowMs + skew)
    push(
      hits,
      ruleHit(
        config,
        'time.future',
        `${kind}.receivedAtMs ${r.receivedAtMs} is ${r.receivedAtMs - nowMs} ms after now ${nowMs} (clockSkewMs ${skew})`,
      ),
    );
  if (kind === 'funding') {
    const f = r as FundingObservation;
    if (f.kind === 'settled' && f.fundingTimeMs > f.eventTimeMs + skew)
      push(
        hits,
        ruleHit(
          config,
          'time.future',
          `funding.fundingTimeMs ${f.fundingTimeMs} of a settled rate is ${f.fundingTimeMs - f.eventTimeMs} ms after its eventTimeMs ${f.eventTimeMs} (clockSkewMs ${skew})`,
        ),
      );
  }
  // Age is measured against the record's own receive time, not the caller's clock,
  // so replaying a backlog after an outage gives the same verdicts.
  if (r.source === 'live') {
    const maxAge = config.maxAgeMs[kind];
    const reference =
      kind === 'candle' ? (r as Candle).openTimeMs + timeframeMs((r as Candle).timeframe) : r.eventTimeMs;
    const age = r.receivedAtMs - reference;
    if (age > maxAge)
      push(
        hits,
        ruleHit(
          config,
          'time.too_old',
          `${kind}.${kind === 'candle' ? 'openTimeMs + timeframe' : 'eventTimeMs'} ${reference} is ${age} ms before receivedAtMs ${r.receivedAtMs} on a live record (maxAgeMs.${kind} ${maxAge})`,
        ),
      );
  }
}

function checkCandle(c: Candle, ctx: RecordContext, hits: RuleHit[]): void {
  const tf = timeframeMs(c.timeframe);
  const offset = c.openTimeMs % tf;
  if (offset !== 0)
    push(
      hits,
      ruleHit(
        ctx.config,
        'candle.off_boundary',
        `candle.openTimeMs ${c.openTimeMs} is ${offset} ms past the ${c.timeframe} UTC boundary ${c.openTimeMs - offset}`,
      ),
    );
  const closeMs = c.openTimeMs + tf;
  if (c.closed && closeMs > c.receivedAtMs + ctx.config.clockSkewMs)
    push(
      hits,
      ruleHit(
        ctx.config,
        'candle.closed_early',
        `candle.closed is true but the bar closes at ${closeMs}, ${closeMs - c.receivedAtMs} ms after receivedAtMs ${c.receivedAtMs} (clockSkewMs ${ctx.config.clockSkewMs})`,
      ),
    );
}

function checkFunding(f: FundingObservation, ctx: RecordContext, hits: RuleHit[]): void {
  const max = ctx.config.funding.maxAbsRate;
  if (Math.abs(f.fundingRate) > max)
    push(
      hits,
      ruleHit(
        ctx.config,
        'funding.out_of_bounds',
        `funding.fundingRate ${f.fundingRate} (${f.kind}) is outside ±${max} (funding.maxAbsRate)`,
      ),
    );
}

function checkLiquidation(l: LiquidationEvent, ctx: RecordContext, hits: RuleHit[]): void {
  const known = ctx.lastClose;
  if (!known) return;
  const { priceBand, maxCloseDistanceMs } = ctx.config.liquidation;
  if (Math.abs(l.eventTimeMs - known.closeTimeMs) > maxCloseDistanceMs) return;
  const deviation = l.price / known.close - 1;
  if (Math.abs(deviation) > priceBand)
    push(
      hits,
      ruleHit(
        ctx.config,
        'liquidation.price_band',
        `liquidation.price ${l.price} is ${(deviation * 100).toFixed(2)}% from the last close ${known.close} (liquidation.priceBand ±${priceBand * 100}%)`,
      ),
    );
}
