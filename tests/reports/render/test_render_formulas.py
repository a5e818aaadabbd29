"""The A.5 formulas of the report, typeset by sympy."""

from reports.render import formulas


def test_formulas_are_sympy_latex():
    items = dict(formulas.formulas())
    assert "binom" in items["$p$, one child covers a given clause (A.5)"]
    assert "\\alpha" in items["the paper's minimal $r$"] and "\\log" in items["the paper's minimal $r$"]


def test_every_description_ends_in_words_and_the_relation_sits_in_the_formula():
    for text, _ in formulas.formulas():
        assert not text.rstrip("$").rstrip().endswith(("\\le", "\\ge", "=", ":")), text
    bound = dict(formulas.formulas())["union bound"]
    assert bound.startswith("P(\\text{some clause missed}) \\le ")
