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
    keys = ("config_table grid_table r_min_table mc_table prediction_table accuracy_table improvement_table "
            "capacity_table cosine_table regression_table paper_table").split()  # fmt: skip
    ctx = dict.fromkeys(keys, "")
    ctx.update(version="0", preset="quick", store="s_1.db", n_rows=0, n_configs=0, sweeps="", seed=0, mc_trials=1,
               notes=[], formulas=[("p", "p")], skipped=[], theory_figures=[], prediction_figures=[],
               training_figures=[], regression_figures=[])  # fmt: skip
    ctx.update(findings_run=dict(configs=0, pairs=0, trials="--", warmup="--", epochs="--", devices="cpu",
                                 versions="0"), verdict_table="", findings_paragraph="", smoke=False,
               pruning_summary="", cosine_diff_table="")  # fmt: skip
    return ctx


def test_latex_engine_respects_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert latex.latex_engine() is None
    assert shutil.which("latexmk") is None
