"""Symbolic forms of the paper's quantities (A.5) with sympy: closed forms, large-m expansions, LaTeX.

With d = m/alpha and falling factorials (x)_k = x (x-1) ... (x-k+1):

    p          = C(m-k, d-k) / C(m, d)   = (d)_k / (m)_k   ~ alpha^-k (1 - (alpha-1) k(k-1) / (2m))
    p'         = C(m-2k, d-2k) / C(m, d) = (d)_2k / (m)_2k ~ alpha^-2k (1 - (alpha-1) 2k(2k-1) / (2m))
    alpha p'   (collision ratio E_FPE / E_dense)          ~ alpha^-(2k-1) (1 - (alpha-1) k(2k-1) / m)

The first correction comes from log((d-i)/(m-i)) = -log alpha - (alpha-1) i / m + O(m^-2),
summed over i = 0..k-1. sympy is imported lazily (it costs ~0.3 s), only by this module.

>>> f = closed_forms()
>>> evaluate(f.p_cover, m=8, k=2, alpha=2)
Fraction(3, 14)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

NAMES = ("p_cover", "p_pair", "collision_ratio")


@dataclass(frozen=True)
class SymbolicForms:
    """sympy expressions in the symbols m, k, alpha (d = m/alpha substituted)."""

    p_cover: object
    p_pair: object
    collision_ratio: object
    p_cover_binomial: object
    p_pair_binomial: object


@dataclass(frozen=True)
class Expansion:
    """Large-m expansion ``leading * (1 + correction) + O(m^-2)`` of one quantity."""

    name: str
    leading: object  # alpha^-k, alpha^-2k, alpha^-(2k-1)
    correction: object  # the O(1/m) relative correction
    expr: object  # leading * (1 + correction)


@lru_cache(maxsize=1)
def symbols():
    """The positive integer symbols (m, k, alpha)."""
    import sympy as sp

    return sp.symbols("m k alpha", positive=True, integer=True)


@lru_cache(maxsize=1)
def closed_forms() -> SymbolicForms:
    """Exact closed forms of p, p' and alpha p' (falling-factorial and binomial forms)."""
    import sympy as sp

    m, k, alpha = symbols()
    d = m / alpha
    p = sp.ff(d, k) / sp.ff(m, k)
    p_pair = sp.ff(d, 2 * k) / sp.ff(m, 2 * k)
    return SymbolicForms(
        p_cover=p,
        p_pair=p_pair,
        collision_ratio=alpha * p_pair,
        p_cover_binomial=sp.binomial(m - k, d - k) / sp.binomial(m, d),
        p_pair_binomial=sp.binomial(m - 2 * k, d - 2 * k) / sp.binomial(m, d),
    )


def _relative_correction(n_factors):
    """First-order term in 1/m of prod_{i<n} ((m/alpha - i)/(m - i)) / alpha^-n, derived by sympy."""
    import sympy as sp

    m, _, alpha = symbols()
    i, x = sp.symbols("i x", nonnegative=True)
    term = sp.series(sp.log((1 - alpha * i * x) / (1 - i * x)), x, 0, 2).removeO()  # per factor, x = 1/m
    first = sp.summation(sp.expand(term).coeff(x, 1), (i, 0, n_factors - 1))
    return sp.factor(first / m)


@lru_cache(maxsize=8)
def large_m_expansion(name: str) -> Expansion:
    """Leading term and first 1/m correction of ``name`` in NAMES, for symbolic k."""
    import sympy as sp

    if name not in NAMES:
        raise ValueError(f"name={name!r}: must be one of {', '.join(NAMES)}")
    _, k, alpha = symbols()
    n_factors = k if name == "p_cover" else 2 * k
    leading = alpha ** (-n_factors) * (alpha if name == "collision_ratio" else 1)
    leading = sp.powsimp(leading)
    correction = _relative_correction(n_factors)
    return Expansion(name, leading, correction, leading * (1 + correction))


def series_in_inverse_m(name: str, k: int, order: int = 2):
    """sympy series at a concrete k in x = 1/m up to O(x^order) (a check on the general form).

    Uses (d - i)/(m - i) = (1/alpha - i x)/(1 - i x) for each factor of the falling factorials.
    """
    import sympy as sp

    _, _, alpha = symbols()
    if name not in NAMES:
        raise ValueError(f"name={name!r}: must be one of {', '.join(NAMES)}")
    x = sp.Symbol("x", positive=True)
    n_factors = k if name == "p_cover" else 2 * k
    expr = sp.Mul(*[(1 / alpha - i * x) / (1 - i * x) for i in range(n_factors)])
    if name == "collision_ratio":
        expr = alpha * expr
    # Taylor coefficients by differentiation (sympy's series() is slow on products of rationals).
    terms, derivative = [], expr
    for j in range(order):
        terms.append(sp.simplify(derivative.subs(x, 0)) / sp.factorial(j) * x**j)
        derivative = sp.diff(derivative, x)
    return sp.Add(*terms)


def evaluate(expr, **values) -> Fraction:
    """Substitute integers for m, k, alpha and return the exact value as a Fraction."""
    import sympy as sp

    m, k, alpha = symbols()
    subs = {s: values[str(s)] for s in (m, k, alpha) if str(s) in values}
    value = sp.nsimplify(sp.expand_func(expr.subs(subs)))
    value = sp.Rational(value)
    return Fraction(int(value.p), int(value.q))


def latex_forms() -> dict[str, str]:
    """LaTeX of every closed form and expansion, keyed by name (for reports)."""
    import sympy as sp

    forms = closed_forms()
    out = {}
    for name in NAMES:
        exp = large_m_expansion(name)
        out[name] = sp.latex(getattr(forms, name))
        out[f"{name}_leading"] = sp.latex(exp.leading)
        out[f"{name}_expansion"] = sp.latex(exp.leading) + r"\left(1 " + _signed_latex(exp.correction) + r"\right)"
        out[f"{name}_expansion"] += r" + O\!\left(m^{-2}\right)"
    out["p_cover_binomial"] = sp.latex(forms.p_cover_binomial)
    out["p_pair_binomial"] = sp.latex(forms.p_pair_binomial)
    return out


def plain_forms() -> dict[str, str]:
    """Plain-text (sympy str) of every closed form and expansion, same keys as ``latex_forms``."""
    forms = closed_forms()
    out = {}
    for name in NAMES:
        exp = large_m_expansion(name)
        out[name] = str(getattr(forms, name))
        out[f"{name}_leading"] = str(exp.leading)
        out[f"{name}_expansion"] = f"{exp.leading} * ({1 + exp.correction}) + O(m**-2)"
    out["p_cover_binomial"] = str(forms.p_cover_binomial)
    out["p_pair_binomial"] = str(forms.p_pair_binomial)
    return out


def _signed_latex(expr) -> str:
    import sympy as sp

    text = sp.latex(expr)
    return text if text.startswith("-") else "+ " + text
