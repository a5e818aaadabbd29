"""Build and format the ``coverage`` and ``collisions`` reports (plain dicts; floats only here, at the edge)."""

from __future__ import annotations

import math
from fractions import Fraction

from fpe_theory.exact import (
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
)
from fpe_theory.families import FAMILIES, check_family, defined_families
from fpe_theory.problem import Problem
from fpe_theory.validate import check_int, check_open_unit

DEFAULT_RS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


MAX_FRACTION_BITS = 12000  # exact fractions longer than ~3600 digits are left out of the output (None)


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
    config = {
        "m": m,
        "k": k,
        "alpha": alpha,
        "r": r if r is not None else list(rs),
        "eps": eps,
        "clauses": problem.clauses,
        "d": problem.d,
        "families": list(chosen),
    }
    return problem, rs, chosen, skipped, config


def _log10(x: Fraction | None) -> float | None:
    """log10 of an exact positive Fraction (works far below float's range); None for 0 or None."""
    if x is None or x <= 0:
        return None
    return math.log10(x.numerator) - math.log10(x.denominator)


def _ratio(a, b) -> float | None:
    return None if a is None or b is None or b == 0 else float(Fraction(a) / Fraction(b))


def _coverage_row(problem, family, r, max_seconds) -> dict:
    est = estimate_seconds(problem, family, r)
    if est > max_seconds:
        fe = None
        note = f"r={r}: exact P(all covered) skipped (estimated {est:.0f} s > --max-seconds {max_seconds:g})"
    else:
        fe, note = family_exact(problem, family, r), None
    lw = law(problem, family)
    union = lw.union_bound(r)
    row = {
        "r": r,
        "p_clause_missed": float(union / problem.clauses),
        "union_bound": float(union),
        "p_all_covered": _flt(fe.p_all_covered) if fe else None,
        "expected_covered": float(problem.clauses - union),
        "p_clause_missed_exact": _frac(union / problem.clauses),
        "union_bound_exact": _frac(union),
        "p_all_covered_exact": _frac(fe.p_all_covered) if fe else None,
        "p_all_covered_log10": _log10(fe.p_all_covered) if fe else None,
        "expected_covered_exact": _frac(problem.clauses - union),
    }
    if note:
        row["note"] = note
    return row


def coverage_report(m, k, alpha, r, families, eps, max_seconds=10.0) -> dict:
    """The ``coverage`` command's report as a JSON-able dict."""
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
        "paper_union_bound": {str(x): float(paper_approximations(problem, x).union_bound) for x in rs},
        "families": {},
    }
    for family in chosen:
        out["families"][family] = _family_coverage(problem, family, rs, eps, paper.r_min_paper, max_seconds)
    return out


def _family_coverage(problem, family, rs, eps, r_paper, max_seconds) -> dict:
    lw = law(problem, family)
    rows = [_coverage_row(problem, family, x, max_seconds) for x in rs]
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
        elif bounds[0] == bounds[1] or estimate_seconds(problem, family, bounds[1]) <= max_seconds:
            entry["r_min"] = r_min(problem, family, eps)
        else:
            entry["notes"].append(
                f"exact r_min skipped (beyond --max-seconds); exact bounds {bounds[0]} <= r_min <= {bounds[1]} "
                "(single-clause miss <= eps; union bound <= eps)"
            )
        at_paper, reaches = None, None
        if estimate_seconds(problem, family, r_paper) <= max_seconds:
            at_paper = family_exact(problem, family, r_paper).p_all_covered
            reaches = at_paper >= 1 - as_fraction_eps(eps)
        else:
            low, high = p_all_covered_bounds(problem, family, r_paper)
            entry["p_all_covered_at_r_min_paper_bounds"] = [float(low), float(high)]
            entry["notes"].append(
                f"P(all covered) at the paper's r={r_paper} skipped (beyond --max-seconds); exact bounds "
                f"[{float(low):.6g}, {float(high):.6g}] (Bonferroni)"
            )
            if bounds is not None:  # r_min bounds decide whether the paper's r suffices
                reaches = True if r_paper >= bounds[1] else False if r_paper < bounds[0] else None
        entry["p_all_covered_at_r_min_paper"] = _flt(at_paper)
        entry["p_all_covered_at_r_min_paper_exact"] = _frac(at_paper)
        entry["paper_r_reaches_1_minus_eps"] = reaches
    return entry


def collisions_report(m, k, alpha, r, families) -> dict:
    """The ``collisions`` command's report as a JSON-able dict."""
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
    return out


def _g(x) -> str:
    return "-" if x is None else f"{x:.6g}"


def _g_log(x, log10) -> str:
    """Like _g, but a value below float range (0.0 with a finite log10) prints as mantissa e exponent."""
    if x == 0 and log10 is not None:
        exponent = math.floor(log10)
        return f"{10 ** (log10 - exponent):.4f}e{exponent}"
    return _g(x)


def _header(rep) -> list[str]:
    return [
        f"m={rep['m']} k={rep['k']} alpha={rep['alpha']} clauses C={rep['clauses']} d={rep['d']} eps={rep.get('eps')}"
    ] + [f"note: {n}" for n in rep["notes"]]


def format_coverage(rep: dict) -> str:
    """Readable table of a coverage report."""
    pc, cr = rep["p_cover"], rep["collision_ratio"]
    lines = _header(rep)
    lines.append(
        f"p (one child covers a clause): exact {pc['exact_fraction']} = {_g(pc['exact'])}   "
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
        lines.append(f"[{family}]  p = {entry['p_cover_exact']} = {_g(entry['p_cover'])}")
        lines += [f"  note: {n}" for n in entry["notes"]]
        lines.append(
            f"  {'r':>6} {'P(clause missed)':>17} {'union bound':>12} {'paper C e^-r/a^(k-1)':>21} "
            f"{'P(all covered)':>15} {'E[covered]':>11}"
        )
        for row in entry["rows"]:
            exp_bound = rep["paper_union_bound_exp"][str(row["r"])]
            p_all = _g_log(row["p_all_covered"], row["p_all_covered_log10"])
            lines.append(
                f"  {row['r']:>6} {_g(row['p_clause_missed']):>17} {_g(row['union_bound']):>12} "
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
        f"{rep['collision_ratio']['paper_fraction']} = {_g(rep['collision_ratio']['paper'])}"
    )
    for family, entry in rep["families"].items():
        lines.append("")
        lines.append(
            f"[{family}]  p' = {entry['p_pair_exact']} = {_g(entry['p_pair'])}   exact ratio = "
            f"{_g(entry['ratio'])}   exact/paper = {_g(entry['ratio_over_paper'])}"
        )
        lines += [f"  note: {n}" for n in entry["notes"]]
        lines.append(f"  {'r':>6} {'E[collisions] FPE':>18} {'dense r C(C,2)':>15}")
        for row in entry["rows"]:
            lines.append(f"  {row['r']:>6} {_g(row['expected_collisions']):>18} {row['dense_collisions']:>15}")
    return "\n".join(lines)
