"""Exact theory (fpe_theory.exact) against brute-force enumeration of every mask."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from fpe_theory import Problem
from fpe_theory.brute import brute_direct, brute_exact
from fpe_theory.exact import dense_collisions, family_exact, paper_approximations, r_min, r_min_bounds

FIELDS = (
    "p_cover",
    "p_pair",
    "p_clause_missed",
    "union_bound",
    "p_all_covered",
    "expected_covered",
    "expected_collisions",
)

CASES = [
    # (m, k, alpha, family, r values)
    (8, 2, 2, "overlap", (1, 2)),
    (8, 1, 2, "overlap", (1, 2)),
    (6, 3, 2, "overlap", (1, 3)),
    (8, 2, 2, "random", (1, 2, 3)),
    (8, 2, 4, "random", (1, 2)),
    (8, 1, 4, "random", (1,)),
    (12, 3, 2, "random", (1, 2)),
    (6, 2, 3, "random", (1, 2, 3)),
    (6, 1, 3, "random", (1, 2)),
    (9, 3, 3, "random", (1, 2)),
    (8, 1, 2, "structured_2_4", (1, 2)),
    (8, 2, 2, "structured_2_4", (1, 2, 4)),
    (12, 2, 2, "structured_2_4", (1, 2)),
    (12, 3, 2, "structured_2_4", (1, 2)),
    (8, 4, 2, "structured_2_4", (1, 2)),
    (12, 1, 2, "structured_2_4", (1, 2)),
    (8, 1, 2, "clause", (1, 2)),
    (8, 2, 2, "clause", (1, 3)),
    (8, 1, 4, "clause", (1,)),
    (12, 2, 3, "clause", (1, 2)),
]


@pytest.mark.parametrize("m,k,alpha,family,rs", CASES)
def test_exact_equals_brute_force(m, k, alpha, family, rs):
    problem = Problem(m=m, k=k, alpha=alpha)
    for r in rs:
        exact = family_exact(problem, family, r)
        brute = brute_exact(problem, family, r)
        for name in FIELDS:
            assert getattr(exact, name) == getattr(brute, name), (family, r, name)


@pytest.mark.parametrize("family", ["overlap", "random", "structured_2_4", "clause"])
def test_folded_brute_force_equals_literal_enumeration(family):
    """The folding in brute_exact equals walking every tuple of masks (tiny case)."""
    problem = Problem(m=4, k=2, alpha=2) if family != "structured_2_4" else Problem(m=8, k=2, alpha=2)
    r = 1 if family == "overlap" or family == "structured_2_4" else 2
    assert brute_exact(problem, family, r) == brute_direct(problem, family, r)


def test_structured_permuted_clause_order_against_brute_force():
    perm = (0, 4, 1, 5, 2, 3, 6, 7)  # clauses {0,4}, {1,5}, {2,3}, {6,7}: linked groups
    problem = Problem(m=8, k=2, alpha=2, permutation=perm)
    for r in (1, 2):
        exact, brute = family_exact(problem, "structured_2_4", r), brute_exact(problem, "structured_2_4", r)
        for name in FIELDS:
            assert getattr(exact, name) == getattr(brute, name), name


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_structured_random_permutation_against_brute_force(seed):
    perm = tuple(random.Random(seed).sample(range(12), 12))  # explicit seed
    problem = Problem(m=12, k=2, alpha=2, permutation=perm)
    for r in (1, 2):
        exact, brute = family_exact(problem, "structured_2_4", r), brute_exact(problem, "structured_2_4", r)
        for name in FIELDS:
            assert getattr(exact, name) == getattr(brute, name), name


def test_structured_large_linked_component_is_a_clear_error():
    perm = tuple(random.Random(5).sample(range(64), 64))
    with pytest.raises(ValueError, match="structured_2_4: .* groups linked"):
        family_exact(Problem(m=64, k=2, alpha=2, permutation=perm), "structured_2_4", 1)


def test_structured_k4_aligned_never_covers_and_says_so():
    fe = family_exact(Problem(m=16, k=4, alpha=2), "structured_2_4", 5)
    assert fe.p_cover == 0 and fe.p_all_covered == 0 and fe.expected_covered == 0
    assert any("no clause can ever be covered" in n for n in fe.notes)
    assert r_min(Problem(m=16, k=4, alpha=2), "structured_2_4", 0.1) is None


def test_structured_k2_closed_form():
    """k = 2: a group's two clauses are covered together w.p. 1/3 per parent."""
    m, r = 16, 3
    fe = family_exact(Problem(m=m, k=2, alpha=2), "structured_2_4", r)
    assert fe.p_parent_cover == Fraction(1, 3)
    assert fe.p_all_covered == (1 - Fraction(2, 3) ** r) ** (m // 4)


def test_structural_zero_notes():
    fe = family_exact(Problem(m=8, k=4, alpha=4), "random", 2)  # d = 2 < k
    assert fe.p_all_covered == 0 and any("d=2 < k=4" in n for n in fe.notes)
    fe = family_exact(Problem(m=12, k=2, alpha=4), "overlap", 2)  # d = 3 < 2k
    assert fe.expected_collisions == 0 and any("collisions are impossible" in n for n in fe.notes)


def test_clause_family_is_deterministic():
    problem = Problem(m=16, k=2, alpha=2)
    fe = family_exact(problem, "clause", 3)
    assert fe.p_all_covered == 1 and fe.expected_collisions == 3 * 2 * 6  # alpha r C(C/alpha, 2)
    assert r_min(problem, "clause", 0.01) == 1


def test_dense_and_paper():
    problem = Problem(m=128, k=4, alpha=4)
    assert dense_collisions(problem, 8) == 8 * 32 * 31 // 2
    pa = paper_approximations(problem, 8, eps=0.01)
    assert pa.p_cover == Fraction(1, 256) and pa.collision_ratio == Fraction(1, 4**7)
    # smallest integer strictly greater than 4^3 ln(32/0.01) = 516.3...
    assert pa.r_min_paper == 517


@pytest.mark.parametrize("family", ["overlap", "random"])
def test_r_min_is_the_smallest_r(family):
    problem = Problem(m=32, k=2, alpha=4)
    eps = Fraction(1, 20)
    r = r_min(problem, family, eps)
    assert family_exact(problem, family, r).p_all_covered >= 1 - eps
    assert r == 1 or family_exact(problem, family, r - 1).p_all_covered < 1 - eps
    # plain upward search as the reference
    s = 1
    while family_exact(problem, family, s).p_all_covered < 1 - eps:
        s += 1
    assert s == r


@pytest.mark.parametrize("bad", [dict(r=0), dict(r=1.5)])
def test_bad_r(bad):
    with pytest.raises(ValueError, match="r="):
        family_exact(Problem(m=8, k=2, alpha=2), "overlap", **bad)


@pytest.mark.parametrize("eps", [0, 1, -0.5, 2, "x"])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="eps="):
        r_min(Problem(m=8, k=2, alpha=2), "overlap", eps)


def test_unknown_or_undefined_family():
    with pytest.raises(ValueError, match="family='nope'"):
        family_exact(Problem(m=8, k=2, alpha=2), "nope", 1)
    with pytest.raises(ValueError, match="alpha=4"):
        family_exact(Problem(m=16, k=2, alpha=4), "structured_2_4", 1)
    with pytest.raises(ValueError, match="alpha=4"):
        family_exact(Problem(m=24, k=4, alpha=4), "clause", 1)  # C = 6


@pytest.mark.parametrize("family", ["overlap", "random"])
def test_r_min_from_bonferroni_bounds_is_checked_by_the_full_sum(family):
    """m=128: the bounds alone decide r_min; the exact all-covered sum must agree."""
    problem, eps = Problem(m=128, k=4, alpha=4), Fraction(1, 100)
    r = r_min(problem, family, eps)
    assert family_exact(problem, family, r).p_all_covered >= 1 - eps
    assert family_exact(problem, family, r - 1).p_all_covered < 1 - eps


@pytest.mark.parametrize(
    "m,k,alpha,family", [(32, 2, 4, "overlap"), (32, 2, 4, "random"), (48, 2, 2, "structured_2_4")]
)
def test_r_min_bounds_contain_r_min(m, k, alpha, family):
    problem = Problem(m=m, k=k, alpha=alpha)
    for eps in (Fraction(1, 2), Fraction(1, 20), Fraction(1, 1000)):
        low, high = r_min_bounds(problem, family, eps)
        assert low <= r_min(problem, family, eps) <= high


def test_eps_as_numpy_float_is_its_shortest_decimal():
    """numpy floats are floats: np.float64(0.05) is read as 5/100, like the Python float 0.05."""
    import numpy as np

    from fpe_theory.exact import as_fraction_eps

    assert as_fraction_eps(np.float64(0.05)) == Fraction(1, 20) == as_fraction_eps(0.05)
