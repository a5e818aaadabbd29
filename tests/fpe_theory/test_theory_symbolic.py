"""Symbolic forms (fpe_theory.symbolic) against the exact Fractions and sympy's own series."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
import sympy as sp

from fpe_theory import Problem
from fpe_theory.exact import collision_ratio, family_exact
from fpe_theory.symbolic import closed_forms, evaluate, large_m_expansion, latex_forms, series_in_inverse_m, symbols


@pytest.mark.parametrize("m,k,alpha", [(8, 2, 2), (128, 4, 4), (96, 3, 4), (60, 2, 3)])
def test_closed_forms_equal_exact_fractions(m, k, alpha):
    forms = closed_forms()
    fe = family_exact(Problem(m=m, k=k, alpha=alpha), "overlap", 1)
    assert evaluate(forms.p_cover, m=m, k=k, alpha=alpha) == fe.p_cover
    assert evaluate(forms.p_cover_binomial, m=m, k=k, alpha=alpha) == fe.p_cover
    assert evaluate(forms.p_pair, m=m, k=k, alpha=alpha) == fe.p_pair
    assert evaluate(forms.p_pair_binomial, m=m, k=k, alpha=alpha) == Fraction(
        comb(m - 2 * k, m // alpha - 2 * k), comb(m, m // alpha)
    )
    assert evaluate(forms.collision_ratio, m=m, k=k, alpha=alpha) == collision_ratio(Problem(m=m, k=k, alpha=alpha))


@pytest.mark.parametrize("name,k", [("p_cover", 2), ("p_cover", 4), ("p_pair", 2), ("collision_ratio", 3)])
def test_general_expansion_matches_sympy_series_at_concrete_k(name, k):
    m, k_sym, alpha = symbols()
    x = sp.Symbol("x", positive=True)
    general = large_m_expansion(name).expr.subs(k_sym, k).subs(m, 1 / x)
    difference = sp.together(sp.expand(general - series_in_inverse_m(name, k)))
    assert sp.expand(sp.numer(difference)) == 0


def test_expansion_error_is_second_order():
    """exact - (leading + first correction) shrinks ~4x when m doubles (O(m^-2))."""
    m, k_sym, alpha = symbols()
    errors = []
    for mm in (1024, 2048, 4096):
        exact = collision_ratio(Problem(m=mm, k=4, alpha=4))
        approx = large_m_expansion("collision_ratio").expr.subs({k_sym: 4, alpha: 4, m: mm})
        errors.append(abs(float(exact - Fraction(str(sp.Rational(approx))))))
    assert 3.5 < errors[0] / errors[1] < 4.5 and 3.5 < errors[1] / errors[2] < 4.5


def test_leading_terms_are_the_papers():
    _, k, alpha = symbols()
    assert sp.simplify(large_m_expansion("p_cover").leading - alpha**-k) == 0
    assert sp.simplify(large_m_expansion("collision_ratio").leading - alpha ** (1 - 2 * k)) == 0
    tex = latex_forms()
    assert "\\alpha" in tex["collision_ratio_expansion"] and "O" in tex["collision_ratio_expansion"]
