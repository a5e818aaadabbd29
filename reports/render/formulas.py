"""The A.5 formulas as (description, formula) pairs of LaTeX, typeset by sympy."""

from __future__ import annotations

import sympy as sp

from fpe_theory.symbolic import latex_forms

SYMBOLIC = (
    ("p_cover_binomial", "$p$, one child covers a given clause (A.5)"),
    ("p_cover", "the same as falling factorials, $d = m/\\alpha$"),
    ("p_cover_expansion", "large-$m$ expansion of $p$ (the paper keeps the leading term $\\alpha^{-k}$)"),
    ("p_pair_binomial", "$p'$, one child covers a given pair of clauses"),
    ("collision_ratio", "collision ratio $E_{\\mathrm{FPE}}/E_{\\mathrm{dense}} = \\alpha p'$"),
    ("collision_ratio_expansion", "its large-$m$ expansion (the paper keeps $\\alpha^{-(2k-1)}$)"),
)


def formulas() -> list[tuple[str, str]]:
    """(description (LaTeX), formula (LaTeX)) of the A.5 formulas, each typeset by sympy.

    Closed forms and expansions come from ``fpe_theory.symbolic.latex_forms``; the paper's
    union bound, its exponential form, its minimal r and the dense collision count are built here.
    """
    forms = latex_forms()
    out = [(text, forms[key]) for key, text in SYMBOLIC if key in forms]
    m, k, alpha, r, c, eps = sp.symbols("m k alpha r C epsilon", positive=True)
    p = sp.Symbol("p")
    out += [
        ("union bound", "P(\\text{some clause missed}) \\le " + sp.latex(c * (1 - p) ** (alpha * r))),
        ("the paper's exponential form of it", sp.latex(c * sp.exp(-r / alpha ** (k - 1)))),
        ("the paper's minimal $r$", sp.latex(sp.StrictGreaterThan(r, alpha ** (k - 1) * sp.log(c / eps)))),
        ("dense collisions $E_{\\mathrm{dense}}$", sp.latex(r * sp.binomial(c, 2))),
    ]
    return out
