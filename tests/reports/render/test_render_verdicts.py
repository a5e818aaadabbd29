"""The rendered ledger: Markdown and LaTeX tables with every entry, maths as maths, no '-0.0'."""

import re

import pytest

from reports.compute.verdicts import Verdict
from reports.render.verdicts import effect_text, latex_table, markdown_table, paragraph, signed, tex


def _v(id_, direction="supported", in_paper=True, effect=3.14, ci=(1.0, 5.0), unit="pts", n=20, paper=10.0):
    return Verdict(
        id=id_,
        name=id_.lower(),
        claim=f"claim {id_} about alpha",
        source="Section 3.1",
        quote="q",
        in_paper=in_paper,
        evidence="e",
        unit=unit,
        unit_of_analysis="trial",
        direction=direction,
        size="smaller than reported",
        scope="paper's setting",
        robustness="robust",
        effect=effect,
        ci=ci,
        confidence=0.994,
        n=n,
        p=0.01,
        p_adj=0.02,
        paper=paper,
    )


def test_signed_never_prints_minus_zero():
    assert signed(-0.04, 1) == "0.0"
    assert signed(-0.06, 1) == "-0.1"
    assert signed(2.0, 1) == "+2.0"


def test_effect_text_names_the_interval_level_and_unit():
    assert effect_text(_v("E1a")) == "+3.1 [+1.0, +5.0] pts (99.4 %)"


def test_markdown_table_has_every_entry_and_separates_the_checks_beyond_the_paper():
    md = markdown_table([_v("E1a"), _v("E2a", direction="undecided"), _v("B1", in_paper=False)])
    paper, beyond = md.split("Beyond the paper")
    assert "| E1a |" in paper and "| E2a |" in paper and "| B1 |" not in paper
    assert "| B1 |" in beyond
    for line in md.splitlines():
        if line.startswith("| E") or line.startswith("| B"):
            assert line.count("|") == 10  # nine cells, no stray pipe


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("(1/alpha)^k", "$(1/\\alpha)^k$"),
        ("alpha^-(2k-1)", "$\\alpha^{-(2k-1)}$"),
        (">= 1-eps", "$\\ge$ $1-\\varepsilon$"),
        ("|cos|", "$|\\cos|$"),
        ("every alpha", "every $\\alpha$"),
    ],
)
def test_formulas_are_typeset_as_maths(text, want):
    assert tex(text) == want


def test_latex_table_rows_have_as_many_cells_as_the_header():
    t = latex_table([_v("E1a"), _v("T1", unit="exact / approximation")])
    rows = [r for r in t.splitlines() if r.endswith("\\\\")]
    assert len({len(re.split(r"(?<!\\)&", r)) for r in rows}) == 1


def test_paragraph_says_what_would_decide_each_undecided_claim():
    from dataclasses import replace

    more = replace(_v("E2a", direction="undecided"), n_needed=40.0)
    never = replace(_v("E4b", direction="undecided"), n_needed=float("inf"), n_of="configs")
    text = paragraph([_v("E1a"), more, never])
    assert "E2a, needs 40 trials per configuration for 80 % power (20 stored)" in text
    assert "E4b, undecidable at this budget (needs more than 10000 configs)" in text


def test_paragraph_counts_only_the_paper_s_claims():
    text = paragraph([_v("E1a"), _v("E2a", direction="undecided"), _v("B1", in_paper=False)])
    assert text.startswith("Of the 2 claims of the paper checked here, 1 is supported")
    assert "B1" not in text
