import type { DriftResult, SkippedComparison } from './domain/drift-book.js';
import type { MonitorMetrics } from './metrics.js';

/** Replaces the drift gauges with one evaluation round (series not compared this round have no sample). */
export function publishDriftGauges(
  m: MonitorMetrics,
  results: readonly DriftResult[],
  skipped: readonly SkippedComparison[],
  nowMs: number,
): void {
  for (const g of [m.psi, m.ksStatistic, m.ksPValue, m.wasserstein, m.breach, m.samples]) g.reset();
  for (const r of results) {
    const labels = { exchange: r.exchange, symbol: r.symbol, feature: r.feature };
    m.psi.set(labels, r.psi);
    m.ksStatistic.set(labels, r.ksStatistic);
    m.ksPValue.set(labels, r.ksPValue);
    m.wasserstein.set(labels, r.wassersteinNormalized);
    m.breach.set(labels, r.breach ? 1 : 0);
    m.samples.set({ ...labels, window: 'recent' }, r.recentCount);
    m.samples.set({ ...labels, window: 'reference' }, r.referenceCount);
  }
  for (const s of skipped) {
    if (s.reason === 'no_bars') continue;
    const labels = { exchange: s.exchange, symbol: s.symbol, feature: s.feature };
    m.samples.set({ ...labels, window: 'recent' }, s.recentCount);
    m.samples.set({ ...labels, window: 'reference' }, s.referenceCount);
  }
  m.evaluations.inc();
  m.lastEvaluation.set(nowMs / 1000);
}
