import { z } from 'zod';
import type { DriftResult } from './drift-book.js';

/** `<prefix>/drift/v1/date=YYYY-MM-DD/drift-report.json`: one object per UTC day (of the evaluation), beside the dataset. */
export function driftReportKey(prefix: string, atMs: number): string {
  return `${prefix.replace(/\/+$/, '')}/drift/v1/date=${utcDate(atMs)}/drift-report.json`;
}

export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export interface DriftReportSettings {
  recentWindowMs: number;
  referenceWindowMs: number;
  reference: 'trailing' | 's3';
  baselineKey: string | null;
  thresholds: Record<string, number>;
}

interface BreachSpan {
  exchange: string;
  symbol: string;
  feature: string;
  kind: DriftResult['kind'];
  firstAtMs: number;
  lastAtMs: number;
  evaluations: number;
  maxPsi: number;
  minKsPValue: number;
  /** null: +Infinity (constant reference that moved). */
  maxWassersteinNormalized: number | null;
}

/**
 * The day's report: the latest comparison of every series and feature, and each
 * breach seen that day (first and last evaluation, worst values). Rebuilt in memory
 * and rewritten whole; a new UTC day starts a new report. Infinity is written as null.
 */
export class DailyDriftReport {
  private date: string | null = null;
  private latest = new Map<string, DriftResult & { evaluatedAtMs: number }>();
  private breaches = new Map<string, BreachSpan>();

  constructor(private readonly settings: DriftReportSettings) {}

  record(results: readonly DriftResult[], atMs: number): void {
    const date = utcDate(atMs);
    if (date !== this.date) {
      this.date = date;
      this.latest = new Map();
      this.breaches = new Map();
    }
    for (const r of results) {
      const key = `${r.exchange}|${r.symbol}|${r.feature}`;
      this.latest.set(key, { ...r, evaluatedAtMs: atMs });
      if (!r.breach) continue;
      const b = this.breaches.get(key);
      if (!b)
        this.breaches.set(key, {
          exchange: r.exchange,
          symbol: r.symbol,
          feature: r.feature,
          kind: r.kind,
          firstAtMs: atMs,
          lastAtMs: atMs,
          evaluations: 1,
          maxPsi: r.psi,
          minKsPValue: r.ksPValue,
          maxWassersteinNormalized: finite(r.wassersteinNormalized),
        });
      else {
        b.lastAtMs = atMs;
        b.evaluations++;
        b.maxPsi = Math.max(b.maxPsi, r.psi);
        b.minKsPValue = Math.min(b.minKsPValue, r.ksPValue);
        b.maxWassersteinNormalized =
          b.maxWassersteinNormalized === null || !Number.isFinite(r.wassersteinNormalized)
            ? null
            : Math.max(b.maxWassersteinNormalized, r.wassersteinNormalized);
      }
    }
  }

  /** The report as written (null before the first record). */
  toJSON(generatedAtMs: number): DriftReport | null {
    if (this.date === null) return null;
    const sortKey = (a: { exchange: string; symbol: string; feature: string }) =>
      `${a.exchange}|${a.symbol}|${a.feature}`;
    const byKey = <T extends { exchange: string; symbol: string; feature: string }>(a: T, b: T) =>
      sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0;
    return {
      schema: 'perpflow.drift.report.v1',
      date: this.date,
      generatedAtMs,
      settings: this.settings,
      latest: [...this.latest.values()].sort(byKey).map((r) => ({
        exchange: r.exchange,
        symbol: r.symbol,
        feature: r.feature,
        kind: r.kind,
        evaluatedAtMs: r.evaluatedAtMs,
        recentFromMs: r.recentFromMs,
        recentToMs: r.recentToMs,
        referenceCount: r.referenceCount,
        recentCount: r.recentCount,
        psi: r.psi,
        psiLevel: r.psiLevel,
        ksStatistic: r.ksStatistic,
        ksPValue: r.ksPValue,
        wassersteinNormalized: finite(r.wassersteinNormalized),
        breaches: r.breaches,
        breach: r.breach,
      })),
      breaches: [...this.breaches.values()].sort(byKey),
    };
  }
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

export const DriftReportSchema = z.object({
  schema: z.literal('perpflow.drift.report.v1'),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  generatedAtMs: z.number().int(),
  settings: z.object({
    recentWindowMs: z.number(),
    referenceWindowMs: z.number(),
    reference: z.enum(['trailing', 's3']),
    baselineKey: z.string().nullable(),
    thresholds: z.record(z.string(), z.number()),
  }),
  latest: z.array(
    z.object({
      exchange: z.string(),
      symbol: z.string(),
      feature: z.string(),
      kind: z.enum(['trailing', 'baseline', 'cross_venue']),
      evaluatedAtMs: z.number().int(),
      recentFromMs: z.number().int(),
      recentToMs: z.number().int(),
      referenceCount: z.number().int(),
      recentCount: z.number().int(),
      psi: z.number(),
      psiLevel: z.enum(['none', 'moderate', 'significant']),
      ksStatistic: z.number(),
      ksPValue: z.number(),
      wassersteinNormalized: z.number().nullable(),
      breaches: z.object({ psi: z.boolean(), ks: z.boolean(), wasserstein: z.boolean() }),
      breach: z.boolean(),
    }),
  ),
  breaches: z.array(
    z.object({
      exchange: z.string(),
      symbol: z.string(),
      feature: z.string(),
      kind: z.enum(['trailing', 'baseline', 'cross_venue']),
      firstAtMs: z.number().int(),
      lastAtMs: z.number().int(),
      evaluations: z.number().int(),
      maxPsi: z.number(),
      minKsPValue: z.number(),
      maxWassersteinNormalized: z.number().nullable(),
    }),
  ),
});
export type DriftReport = z.infer<typeof DriftReportSchema>;
