"""CLI of the theory commands: JSON shape, tables, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from math import comb

import pytest
from helpers import assert_one_line_error

from fpe_theory import Problem
from fpe_theory.brute import brute_exact


def test_coverage_json_has_required_keys_and_exact_values(invoke):
    code, out, _ = invoke(
        ["coverage", "--m", "16", "--k", "2", "--alpha", "2", "--r", "2", "--eps", "0.1", "--json", "--exact"]
    )
    assert code == 0
    rep = json.loads(out)
    for key in ("m", "k", "alpha", "r", "eps", "clauses", "d", "r_min_paper"):
        assert key in rep
    assert rep["p_cover"]["paper"] == 0.25 and rep["collision_ratio"]["paper"] == 0.125
    assert Fraction(rep["p_cover"]["exact_fraction"]) == Fraction(7, 30)  # C(14,6)/C(16,8)
    for family in ("overlap", "random"):
        entry = rep["families"][family]
        for key in ("p_clause_missed", "union_bound", "p_all_covered", "expected_covered", "r_min"):
            assert key in entry
    assert 0 <= rep["families"]["random"]["p_all_covered"] <= 1


def test_coverage_json_matches_brute_force(invoke):
    code, out, _ = invoke(["coverage", "--m", "8", "--k", "2", "--alpha", "2", "--r", "2", "--json", "--exact"])
    rep = json.loads(out)
    for family in ("overlap", "random", "structured_2_4", "clause"):
        brute = brute_exact(Problem(m=8, k=2, alpha=2), family, 2)
        assert Fraction(rep["families"][family]["p_all_covered_exact"]) == brute.p_all_covered


def test_coverage_table_default_range_and_skips_undefined_family(invoke):
    code, out, _ = invoke(["coverage", "--m", "32", "--k", "4", "--alpha", "4", "--eps", "0.05"])
    assert code == 0
    assert "structured_2_4: skipped" in out and "r_min exact" in out and "256" in out


def test_structured_k4_table_says_never_covered(invoke):
    code, out, _ = invoke(
        ["coverage", "--m", "16", "--k", "4", "--alpha", "2", "--r", "3", "--family", "structured_2_4"]
    )
    assert code == 0 and "no clause can ever be covered" in out


def test_collisions_json(invoke):
    code, out, _ = invoke(["collisions", "--m", "16", "--k", "2", "--alpha", "2", "--r", "3", "--json", "--exact"])
    rep = json.loads(out)
    ind = rep["families"]["overlap"]
    assert Fraction(ind["ratio_exact"]) == 2 * Fraction(comb(12, 4), comb(16, 8))  # alpha p'
    assert ind["dense_collisions"] == 3 * 28


def test_formulas_plain_latex_json(invoke):
    assert "alpha" in invoke(["formulas"]).stdout
    assert "\\alpha" in invoke(["formulas", "--latex"]).stdout
    rep = json.loads(invoke(["formulas", "--json"]).stdout)
    assert "p_cover_expansion" in rep["forms"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--m", "130"], "must divide m=130"),
        (["--m", "132", "--k", "3", "--alpha", "8"], "alpha=8: must divide m=132"),
        (["--k", "3"], "k=3: must divide m=128"),
        (["--alpha", "1"], "alpha=1: must be an integer >= 2"),
        (["--k", "0"], "k=0"),
        (["--r", "0"], "r=0"),
        (["--eps", "1"], "eps=1.0"),
        (["--eps", "-0.1"], "eps=-0.1"),
        (["--m", "x"], "'--m'"),
        (["--r", "1.5"], "'--r'"),
        (["--alpha", "4", "--family", "structured_2_4"], "alpha=4"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, needle):
    command = "collisions" if args[0] == "--alpha" else "coverage"  # both commands share the checks
    proc = subprocess.run([sys.executable, "cli.py", command, *args], capture_output=True, text=True)
    assert_one_line_error(proc, needle)


def test_coverage_does_not_import_sympy_or_torch():
    code = (
        "import sys, cli\n"
        "try:\n    cli.main(['coverage', '--r', '8', '--json'])\nexcept SystemExit:\n    pass\n"
        "assert 'sympy' not in sys.modules and 'torch' not in sys.modules and 'numba' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cost_guard_skips_with_a_note_and_exact_bounds(invoke):
    args = ["coverage", "--m", "64", "--r", "8", "--eps", "0.1", "--max-seconds", "0", "--json"]
    code, out, _ = invoke(args)
    entry = json.loads(out)["families"]["random"]
    assert code == 0 and entry["p_all_covered"] is None and "skipped" in entry["note"]
    low, high = entry["r_min_bounds"]
    assert entry["r_min"] is None and low <= high
    exact = json.loads(invoke(["coverage", "--m", "64", "--r", "8", "--eps", "0.1", "--json"]).stdout)
    assert low <= exact["families"]["random"]["r_min"] <= high
