"""Independent reference values for packages/drift's statistics, computed with numpy and scipy.

Writes JSON to stdout: `npm run fixture -w @perpflow/drift` (makes the venv with pinned
numpy/scipy, see ensure-scipy-venv.sh) regenerates packages/drift/fixtures/statistics.json.

- PSI: numpy only (scipy has none): interior edges = unique(np.quantile(reference,
  i/bins, method='linear')), bin of x = np.searchsorted(edges, x, side='right'),
  shares floored at epsilon, sum((r - e) * ln(r / e)).
- KS: scipy.stats.ks_2samp(reference, recent, method='exact') when scipy can do it
  exactly, and method='asymp' as well.
- Wasserstein: scipy.stats.wasserstein_distance, divided by np.std(reference) (ddof=0).
"""
import json
import sys
import warnings

import numpy as np
import scipy
from scipy import stats

BINS = 10
EPS = 1e-4


def psi(reference, recent, bins=BINS, eps=EPS):
    qs = np.quantile(reference, [i / bins for i in range(1, bins)], method="linear")
    edges = np.unique(qs)
    k = len(edges) + 1
    e = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=k) / len(reference)
    r = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=k) / len(recent)
    e2 = np.maximum(e, eps)
    r2 = np.maximum(r, eps)
    return float(np.sum((r2 - e2) * np.log(r2 / e2))), edges.tolist(), e.tolist(), r.tolist()


def case(name, reference, recent, note):
    reference = np.asarray(reference, dtype=float)
    recent = np.asarray(recent, dtype=float)
    value, edges, e, r = psi(reference, recent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = stats.ks_2samp(reference, recent, method="exact")
        asymp = stats.ks_2samp(reference, recent, method="asymp")
    w = float(stats.wasserstein_distance(reference, recent))
    sd = float(np.std(reference))
    return {
        "name": name,
        "note": note,
        "reference": reference.tolist(),
        "recent": recent.tolist(),
        "psi": value,
        "psiEdges": edges,
        "psiReferenceShares": e,
        "psiRecentShares": r,
        "ksStatistic": float(exact.statistic),
        "ksPValueExact": float(exact.pvalue),
        # NaN (scipy's asymptotic form on 1 vs 1) is not JSON: null.
        "ksPValueAsymptotic": None if np.isnan(asymp.pvalue) else float(asymp.pvalue),
        "wasserstein": w,
        "referenceStd": sd,
        "wassersteinNormalized": (w / sd) if sd > 0 else None,
    }


rng = np.random.default_rng(20261123)
r4 = lambda a: np.round(a, 6)  # short decimals keep the fixture readable and exact in JSON
cases = [
    case("normal, same distribution, 200 vs 300", r4(rng.normal(0, 1, 200)), r4(rng.normal(0, 1, 300)),
         "no drift expected"),
    case("normal, mean shift 0.5 sd, 200 vs 150", r4(rng.normal(0, 1, 200)), r4(rng.normal(0.5, 1, 150)),
         "drift in location"),
    case("normal, 3x volatility, 300 vs 120", r4(rng.normal(0, 0.001, 300)), r4(rng.normal(0, 0.003, 120)),
         "log returns whose volatility tripled (the simulator's distribution shift)"),
    case("lognormal volume, 1500 vs 2000 (asymptotic KS)", r4(rng.lognormal(0, 0.6, 1500)),
         r4(rng.lognormal(0.1, 0.6, 2000)), "n*m above the exact limit: asymptotic p-value"),
    case("student t heavy tails, 400 vs 400", r4(rng.standard_t(3, 400)), r4(rng.standard_t(3, 400) * 1.2),
         "equal sizes"),
    case("empty bins: recent only in the lowest decile", r4(rng.uniform(0, 1, 500)),
         r4(rng.uniform(0, 0.05, 60)), "nine recent bins empty: the epsilon floor decides PSI"),
    case("identical samples", r4(rng.normal(0, 1, 50)).tolist() * 2, r4(rng.normal(0, 1, 50)).tolist() * 2,
         "placeholder, replaced below"),
    case("discrete with ties (open-interest change mostly 0)",
         np.concatenate([np.zeros(160), r4(rng.normal(0, 0.01, 40))]),
         np.concatenate([np.zeros(50), r4(rng.normal(0, 0.01, 50))]), "quantile edges collapse on 0"),
    case("constant reference, equal recent", np.full(100, 0.0001), np.full(30, 0.0001),
         "funding rate that never changed: no drift; Wasserstein scale 0"),
    case("constant reference, different recent", np.full(100, 0.0001), np.full(30, 0.0003),
         "constant reference, the recent value moved: normalised Wasserstein is infinite"),
    case("tiny samples 1 vs 1", [1.0], [2.0], "smallest possible"),
    case("tiny samples 3 vs 2", [0.1, 0.4, 0.2], [0.3, 0.9], ""),
    case("tiny samples 5 vs 7", r4(rng.normal(0, 1, 5)), r4(rng.normal(1, 1, 7)), ""),
]
same = r4(rng.normal(0, 1, 80))
cases[6] = case("identical samples", same, same.copy(), "PSI 0, KS statistic 0 and p 1, Wasserstein 0")

json.dump(
    {
        "generatedBy": "packages/drift/scripts/make-fixture.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "psiBins": BINS,
        "psiEpsilon": EPS,
        "cases": cases,
    },
    sys.stdout,
    indent=1,
    allow_nan=False,
)
sys.stdout.write("\n")
