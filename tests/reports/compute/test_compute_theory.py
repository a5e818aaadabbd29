"""Theory tables of the report against brute-force enumeration and the paper's closed forms."""

import itertools
import math
from fractions import Fraction

from reports.compute import theory


def _brute_p(m, k, d):
    """Fraction of d-subsets of range(m) that contain the clause {0..k-1} (enumeration)."""
    subsets = list(itertools.combinations(range(m), d))
    return Fraction(sum(set(range(k)) <= set(s) for s in subsets), len(subsets))


def _brute_pair(m, k, d):
    subsets = list(itertools.combinations(range(m), d))
    return Fraction(sum(set(range(2 * k)) <= set(s) for s in subsets), len(subsets))


def test_grid_matches_enumeration_and_paper_forms():
    g = theory.approximation_grid(ms=(8, 12), ks=(2,), alphas=(2,), families=("overlap",))
    for r in g.itertuples():
        d = r.m // r.alpha
        assert r.p_exact == _brute_p(r.m, r.k, d)
        assert r.p_paper == Fraction(1, r.alpha**r.k)
        assert r.ratio_exact == r.alpha * _brute_pair(r.m, r.k, d)  # E_FPE / E_dense = alpha p'
        assert r.ratio_paper == Fraction(1, r.alpha ** (2 * r.k - 1))
        assert math.isclose(r.p_ratio, float(r.p_exact / r.p_paper))


def test_r_min_table_paper_column_is_the_closed_form():
    t = theory.r_min_table([(16, 4, 2)], eps_values=(0.05,))
    row = t.iloc[0]
    assert row.paper == math.floor(2**3 * math.log(4 / 0.05)) + 1
    assert row.overlap >= 1 and row.random >= 1


def test_monte_carlo_table_is_seeded_and_near_exact():
    a = theory.monte_carlo_table([(16, 2, 2, "random", 2)], mc_trials=500, seed=1)
    b = theory.monte_carlo_table([(16, 2, 2, "random", 2)], mc_trials=500, seed=1)
    assert a.equals(b)
    assert (a["z"].abs() < 5).all()
    assert set(a["quantity"]) >= {"p_all_covered", "expected_collisions"}
