"""Build and format the ``coverage`` and ``collisions`` reports (plain dicts; floats only here, at the edge)."""

from __future__ import annotations

import math
import time
from fractions import Fraction
from math import comb

from fpe_theory.exact import (
    EXACT_BITS,
    as_fraction_eps,
    collision_ratio,
    dense_collisions,
    estimate_seconds,
    family_exact,
    law,
    p_all_covered_bounds,
    paper_approximations,
    r_min,
    r_min_bounds,
    r_min_seconds,
)
from fpe_theory.families import FAMILIES, check_family, defined_families
from fpe_theory.problem import Problem
from fpe_theory.validate import check_int, check_open_unit, check_seconds

DEFAULT_RS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


MAX_FRACTION_BITS = 12000  # exact fractions longer than ~3600 digits are left out of the output (None)
CHEAP_BITS = 200_000  # exact Bonferroni bounds below this size; floats from logarithms above
STRUCTURED_MAX_CLAUSES = 200_000  # structured_2_4 walks every clause (~20 us each)
EXACT_KEYS = ("_exact", "_fraction")  # keys of exact strings: in the output only when asked (--exact)


def _frac(x: Fraction | None) -> str | None:
    if x is None or max(x.numerator.bit_length(), x.denominator.bit_length()) > MAX_FRACTION_BITS:
        return None
    return f"{x.numerator}/{x.denominator}"


def _flt(x) -> float | None:
    return None if x is None else float(x)


def _setup(m, k, alpha, r, families, eps=None):
    problem = Problem(m=m, k=k, alpha=alpha)
    rs = DEFAULT_RS if r is None else (check_int("r", r, minimum=1),)
    if eps is not None:
        check_open_unit("eps", eps)
    bits = 2 * problem.k * max(1, problem.m.bit_length())
    if bits > EXACT_BITS:
        raise ValueError(
            f"k={problem.k}: the exact p and p' are products of 2k={2 * problem.k} factors of m={problem.m} "
            f"(about {bits} bits); this tool computes them up to {EXACT_BITS} bits"
        )
    skipped = []
    if families:
        chosen = tuple(check_family(problem, f) for f in dict.fromkeys(families))
    else:
        chosen = defined_families(problem)
        for f in FAMILIES:
            if f not in chosen:
                try:
                    check_family(problem, f)
                except ValueError as exc:
                    skipped.append(f"{f}: skipped ({exc})")
    if "structured_2_4" in chosen and problem.clauses > STRUCTURED_MAX_CLAUSES:
        chosen = tuple(f for f in chosen if f != "structured_2_4")
        skipped.append(
            f"structured_2_4: skipped (its exact law walks every clause: C={problem.clauses} > "
            f"{STRUCTURED_MAX_CLAUSES})"
        )
    config = {
        "m": problem.m,
        "k": problem.k,
        "alpha": problem.alpha,
        "r": rs[0] if r is not None else list(rs),
        "clauses": problem.clauses,
        "d": problem.d,
        "families": list(chosen),
    }
    if eps is not None:
        config["eps"] = eps
    return problem, rs, chosen, skipped, config


def _strip_exact(obj):
    """The report without its exact strings (keys ending in _exact or _fraction), recursively."""
    if isinstance(obj, dict):
        return {k: _strip_exact(v) for k, v in obj.items() if not k.endswith(EXACT_KEYS)}
    if isinstance(obj, list):
        return [_strip_exact(v) for v in obj]
    return obj


def _log10(x: Fraction | None) -> float | None:
    """log10 of an exact positive Fraction (works far below float's range); None for 0 or None."""
    if x is None or x <= 0:
        return None
    return math.log10(x.numerator) - math.log10(x.denominator)


def _ratio(a, b) -> float | None:
    return None if a is None or b is None or b == 0 else float(Fraction(a) / Fraction(b))


class _Budget:
    """What is left of --max-seconds for the whole report (a deadline, not a per-item limit)."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.deadline = seconds, time.perf_counter() + seconds

    def left(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def fits(self, estimate: float) -> bool:
        return estimate <= self.left()

    def why(self, estimate: float) -> str:
        return f"estimated {estimate:.3g} s > {self.left():.3g} s left of --max-seconds {self.seconds:g}"


def _coverage_row(problem, family, r, budget) -> dict:
    est = estimate_seconds(problem, family, r)
    notes = []
    if not budget.fits(est):
        fe = None
        notes.append(f"r={r}: exact P(all covered) skipped ({budget.why(est)})")
    else:
        fe = family_exact(problem, family, r)
    lw = law(problem, family)
    c = problem.clauses
    log_union = lw.union_bound_log10(r)
    if lw.union_bound_bits(r) <= EXACT_BITS:
        union = lw.union_bound(r)
        missed, union_f, covered = float(union / c), float(union), float(c - union)
        exact = {
            "p_clause_missed_exact": _frac(union / c),
            "union_bound_exact": _frac(union),
            "expected_covered_exact": _frac(c - union),
        }
    else:  # floats from logarithms: the exact fractions would have millions of digits
        union_f = 0.0 if log_union is None else 10.0**log_union
        missed, covered = union_f / c, c - union_f
        exact = {"p_clause_missed_exact": None, "union_bound_exact": None, "expected_covered_exact": None}
        digits = lw.union_bound_bits(r) * math.log10(2)
        notes.append(
            f"r={r}: union bound and P(clause missed) from logarithms (float; the exact fractions have about "
            f"{digits:.3g} digits)"
        )
    row = {
        "r": r,
        "p_clause_missed": missed,
        "union_bound": union_f,
        "union_bound_log10": log_union,
        "p_all_covered": _flt(fe.p_all_covered) if fe else None,
        "expected_covered": covered,
        "p_all_covered_exact": _frac(fe.p_all_covered) if fe else None,
        "p_all_covered_log10": _log10(fe.p_all_covered) if fe else None,
        **exact,
    }
    if notes:
        row["note"] = "; ".join(notes)
    return row


def coverage_report(m, k, alpha, r, families, eps, max_seconds=10.0, exact: bool = False) -> dict:
    """The ``coverage`` command's report as a JSON-able dict; exact fractions as strings only with ``exact``.

    Bounded time: exact P(all covered) and exact r_min are computed only when estimated within
    ``max_seconds``; union bounds beyond EXACT_BITS come from logarithms (stated in a note).
    """
    budget = _Budget(check_seconds("max_seconds", max_seconds))
    problem, rs, chosen, skipped, config = _setup(m, k, alpha, r, families, eps)
    paper = paper_approximations(problem, 1, eps)
    p_exact = law(problem, "overlap").p_cover
    ratio = collision_ratio(problem)
    out = {
        **config,
        "config": config,
        "notes": skipped,
        "p_cover": {
            "exact": float(p_exact),
            "paper": float(paper.p_cover),
            "exact_over_paper": _ratio(p_exact, paper.p_cover),
            "exact_fraction": _frac(p_exact),
            "paper_fraction": _frac(paper.p_cover),
        },
        "collision_ratio": {
            "exact": _flt(ratio),
            "paper": float(paper.collision_ratio),
            "exact_over_paper": _ratio(ratio, paper.collision_ratio),
            "exact_fraction": _frac(ratio),
            "paper_fraction": _frac(paper.collision_ratio),
        },
        "r_min_paper": paper.r_min_paper,
        "paper_union_bound_exp": {str(x): paper_approximations(problem, x).union_bound_exp for x in rs},
        "paper_union_bound": {str(x): _paper_union(paper_approximations(problem, x)) for x in rs},
        "families": {},
    }
    for family in chosen:
        out["families"][family] = _family_coverage(problem, family, rs, eps, paper.r_min_paper, budget)
    return out if exact else _strip_exact(out)


def _paper_union(pa) -> float:
    if pa.union_bound is not None:
        return float(pa.union_bound)
    return 0.0 if pa.union_bound_log10 is None else 10.0**pa.union_bound_log10


def _family_coverage(problem, family, rs, eps, r_paper, budget) -> dict:
    lw = law(problem, family)
    rows = [_coverage_row(problem, family, x, budget) for x in rs]
    entry = dict(rows[0]) if len(rows) == 1 else {}
    entry.update(
        {
            "p_cover": float(lw.p_cover),
            "p_cover_exact": _frac(lw.p_cover),
            "rows": rows,
            "notes": list(lw.notes),
            "r_min": None,
        }
    )
    if eps is not None:
        bounds = r_min_bounds(problem, family, eps)
        entry["r_min_bounds"] = None if bounds is None else list(bounds)
        if bounds is None:
            entry["notes"].append(f"no r reaches P(all covered) >= 1-eps={eps:g}")
        elif bounds[0] == bounds[1] or budget.fits(est := r_min_seconds(problem, family, eps)):
            entry["r_min"] = r_min(problem, family, eps)
        else:
            entry["notes"].append(
                f"exact r_min skipped ({budget.why(est)}); exact bounds "
                f"{bounds[0]} <= r_min <= {bounds[1]} (single-clause miss <= eps; union bound <= eps)"
            )
        at_paper, reaches = None, None
        if budget.fits(est := estimate_seconds(problem, family, r_paper)):
            at_paper = family_exact(problem, family, r_paper).p_all_covered
            reaches = at_paper >= 1 - as_fraction_eps(eps)
        else:
            low, high = _all_covered_bounds(problem, family, r_paper)
            entry["p_all_covered_at_r_min_paper_bounds"] = [float(low), float(high)]
            entry["notes"].append(
                f"P(all covered) at the paper's r={r_paper} skipped ({budget.why(est)}); Bonferroni bounds "
                f"[{float(low):.6g}, {float(high):.6g}]"
            )
            if bounds is not None:  # r_min bounds decide whether the paper's r suffices
                reaches = True if r_paper >= bounds[1] else False if r_paper < bounds[0] else None
        entry["p_all_covered_at_r_min_paper"] = _flt(at_paper)
        entry["p_all_covered_at_r_min_paper_exact"] = _frac(at_paper)
        entry["paper_r_reaches_1_minus_eps"] = reaches
    return entry


def _all_covered_bounds(problem, family, r) -> tuple[float, float]:
    """Bonferroni bounds on P(all covered): exact where within EXACT_BITS, else from logarithms (floats)."""
    lw = law(problem, family)
    n = lw.units * r
    bits = n * sum(q.denominator.bit_length() for _, q in lw.unit_miss)
    if lw.pair_miss is not None:
        bits += n * lw.pair_miss.denominator.bit_length()
    if bits <= CHEAP_BITS:  # exact Fraction sums reduce by gcds, quadratic in the bits: only when small
        return p_all_covered_bounds(problem, family, r)
    if lw.never_all_covered:
        return 0.0, 0.0
    s1 = 10.0 ** lw.union_bound_log10(r) if lw.union_bound_log10(r) is not None else 0.0
    if lw.pair_miss is not None and len(lw.unit_miss) == 1:
        s2 = 0.0 if lw.pair_miss == 0 else 10.0 ** (math.log10(comb(lw.clauses, 2)) + n * _lg(lw.pair_miss))
        upper = 1 - s1 + s2
    else:
        worst = max(q for _, q in lw.unit_miss)
        upper = 1 - (0.0 if worst == 0 else 10.0 ** (n * _lg(worst)))
    return max(0.0, 1 - s1), min(1.0, upper)


def _lg(x: Fraction) -> float:
    return math.log10(x.numerator) - math.log10(x.denominator)


def collisions_report(m, k, alpha, r, families, exact: bool = False) -> dict:
    """The ``collisions`` command's report as a JSON-able dict (closed forms: no time budget needed)."""
    problem, rs, chosen, skipped, config = _setup(m, k, alpha, r, families)
    paper = paper_approximations(problem, 1)
    out = {
        **config,
        "config": config,
        "notes": skipped,
        "collision_ratio": {"paper": float(paper.collision_ratio), "paper_fraction": _frac(paper.collision_ratio)},
        "p_pair_paper": float(paper.p_pair),
        "families": {},
    }
    for family in chosen:
        lw = law(problem, family)
        ratio = collision_ratio(problem, family)
        rows = []
        for x in rs:
            fpe, dense = x * lw.collisions_per_parent, dense_collisions(problem, x)
            rows.append(
                {
                    "r": x,
                    "expected_collisions": float(fpe),
                    "expected_collisions_exact": _frac(fpe),
                    "dense_collisions": dense,
                }
            )
        entry = dict(rows[0]) if len(rows) == 1 else {}
        entry.update(
            {
                "p_pair": float(lw.p_pair),
                "p_pair_exact": _frac(lw.p_pair),
                "ratio": _flt(ratio),
                "ratio_exact": _frac(ratio),
                "ratio_over_paper": _ratio(ratio, paper.collision_ratio),
                "rows": rows,
                "notes": list(lw.notes),
            }
        )
        out["families"][family] = entry
    return out if exact else _strip_exact(out)


def _g(x) -> str:
    return "-" if x is None else f"{x:.6g}"


def _fr(text: str | None) -> str:
    """``"a/b = "`` for a short exact fraction, else nothing (the float follows)."""
    return f"{text} = " if text and len(text) <= 60 else ""


def _g_log(x, log10) -> str:
    """Like _g, but a value below float range (0.0 with a finite log10) prints as mantissa e exponent."""
    if x == 0 and log10 is not None:
        exponent = math.floor(log10)
        return f"{10 ** (log10 - exponent):.4f}e{exponent}"
    return _g(x)


def _header(rep) -> list[str]:
    eps = f" eps={rep['eps']}" if rep.get("eps") is not None else ""
    return [f"m={rep['m']} k={rep['k']} alpha={rep['alpha']} clauses C={rep['clauses']} d={rep['d']}{eps}"] + [
        f"note: {n}" for n in rep["notes"]
    ]


def format_coverage(rep: dict) -> str:
    """Readable table of a coverage report."""
    pc, cr = rep["p_cover"], rep["collision_ratio"]
    lines = _header(rep)
    lines.append(
        f"p (one child covers a clause): exact {_fr(pc.get('exact_fraction'))}{_g(pc['exact'])}   "
        f"paper (1/alpha)^k = {_g(pc['paper'])}   exact/paper = {_g(pc['exact_over_paper'])}"
    )
    lines.append(
        f"collision ratio E_FPE/E_dense: exact alpha p' = {_g(cr['exact'])}   "
        f"paper alpha^-(2k-1) = {_g(cr['paper'])}   exact/paper = {_g(cr['exact_over_paper'])}"
    )
    if rep["r_min_paper"] is not None:
        lines.append(f"paper's r_min (smallest integer r > alpha^(k-1) ln(C/eps)): {rep['r_min_paper']}")
    for family, entry in rep["families"].items():
        lines.append("")
        lines.append(f"[{family}]  p = {_fr(entry.get('p_cover_exact'))}{_g(entry['p_cover'])}")
        lines += [f"  note: {n}" for n in entry["notes"]]
        lines.append(
            f"  {'r':>6} {'P(clause missed)':>17} {'union bound':>12} {'paper C e^-r/a^(k-1)':>21} "
            f"{'P(all covered)':>15} {'E[covered]':>11}"
        )
        for row in entry["rows"]:
            exp_bound = rep["paper_union_bound_exp"][str(row["r"])]
            p_all = _g_log(row["p_all_covered"], row["p_all_covered_log10"])
            log_u = row.get("union_bound_log10")
            log_m = None if log_u is None else log_u - math.log10(rep["clauses"])
            missed, union = _g_log(row["p_clause_missed"], log_m), _g_log(row["union_bound"], log_u)
            lines.append(
                f"  {row['r']:>6} {missed:>17} {union:>12} "
                f"{_g(exp_bound):>21} {p_all:>15} {_g(row['expected_covered']):>11}"
            )
            if "note" in row:
                lines.append(f"    note: {row['note']}")
        if rep.get("eps") is not None:
            lines.append(
                f"  r_min exact = {entry['r_min']}   paper r_min = {rep['r_min_paper']}   "
                f"P(all covered) at paper's r = {_g(entry['p_all_covered_at_r_min_paper'])} "
                f"(reaches 1-eps: {entry['paper_r_reaches_1_minus_eps']})"
            )
    return "\n".join(lines)


def format_collisions(rep: dict) -> str:
    """Readable table of a collisions report."""
    lines = _header(rep)
    lines.append(
        f"paper: p' ~ alpha^-2k = {_g(rep['p_pair_paper'])}, ratio alpha^-(2k-1) = "
        f"{_fr(rep['collision_ratio'].get('paper_fraction'))}{_g(rep['collision_ratio']['paper'])}"
    )
    for family, entry in rep["families"].items():
        lines.append("")
        lines.append(
            f"[{family}]  p' = {_fr(entry.get('p_pair_exact'))}{_g(entry['p_pair'])}   exact ratio = "
            f"{_g(entry['ratio'])}   exact/paper = {_g(entry['ratio_over_paper'])}"
        )
        lines += [f"  note: {n}" for n in entry["notes"]]
        lines.append(f"  {'r':>6} {'E[collisions] FPE':>18} {'dense r C(C,2)':>15}")
        for row in entry["rows"]:
            lines.append(f"  {row['r']:>6} {_g(row['expected_collisions']):>18} {row['dense_collisions']:>15}")
    return "\n".join(lines)
