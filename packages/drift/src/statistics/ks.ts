import { sortedSample } from './sample.js';

export interface KsOptions {
  /**
   * The exact p-value (lattice-path count, as scipy's `ks_2samp(method='exact')`) is
   * computed when n·m is at most this; above it the asymptotic Kolmogorov distribution
   * with Stephens' small-sample correction. Cost of the exact path is O(n·m).
   * Default 1,000,000.
   */
  exactMaxProduct?: number;
}

export interface KsResult {
  /** sup |F_reference(x) − F_recent(x)| over all x. */
  statistic: number;
  /** Two-sided p-value under H0: both samples come from one continuous distribution. */
  pValue: number;
  method: 'exact' | 'asymptotic';
}

export const KS_DEFAULTS = { exactMaxProduct: 1_000_000 } as const;

/** Two-sample Kolmogorov–Smirnov test, two-sided. Ties are counted exactly in the statistic. */
export function kolmogorovSmirnov(
  reference: readonly number[],
  recent: readonly number[],
  options: KsOptions = {},
): KsResult {
  const a = sortedSample(reference, 'reference');
  const b = sortedSample(recent, 'recent');
  const n = a.length;
  const m = b.length;
  // Both ECDFs change only at data points: the supremum is attained at one of them.
  let d = 0;
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    const x = Math.min(i < n ? (a[i] as number) : Infinity, j < m ? (b[j] as number) : Infinity);
    while (i < n && (a[i] as number) <= x) i++;
    while (j < m && (b[j] as number) <= x) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  if (n * m <= (options.exactMaxProduct ?? KS_DEFAULTS.exactMaxProduct)) {
    const exact = exactPValue(n, m, d);
    return { statistic: exact.statistic, pValue: exact.pValue, method: 'exact' };
  }
  const en = (n * m) / (n + m);
  const lambda = (Math.sqrt(en) + 0.12 + 0.11 / Math.sqrt(en)) * d;
  return { statistic: d, pValue: kolmogorovSurvival(lambda), method: 'asymptotic' };
}

/**
 * P(D ≥ d) for samples of sizes n and m under H0, by walking the lattice of
 * merged orders: Q(i, j) is the probability that a uniformly random path to
 * (i, j) has left the band |i/n − j/m| < d; Q(i, j) = 1 outside the band, else
 * (i·Q(i−1, j) + j·Q(i, j−1)) / (i + j). Summing positive terms only keeps tiny
 * p-values accurate (no 1 − p cancellation). d is first snapped to the lattice
 * (h / lcm(n, m)), as floating-point ECDF differences are.
 */
function exactPValue(n: number, m: number, d: number): { statistic: number; pValue: number } {
  const g = gcd(n, m);
  const lcm = (n / g) * m;
  const h = Math.round(d * lcm);
  const statistic = h / lcm;
  if (h === 0) return { statistic, pValue: 1 };
  // |i/n − j/m| ≥ h/lcm  ⇔  |i·m − j·n| ≥ h·g (all integers).
  const bound = h * g;
  const q = new Float64Array(m + 1);
  for (let j = 1; j <= m; j++) q[j] = Math.abs(j * n) >= bound ? 1 : (q[j - 1] as number);
  for (let i = 1; i <= n; i++) {
    q[0] = Math.abs(i * m) >= bound ? 1 : (q[0] as number);
    for (let j = 1; j <= m; j++)
      q[j] =
        Math.abs(i * m - j * n) >= bound ? 1 : (i * (q[j] as number) + j * (q[j - 1] as number)) / (i + j);
  }
  return { statistic, pValue: Math.min(1, q[m] as number) };
}

/** Kolmogorov's limiting distribution: P(K > λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}. */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 0.2) return 1; // the series converges slowly there; the value is 1 to 1e-16
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return Math.max(0, Math.min(1, 2 * sum));
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
