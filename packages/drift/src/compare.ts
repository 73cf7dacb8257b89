import { type KsOptions, kolmogorovSmirnov } from './statistics/ks.js';
import { type PsiOptions, populationStabilityIndex } from './statistics/psi.js';
import { wassersteinDistance } from './statistics/wasserstein.js';

/** When a comparison counts as drift. Every field has a documented default (DRIFT_THRESHOLDS). */
export interface DriftThresholds {
  /** PSI at or above this is significant drift. Default 0.2. */
  psiSignificant: number;
  /** PSI at or above this (and below significant) is moderate. Default 0.1. */
  psiModerate: number;
  /** KS p-value below this rejects "same distribution". Default 0.05. */
  ksAlpha: number;
  /** Normalised Wasserstein-1 at or above this is drift. Default 0.1. */
  wassersteinNormalized: number;
  /**
   * How many of the three tests (PSI significant, KS p < alpha, normalised
   * Wasserstein ≥ threshold) must agree for a breach. Default 2: a single test
   * alone flags too often on autocorrelated market series.
   */
  minBreachingTests: 1 | 2 | 3;
}

export const DRIFT_THRESHOLDS: DriftThresholds = {
  psiSignificant: 0.2,
  psiModerate: 0.1,
  ksAlpha: 0.05,
  wassersteinNormalized: 0.1,
  minBreachingTests: 2,
};

export type PsiLevel = 'none' | 'moderate' | 'significant';

export interface DriftComparison {
  referenceCount: number;
  recentCount: number;
  psi: number;
  psiLevel: PsiLevel;
  ksStatistic: number;
  ksPValue: number;
  wassersteinNormalized: number;
  /** Which tests breached their threshold. */
  breaches: { psi: boolean; ks: boolean; wasserstein: boolean };
  breach: boolean;
}

export interface CompareOptions {
  thresholds?: Partial<DriftThresholds>;
  psi?: PsiOptions;
  ks?: KsOptions;
}

/** Runs the three tests of `recent` against `reference` and decides the breach. */
export function compareSamples(
  reference: readonly number[],
  recent: readonly number[],
  options: CompareOptions = {},
): DriftComparison {
  const t = { ...DRIFT_THRESHOLDS, ...options.thresholds };
  const { psi } = populationStabilityIndex(reference, recent, options.psi);
  const ks = kolmogorovSmirnov(reference, recent, options.ks);
  const w = wassersteinDistance(reference, recent);
  const breaches = {
    psi: psi >= t.psiSignificant,
    ks: ks.pValue < t.ksAlpha,
    wasserstein: w.normalized >= t.wassersteinNormalized,
  };
  const count = Number(breaches.psi) + Number(breaches.ks) + Number(breaches.wasserstein);
  return {
    referenceCount: reference.length,
    recentCount: recent.length,
    psi,
    psiLevel: psi >= t.psiSignificant ? 'significant' : psi >= t.psiModerate ? 'moderate' : 'none',
    ksStatistic: ks.statistic,
    ksPValue: ks.pValue,
    wassersteinNormalized: w.normalized,
    breaches,
    breach: count >= t.minBreachingTests,
  };
}
