import { z } from 'zod';
import { RECORD_SCHEMAS, type RecordKind } from './schemas.js';

/**
 * JSON Schema (draft 2020-12) for non-TypeScript consumers. Cross-field rules
 * (high ≥ low, OHLC body, candle event time = open time, the seconds-vs-ms
 * diagnosis) are not expressible in JSON Schema: they are enforced by the zod
 * schemas and listed in each file's `x-perpflow-refinements`.
 */
const REFINEMENTS: Partial<Record<RecordKind, string[]>> = {
  candle: ['ohlc.high_below_low', 'ohlc.high_below_body', 'ohlc.low_above_body', 'candle.event_time'],
  aligned_bar: [
    'ohlc.high_below_low',
    'liquidation.not_null_without_source',
    'liquidation.null_with_source',
    'open_interest.missing_reason_mismatch',
  ],
};

export function jsonSchemaOf(kind: RecordKind): Record<string, unknown> {
  const schema = z.toJSONSchema(RECORD_SCHEMAS[kind], {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  });
  return {
    ...schema,
    $id: `https://perpflow.dev/schemas/${kind}.v1.schema.json`,
    title: kind,
    'x-perpflow-refinements': REFINEMENTS[kind] ?? [],
  };
}

export function allJsonSchemas(): Record<RecordKind, Record<string, unknown>> {
  const out = {} as Record<RecordKind, Record<string, unknown>>;
  for (const kind of Object.keys(RECORD_SCHEMAS) as RecordKind[]) out[kind] = jsonSchemaOf(kind);
  return out;
}
