"""Exact laws against scipy.stats and against basic probability identities."""

from __future__ import annotations

from fractions import Fraction
from math import comb, factorial

import pytest
from scipy import stats

from fpe_theory import Problem
from fpe_theory.exact import family_exact, law, p_all_covered_bounds
from fpe_theory.families import FAMILIES, check_family, defined_families
from fpe_theory.subsets import block_counts


@pytest.mark.parametrize("m,k,alpha", [(128, 4, 4), (64, 2, 2), (90, 3, 3)])
def test_p_is_hypergeometric(m, k, alpha):
    """A d-subset contains all k literals of a clause: hypergeom.pmf(k; M=m, n=k, N=d)."""
    p = family_exact(Problem(m=m, k=k, alpha=alpha), "overlap", 1).p_cover
    assert float(p) == pytest.approx(stats.hypergeom.pmf(k, m, k, m // alpha), rel=1e-12)


@pytest.mark.parametrize("family", ["overlap", "random"])
def test_probability_identities(family):
    problem = Problem(m=64, k=4, alpha=4)
    previous = Fraction(0)
    for r in (1, 4, 16, 64, 128):
        fe = family_exact(problem, family, r)
        assert 0 <= fe.p_all_covered <= 1
        assert 1 - fe.p_all_covered <= fe.union_bound  # union bound holds
        assert fe.p_all_covered >= previous  # monotone in r
        previous = fe.p_all_covered
        assert fe.expected_covered == problem.clauses * (1 - fe.p_clause_missed)


def test_partition_counts_sum_to_the_number_of_splits():
    """block_counts[0] is every ordered split: the multinomial m!/(d!)^alpha."""
    m, k, alpha = 24, 2, 3
    counts = block_counts(m, k, alpha)
    assert counts[0] == factorial(m) // factorial(m // alpha) ** alpha
    assert counts[1] * comb(m, m // alpha) == counts[0] * alpha * comb(m - k, m // alpha - k)  # P_1 = alpha p


def test_partition_parent_cover_is_alpha_p_and_independent_is_1_minus_power():
    problem = Problem(m=128, k=4, alpha=4)
    p = law(problem, "random").p_cover
    assert family_exact(problem, "random", 1).p_parent_cover == 4 * p
    assert family_exact(problem, "overlap", 1).p_parent_cover == 1 - (1 - p) ** 4


def test_families_registry():
    assert FAMILIES == ("overlap", "random", "structured_2_4", "clause")
    assert defined_families(Problem(m=128, k=4, alpha=4)) == ("overlap", "random", "clause")
    with pytest.raises(ValueError, match="m=6"):
        check_family(Problem(m=6, k=1, alpha=2), "structured_2_4")


def test_structured_2_4_with_pairs_against_its_closed_form():
    """k = 2, consecutive clauses: each aligned group of 4 inputs holds two clauses. Of its 6 equally likely
    2/2 splits, 2 give each child one whole clause ({0,1} | {2,3} either way) and 4 cover neither; groups
    and parents are independent. So a parent covers a given group w.p. q = 1/3, and a child covers
    X ~ Binomial(G, q) clauses (G = m/4 groups), E[X(X-1)/2] = C(G, 2) q^2."""
    m, r = 64, 7
    groups, q = m // 4, Fraction(1, 3)
    fe = family_exact(Problem(m=m, k=2, alpha=2), "structured_2_4", r)
    miss = (1 - q) ** r
    assert fe.p_all_covered == (1 - miss) ** groups
    assert fe.expected_covered == 2 * groups * (1 - miss)
    assert fe.expected_collisions == 2 * r * comb(groups, 2) * q**2


@pytest.mark.parametrize("family", ["overlap", "random", "structured_2_4", "clause"])
def test_bonferroni_bounds_contain_the_exact_probability(family):
    problem = Problem(m=64, k=2, alpha=2)
    for r in (1, 5, 20, 60):
        low, high = p_all_covered_bounds(problem, family, r)
        assert low <= family_exact(problem, family, r).p_all_covered <= high
