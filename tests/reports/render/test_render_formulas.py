"""The A.5 formulas of the report, typeset by sympy."""

from reports.render import formulas


def test_formulas_are_sympy_latex():
    items = dict(formulas.formulas())
    assert "binom" in items["$p$, one child covers a given clause (A.5)"]
    assert "\\alpha" in items["the paper's minimal $r$"] and "\\log" in items["the paper's minimal $r$"]
