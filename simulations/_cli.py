"""The ``simulate`` command: Monte Carlo beside the exact theory, with z-scores.

Only click is imported at module level; numba, numpy and the theory are imported
inside the command. Bad input raises ValueError (one line ``Error: ...``, exit 2).
"""

from __future__ import annotations

import json
import math
import sys

import click

from fpe_theory.exact import EXACT_BITS, estimate_seconds, family_exact, law
from fpe_theory.families import FAMILIES, canonical_family, check_family
from fpe_theory.problem import Problem
from fpe_theory.validate import check_int, check_seconds
from simulations import montecarlo
from simulations.montecarlo import MAX_TRIALS, compare


@click.command()
@click.option("--m", type=int, default=128, show_default=True, help="Inputs (Boolean literals).")
@click.option("--k", type=int, default=4, show_default=True, help="Literals per clause.")
@click.option("--alpha", type=int, default=4, show_default=True, help="Expansion factor (children per parent).")
@click.option("--r", "r", type=int, default=8, show_default=True, help="Dense neurons = FPE parents.")
@click.option(
    "--family",
    "families",
    multiple=True,
    help="A mask family; repeat for several (default: every family defined for the problem). "
    "Aliases: partition = random, independent = overlap.",
)
@click.option("--trials", type=int, default=100_000, show_default=True, help="Monte Carlo trials per family.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed; the same seed gives the same numbers.")
@click.option("--threads", type=int, default=None, help="Numba threads (default: all cores).")
@click.option("--no-exact", is_flag=True, help="Skip the exact theory (Monte Carlo only).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bars on stderr.")
@click.option(
    "--max-seconds",
    type=float,
    default=600.0,
    show_default=True,
    help="Refuse a run estimated to take longer (per family; from m x r first, then from the measured rate).",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
def simulate(m, k, alpha, r, families, trials, seed, threads, no_exact, progress, max_seconds, as_json):
    """Monte Carlo estimates of coverage and collisions beside the exact values, with z-scores.

    z = (estimate - exact) / stderr; for p_all_covered the stderr is sqrt(p(1-p)/n) at the
    exact p. |z| > 4 is flagged (FLAG column and a warning on stderr).
    """
    problem = Problem(m=m, k=k, alpha=alpha)
    r = check_int("r", r, minimum=1)
    check_int("trials", trials, minimum=1, maximum=MAX_TRIALS)
    check_int("seed", seed, minimum=0)
    max_seconds = check_seconds("max_seconds", max_seconds)
    if not families:
        families, undefined = [], {}
        for name in FAMILIES:
            try:
                families.append(check_family(problem, name))
            except ValueError as exc:
                undefined[name] = str(exc)
    else:
        names = dict.fromkeys(canonical_family(f) for f in families)
        families, undefined = [check_family(problem, name) for name in names], {}
    report = run_report(problem, r, families, trials, seed, threads, not no_exact, progress, max_seconds)
    report["undefined"] = undefined
    for line in warnings(report):
        click.echo(line, err=True)
    click.echo(json.dumps(report) if as_json else format_report(report))


def run_report(problem, r, families, trials, seed, threads, with_exact, progress=False, max_seconds=None) -> dict:
    """Simulate each family and compare with the exact theory; plain-JSON dict.

    ``max_seconds`` (per family) refuses a Monte Carlo estimated to take longer and leaves out (exact: null)
    an exact value estimated to take longer.
    """
    out = {"m": problem.m, "k": problem.k, "alpha": problem.alpha, "r": r, "trials": trials, "seed": seed}
    out.update({"threads": None, "seconds": 0.0, "families": {}})
    for name in families:
        res = montecarlo.simulate(problem, name, r, trials, seed, threads, progress=progress, max_seconds=max_seconds)
        exact = _exact_within(problem, name, r, max_seconds) if with_exact else None
        fam = {c.quantity: _row(c) for c in compare(res, exact)}
        fam["collision_histogram"] = list(res.collision_histogram)
        fam["collision_bin_width"] = res.collision_bin_width
        fam["seconds"] = res.seconds
        out["families"][name] = fam
        out["seconds"] += res.seconds
        out["threads"] = res.threads
    return out


def _exact_within(problem, family, r, max_seconds):
    """``family_exact`` when its estimated time fits ``max_seconds``, else None (the report's exact is null)."""
    if law(problem, family).union_bound_bits(r) > EXACT_BITS:  # exact fractions of millions of digits
        return None
    if max_seconds is not None and estimate_seconds(problem, family, r) > max_seconds:
        return None
    return family_exact(problem, family, r)


def _row(c) -> dict:
    def num(x):
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

    keys = ("exact", "estimate", "stderr", "ci_low", "ci_high", "z")
    return {key: num(getattr(c, key)) for key in keys} | {"flag": c.flag}


def warnings(report: dict) -> list[str]:
    """One loud line per quantity with |z| > 4."""
    lines = []
    for name, fam in report["families"].items():
        for q, row in fam.items():
            if isinstance(row, dict) and row.get("flag"):
                lines.append(
                    f"WARNING: {name} {q}: Monte Carlo {row['estimate']:.6g} vs exact {row['exact']:.6g}, "
                    f"z={row['z']:.2f} (|z| > 4): a bug in the kernels or in the theory"
                )
    return lines


def format_report(report: dict) -> str:
    """Plain-text table: per family, exact vs Monte Carlo side by side."""
    head = (
        f"Monte Carlo: m={report['m']} k={report['k']} alpha={report['alpha']} r={report['r']} "
        f"trials={report['trials']} seed={report['seed']} threads={report['threads']} ({report['seconds']:.2f} s)"
    )
    lines = [head]
    for name, fam in report["families"].items():
        lines += ["", f"family {name}", _table(fam), _histogram_line(fam)]
    for name, why in report["undefined"].items():
        lines.append(f"family {name}: not defined here ({why})")
    return "\n".join(lines)


def _table(fam: dict) -> str:
    cols = f"{'quantity':20s} {'exact':>13s} {'estimate':>13s} {'stderr':>10s} {'95% CI':>27s} {'z':>7s}  FLAG"
    rows = [cols]
    for q, row in fam.items():
        if not isinstance(row, dict):
            continue
        exact = "-" if row["exact"] is None else f"{row['exact']:.7g}"
        stderr = "-" if row["stderr"] is None else f"{row['stderr']:.3g}"
        ci = "-" if row["ci_low"] is None else f"[{row['ci_low']:.6g}, {row['ci_high']:.6g}]"
        z = "-" if row["z"] is None else f"{row['z']:.2f}"
        flag = "FLAG" if row["flag"] else ""
        rows.append(f"{q:20s} {exact:>13s} {row['estimate']:>13.7g} {stderr:>10s} {ci:>27s} {z:>7s}  {flag}")
    return "\n".join(rows)


def _histogram_line(fam: dict, shown: int = 8) -> str:
    """Few values: each with its share; many: min, quantiles and max (the full histogram is in --json)."""
    hist, width = fam["collision_histogram"], fam["collision_bin_width"]
    total = sum(hist)
    nonzero = [(i, c) for i, c in enumerate(hist) if c]
    if len(nonzero) <= shown:
        parts = [f"{_bin(i, width)}: {c / total:.4%}" for i, c in nonzero]
        return "collisions per trial: " + ", ".join(parts)
    cum, marks, out = 0, [0.05, 0.5, 0.95], {}
    for i, c in nonzero:
        cum += c
        while marks and cum >= marks[0] * total:
            out[marks.pop(0)] = _bin(i, width)
    return (
        f"collisions per trial: min {_bin(nonzero[0][0], width)}, 5% {out[0.05]}, median {out[0.5]}, "
        f"95% {out[0.95]}, max {_bin(nonzero[-1][0], width)} ({len(nonzero)} values; histogram in --json)"
    )


def _bin(i: int, width: int) -> str:
    return str(i * width) if width == 1 else f"{i * width}-{(i + 1) * width - 1}"


if __name__ == "__main__":  # pragma: no cover
    simulate(sys.argv[1:])
