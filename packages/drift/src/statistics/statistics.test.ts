import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DriftInputError } from '../errors.js';
import { kolmogorovSmirnov } from './ks.js';
import { populationStabilityIndex } from './psi.js';
import { wassersteinDistance } from './wasserstein.js';

/** Reference values from numpy/scipy: scripts/make-fixture.py (see its header for the formulas). */
interface FixtureCase {
  name: string;
  reference: number[];
  recent: number[];
  psi: number;
  psiEdges: number[];
  psiReferenceShares: number[];
  psiRecentShares: number[];
  ksStatistic: number;
  ksPValueExact: number;
  ksPValueAsymptotic: number;
  wasserstein: number;
  referenceStd: number;
  wassersteinNormalized: number | null;
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/statistics.json', import.meta.url), 'utf8'),
) as { psiBins: number; psiEpsilon: number; cases: FixtureCase[] };

function close(actual: number, expected: number, rel: number, abs: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= Math.max(abs, rel * Math.abs(expected)),
    `${what}: got ${actual}, scipy/numpy ${expected}`,
  );
}

describe('statistics against numpy/scipy (fixtures/statistics.json)', () => {
  assert.equal(fixture.cases.length, 13);
  for (const c of fixture.cases) {
    it(`${c.name}: PSI, KS, Wasserstein`, () => {
      const psi = populationStabilityIndex(c.reference, c.recent, {
        bins: fixture.psiBins,
        epsilon: fixture.psiEpsilon,
      });
      close(psi.psi, c.psi, 1e-9, 1e-12, 'psi');
      assert.deepEqual(psi.edges.length, c.psiEdges.length, 'edge count');
      for (const [i, e] of psi.edges.entries()) close(e, c.psiEdges[i] as number, 1e-12, 1e-15, `edge ${i}`);
      assert.deepEqual(psi.referenceShares, c.psiReferenceShares);
      assert.deepEqual(psi.recentShares, c.psiRecentShares);

      const ks = kolmogorovSmirnov(c.reference, c.recent);
      close(ks.statistic, c.ksStatistic, 1e-12, 1e-15, 'ks statistic');
      if (ks.method === 'exact') close(ks.pValue, c.ksPValueExact, 1e-7, 1e-300, 'ks exact p-value');
      // The asymptotic form (Stephens' correction) is within a few per cent of scipy's exact value.
      else close(ks.pValue, c.ksPValueExact, 0.05, 1e-12, 'ks asymptotic p-value');

      const w = wassersteinDistance(c.reference, c.recent);
      close(w.distance, c.wasserstein, 1e-9, 1e-15, 'wasserstein');
      close(w.referenceScale, c.referenceStd, 1e-9, 1e-15, 'reference std');
      if (c.wassersteinNormalized === null)
        assert.equal(w.normalized, c.wasserstein === 0 ? 0 : Infinity, 'constant reference');
      else close(w.normalized, c.wassersteinNormalized, 1e-9, 1e-15, 'normalised wasserstein');
    });
  }

  it('uses the exact KS p-value up to the configured n·m and the asymptotic one above it', () => {
    const big = fixture.cases.find((c) => c.name.startsWith('lognormal volume'));
    assert.ok(big);
    assert.equal(kolmogorovSmirnov(big.reference, big.recent).method, 'asymptotic');
    const exact = kolmogorovSmirnov(big.reference, big.recent, { exactMaxProduct: 4_000_000 });
    assert.equal(exact.method, 'exact');
    close(exact.pValue, big.ksPValueExact, 1e-6, 1e-300, 'exact p on 1500 x 2000');
  });
});

describe('edge cases', () => {
  it('identical samples: PSI 0, KS 0 with p 1, Wasserstein 0', () => {
    const s = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
    assert.equal(populationStabilityIndex(s, [...s]).psi, 0);
    assert.deepEqual(kolmogorovSmirnov(s, [...s]), { statistic: 0, pValue: 1, method: 'exact' });
    assert.equal(wassersteinDistance(s, [...s]).normalized, 0);
  });

  it('empty bins are floored at epsilon: PSI is finite and grows as epsilon shrinks', () => {
    const ref = Array.from({ length: 100 }, (_, i) => i);
    const cur = [0, 1, 2, 3];
    const a = populationStabilityIndex(ref, cur, { epsilon: 1e-4 });
    const b = populationStabilityIndex(ref, cur, { epsilon: 1e-6 });
    assert.equal(a.recentShares.filter((s) => s === 0).length, 9);
    assert.ok(Number.isFinite(a.psi) && Number.isFinite(b.psi));
    assert.ok(b.psi > a.psi);
    // Hand computation: one full bin (share 1 vs 0.1) + nine empty (1e-4 vs 0.1).
    const expected = (1 - 0.1) * Math.log(1 / 0.1) + 9 * (1e-4 - 0.1) * Math.log(1e-4 / 0.1);
    close(a.psi, expected, 1e-12, 0, 'hand-computed PSI');
  });

  it('constant series: two bins, no drift on the same constant, infinite normalised Wasserstein on another', () => {
    const ref = new Array(50).fill(0.0001);
    const same = populationStabilityIndex(ref, new Array(10).fill(0.0001));
    assert.deepEqual(same.edges, [0.0001]);
    assert.equal(same.psi, 0);
    assert.equal(wassersteinDistance(ref, new Array(10).fill(0.0001)).normalized, 0);
    const moved = wassersteinDistance(ref, new Array(10).fill(0.0003));
    assert.equal(moved.referenceScale, 0);
    assert.equal(moved.normalized, Infinity);
    close(moved.distance, 0.0002, 1e-9, 0, 'raw distance');
    // Below the constant: a bin of its own, so PSI sees it.
    assert.ok(populationStabilityIndex(ref, new Array(10).fill(-0.0001)).psi > 5);
  });

  it('tiny samples: one value each', () => {
    assert.deepEqual(kolmogorovSmirnov([1], [2]), { statistic: 1, pValue: 1, method: 'exact' });
    assert.equal(wassersteinDistance([1], [2]).distance, 1);
  });

  it('rejects empty and non-finite samples with a typed, non-retriable error', () => {
    for (const [ref, cur] of [
      [[], [1]],
      [[1], []],
      [[1, Number.NaN], [1]],
      [[1], [Infinity]],
    ] as [number[], number[]][]) {
      for (const fn of [populationStabilityIndex, kolmogorovSmirnov, wassersteinDistance])
        assert.throws(
          () => fn(ref, cur),
          (e: unknown) => e instanceof DriftInputError && e.code === 'drift.invalid_sample' && !e.retriable,
        );
    }
    assert.throws(() => populationStabilityIndex([1, 2], [1], { bins: 1 }), RangeError);
  });

  it('does not depend on input order', () => {
    const ref = [5, 3, 8, 1, 9, 2, 7];
    const cur = [4, 6, 2, 8];
    const rev = (a: number[]) => [...a].reverse();
    assert.equal(populationStabilityIndex(ref, cur).psi, populationStabilityIndex(rev(ref), rev(cur)).psi);
    assert.deepEqual(kolmogorovSmirnov(ref, cur), kolmogorovSmirnov(rev(ref), rev(cur)));
    assert.deepEqual(wassersteinDistance(ref, cur), wassersteinDistance(rev(ref), rev(cur)));
  });
});
