"""LaTeX helpers: escaping, number formatting, the log excerpt, and a real LaTeX error when TeX is installed."""

import shutil
from fractions import Fraction

import pytest

from reports.render import latex


def test_escape_every_special_character():
    assert latex.escape("a_b & 50% $x #1 {y} ~ ^") == (
        r"a\_b \& 50\% \$x \#1 \{y\} \textasciitilde{} \textasciicircum{}"
    )
    assert latex.escape("back\\slash") == r"back\textbackslash{}slash"


def test_number_formats():
    assert latex.fmt(0.12345) == "0.123"
    assert latex.fmt(7) == "7"
    assert latex.fmt(None) == "--" and latex.fmt(float("nan")) == "--"
    assert latex.fmt(1.5e-6, 3) == r"$1.50\times 10^{-6}$"
    assert latex.pct(0.787) == r"78.7\%"
    assert latex.pm(0.5, 1e-17, 2) == r"0.50 $\pm$ 0.00"
    assert latex.frac(Fraction(3, 14)) == "$3/14$" and latex.frac(Fraction(4, 2)) == "2"


def test_table_has_booktabs_rules():
    t = latex.table(["a", "b"], [["1", "2"]])
    assert r"\toprule" in t and r"\bottomrule" in t and "1 & 2" in t


def test_log_excerpt_takes_bang_lines_and_the_next():
    log = "ok\n! Undefined control sequence.\nl.7 \\foo\nmore\n! Emergency stop.\n<*> x\n"
    assert latex.log_excerpt(log) == ("! Undefined control sequence.", "l.7 \\foo", "! Emergency stop.", "<*> x")


@pytest.mark.skipif(latex.latex_engine() is None, reason="no LaTeX engine (latexmk + pdflatex) installed")
def test_build_pdf_raises_with_log_lines(tmp_path):
    (tmp_path / "report.tex").write_text("\\documentclass{article}\\begin{document}\\nosuchmacro\\end{document}\n")
    with pytest.raises(latex.LatexBuildError) as info:
        latex.build_pdf(tmp_path)
    assert "\n" not in str(info.value)
    assert any(line.startswith("! Undefined control sequence") for line in info.value.excerpt)


def test_render_uses_latex_friendly_delimiters():
    out = latex.render("report.tex.j2", **_minimal_context())
    assert out.startswith("\\documentclass") and "(((" not in out and "((*" not in out


def _minimal_context():
    keys = (
        "config_table grid_table r_min_table mc_table prediction_table accuracy_table improvement_table "
        "capacity_table cosine_table regression_table paper_table"
    ).split()
    ctx = dict.fromkeys(keys, "")
    ctx.update(
        version="0",
        preset="quick",
        store="s_1.db",
        n_rows=0,
        n_configs=0,
        sweeps="",
        seed=0,
        mc_trials=1,
        notes=[],
        formulas=[("p", "p")],
        skipped=[],
        theory_figures=[],
        prediction_figures=[],
        training_figures=[],
        regression_figures=[],
    )
    ctx.update(page_one="", page_two="", pruning_summary="", cosine_diff_table="")
    return ctx


def test_latex_engine_respects_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert latex.latex_engine() is None
    assert shutil.which("latexmk") is None


@pytest.mark.parametrize("x", [-0.04, -0.0, 0.0, 0.04, -1e-12])
def test_nothing_that_rounds_to_zero_carries_a_sign(x):
    assert latex.fmt(x, 1, sci=False) == "0.0"
    assert latex.signed(x, 1) == "0.0"
    assert latex.pct(x / 100, 1) == "0.0\\%"


def test_signed_and_interval_keep_one_number_of_decimals():
    assert latex.signed(3.2, 2) == "+3.20" and latex.signed(-0.456, 2) == "-0.46"
    assert latex.interval(3.2, 4.35, 1) == f"[{3.2:+.1f}, {4.35:+.1f}]"  # never "[+3.2, +4.35]"
    lo, hi = latex.interval(-1.23456, 7.5, 3).strip("[]").split(", ")
    assert len(lo.split(".")[1]) == len(hi.split(".")[1]) == 3
    assert latex.interval(0.84, 1.083, 3, sign=False) == "[0.840, 1.083]"
    assert latex.interval(float("nan"), 1.0) == "--"


def test_prose_typesets_symbols_and_paths_break_at_slashes():
    assert latex.prose("random, alpha=2, eps=0.05") == "random, $\\alpha$=2, $\\epsilon$=0.05"
    assert latex.prose("alphabet") == "alphabet"  # whole words only
    assert latex.breakable_path("/a_b/c") == "/\\allowbreak{}a\\_b/\\allowbreak{}c"


def test_long_tables_keep_first_and_last_rows_together():
    rows = [[str(i), "x"] for i in range(7)]
    body = [line for line in latex.table(["a", "b"], rows).splitlines() if line.endswith(("\\\\", "\\\\*"))][1:]
    kept = [line.endswith("\\\\*") for line in body]  # no page break after a row that ends in \\*
    assert kept == [True, False, False, False, True, True, True]


def test_overfull_boxes_over_the_limit_only():
    log = (
        "Overfull \\hbox (91.69418pt too wide) in alignment\nOverfull \\hbox (0.6pt too wide) in paragraph\n"
        "Overfull \\vbox (3.0pt too high) has occurred\nUnderfull \\hbox (badness 10000)\n"
    )
    assert [b.split("(")[1].split("pt")[0] for b in latex.overfull_boxes(log)] == ["91.69418", "3.0"]
