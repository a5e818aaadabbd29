"""The theory answers in bounded time, for any size: closed forms, logarithms, estimates, refusals.

References are independent of the code under test: brute-force enumeration of masks for the
closed-form Q_2, plain loops over exact Fractions for the r_min bracket, float logarithms of
``math.comb`` for the union bound at huge r.
"""

import itertools
import json
import math
from fractions import Fraction
from math import comb

import pytest
from helpers import assert_one_line_error

from fpe_theory.exact import law, r_min_bounds
from fpe_theory.problem import Problem


def brute_pair_miss(problem: Problem, family: str) -> Fraction:
    """P(one unit covers neither clause 0 nor clause 1), by enumerating every unit."""
    m, d, alpha = problem.m, problem.d, problem.alpha
    c0, c1 = (set(c) for c in problem.clause_list()[:2])
    if family == "overlap":
        units = [[set(s)] for s in itertools.combinations(range(m), d)]
    else:  # every ordered split into alpha blocks of d
        units = []
        for labels in itertools.product(range(alpha), repeat=m):
            if all(labels.count(a) == d for a in range(alpha)):
                units.append([{i for i in range(m) if labels[i] == a} for a in range(alpha)])
    miss = sum(not any(c0 <= b or c1 <= b for b in blocks) for blocks in units)
    return Fraction(miss, len(units))


@pytest.mark.parametrize("m, k, alpha", [(8, 2, 2), (12, 2, 3), (8, 2, 4), (12, 3, 2)])
@pytest.mark.parametrize("family", ["overlap", "random"])
def test_closed_form_pair_miss_equals_enumeration(m, k, alpha, family):
    problem = Problem(m=m, k=k, alpha=alpha)
    assert law(problem, family).pair_miss == brute_pair_miss(problem, family)


@pytest.mark.parametrize("eps", [Fraction(1, 10), Fraction(1, 10**30), Fraction(1, 10**300)])
@pytest.mark.parametrize("family", ["overlap", "random"])
def test_r_min_bracket_equals_plain_exact_loops(family, eps):
    """lower = first r with max miss <= eps, upper = first r with union bound <= eps, by exact loops."""
    problem = Problem(m=16, k=2, alpha=2)
    lw = law(problem, family)
    q = max(x for _, x in lw.unit_miss)
    r = 1
    while q ** (lw.units * r) > eps:
        r += 1
    lower = r
    while sum(c * x ** (lw.units * r) for c, x in lw.unit_miss) > eps:
        r += 1
    low, high = r_min_bounds(problem, family, eps)
    assert high == r and lower <= low <= high


def test_huge_m_answers_within_seconds_with_notes(invoke):
    code, out, err = invoke("coverage", "--m", 1_000_000, "--k", 4, "--alpha", 4, "--r", 8, "--json")
    assert code == 0
    rep = json.loads(out)
    random = rep["families"]["random"]
    assert random["p_all_covered"] is None and "skipped (estimated" in random["rows"][0]["note"]
    lg = math.lgamma  # reference: C(m-k, d-k) / C(m, d) from log-gamma (the C(m-d, d-k) parts cancel)
    p = math.exp(lg(1_000_000 - 3) - lg(250_000 - 3) - lg(1_000_001) + lg(250_001))
    assert math.isclose(rep["p_cover"]["exact"], p, rel_tol=1e-8)


def test_huge_r_union_bound_from_logarithms(invoke):
    r = 10**12
    code, out, err = invoke("coverage", "--r", r, "--family", "partition", "--json")
    assert code == 0
    row = json.loads(out)["families"]["random"]["rows"][0]
    p = comb(124, 28) / comb(128, 32)  # one child covers a clause (m=128, k=4, d=32)
    expected = math.log10(32) + r * math.log1p(-4 * p) / math.log(10)  # C (1 - alpha p)^r
    assert math.isclose(row["union_bound_log10"], expected, rel_tol=1e-9)
    assert "from logarithms" in row["note"] and "union_bound_exact" not in row


def test_tiny_eps_answers_within_seconds(invoke):
    code, out, err = invoke("coverage", "--r", 8, "--eps", "1e-300", "--json")
    assert code == 0
    rep = json.loads(out)
    assert rep["families"]["clause"]["r_min"] == 1
    for family in ("overlap", "random"):
        entry = rep["families"][family]
        assert entry["r_min"] is not None or entry["r_min_bounds"] is not None


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_max_seconds_must_be_finite(invoke, value):
    line = assert_one_line_error(invoke("coverage", "--r", 8, "--max-seconds", value), "max_seconds=")
    assert line.startswith("Error: max_seconds=")


def test_exact_strings_are_opt_in(invoke):
    code, out, _ = invoke("coverage", "--r", 8, "--json")
    plain = json.loads(out)
    assert code == 0 and len(out) < 4000 and "exact_fraction" not in plain["p_cover"]
    assert not any(key.endswith("_exact") for key in plain["families"]["random"])
    code, out, _ = invoke("coverage", "--r", 8, "--json", "--exact")
    full = json.loads(out)
    assert Fraction(full["p_cover"]["exact_fraction"]) == Fraction(comb(124, 28), comb(128, 32))
    assert plain["p_cover"]["exact"] == full["p_cover"]["exact"]


def test_collisions_has_no_time_budget_and_no_eps(invoke):
    code, out, _ = invoke("collisions", "--r", 8)
    assert code == 0 and "eps=" not in out.splitlines()[0]
    code, _, err = invoke("collisions", "--r", 8, "--max-seconds", 1)
    assert code == 2 and "No such option" in err and "Traceback" not in err


def test_huge_k_is_refused_naming_k(invoke):
    line = assert_one_line_error(invoke("coverage", "--m", 2**22, "--k", 2**20, "--alpha", 2, "--r", 1), "k=")
    assert line.startswith("Error: k=")
