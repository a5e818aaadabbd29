"""Monte Carlo against the exact theory (fpe_theory.exact) over a grid of problems and every family."""

from __future__ import annotations

from fractions import Fraction

import pytest

from fpe_theory import Problem
from fpe_theory.exact import family_exact
from fpe_theory.families import defined_families
from simulations.montecarlo import Comparison, compare, simulate

GRID = [
    (8, 2, 2, 1),
    (8, 2, 2, 3),
    (12, 3, 2, 2),
    (16, 2, 2, 2),
    (16, 4, 2, 4),
    (24, 3, 4, 2),
    (24, 2, 3, 3),
    (32, 4, 2, 3),
    (64, 2, 4, 2),
    (128, 4, 4, 8),
]


@pytest.mark.parametrize("m,k,alpha,r", GRID)
def test_monte_carlo_agrees_with_exact_theory(m, k, alpha, r):
    problem = Problem(m, k, alpha)
    for family in defined_families(problem):
        res = simulate(problem, family, r, trials=40_000, seed=7)
        rows = compare(res, family_exact(problem, family, r))
        checked = [c for c in rows if c.exact is not None]
        assert {c.quantity for c in checked} >= {"p_all_covered", "expected_covered", "expected_collisions"}
        bad = [(c.quantity, float(c.exact), c.estimate, c.z) for c in checked if c.flag]
        assert not bad, (family, bad)


def test_compare_flags_a_wrong_exact_value():
    problem = Problem(16, 2, 2)
    res = simulate(problem, "random", 2, trials=20_000, seed=1)
    exact = family_exact(problem, "random", 2)

    class Wrong:
        p_all_covered = exact.p_all_covered
        expected_covered = exact.expected_covered + Fraction(1, 10)
        expected_collisions = exact.expected_collisions

    rows = {c.quantity: c for c in compare(res, Wrong())}
    assert rows["expected_covered"].flag and rows["expected_covered"].z < -4
    assert not rows["expected_collisions"].flag
    assert rows["neurons_cover_ge1"].exact is None and rows["neurons_cover_ge1"].z is None
    assert isinstance(rows["p_all_covered"], Comparison)


def test_proportion_z_uses_the_exact_stderr():
    problem = Problem(8, 2, 2)
    res = simulate(problem, "clause", 1, trials=1_000, seed=0)  # every clause always covered
    rows = {c.quantity: c for c in compare(res, family_exact(problem, "clause", 1))}
    assert rows["p_all_covered"].exact == 1 and rows["p_all_covered"].z == 0.0 and not rows["p_all_covered"].flag

    class Impossible:
        p_all_covered = Fraction(0)

    row = compare(res, Impossible())[0]
    assert row.flag and row.z == float("inf")
