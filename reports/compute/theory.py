"""Theory beside the paper and beside reality: exact vs approximate numbers, Monte Carlo, trained masks.

Exact numbers are computed at report time (``fpe_theory.exact``); the seeded Monte Carlo
(``simulations.simulate``) is read from the store (``reports.montecarlo.StoredMonteCarlo``, passed
as ``simulate=``), so a report rebuilt from the same store shows the same numbers.

Prediction vs reality for a Boolean configuration (clauses, k, r = neurons, alpha) and split:
``random`` -> family ``partition``; ``clause`` -> family ``clause``; ``structured_2_4`` ->
``structured_2_4``; each with m = clauses * k. The trained rows carry what the masks
(``mask_*``) and the learned weights (``learned_*``) show.

>>> g = approximation_grid(ms=(16,), ks=(2,), alphas=(2,), families=("overlap",))
>>> g.iloc[0]["p_exact"], g.iloc[0]["p_paper"]  # C(14, 6)/C(16, 8) = 7/30 below (1/2)^2
(Fraction(7, 30), Fraction(1, 4))
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd

from fpe_theory import Problem
from fpe_theory.exact import collision_ratio, dense_collisions, estimate_seconds, family_exact, paper_r_min, r_min
from simulations import compare, simulate

SPLIT_FAMILY = {"random": "random", "clause": "clause", "structured_2_4": "structured_2_4"}


def _monte_carlo():
    """(simulate, compare) from ``simulations`` (docs/interfaces.md)."""
    return simulate, compare


def _problem(m: int, k: int, alpha: int):
    return Problem(m=m, k=k, alpha=alpha)


def approximation_grid(ms, ks, alphas, families=("overlap", "random")) -> pd.DataFrame:
    """Exact p and collision ratio vs the paper's alpha^-k and alpha^-(2k-1), over a grid of (m, k, alpha)."""
    rows = []
    for k in ks:
        for alpha in alphas:
            for m in ms:
                if m % k or m % alpha or m // alpha < k:
                    continue
                problem = _problem(m, k, alpha)
                for family in families:
                    try:
                        fe = family_exact(problem, family, r=1)
                        ratio = collision_ratio(problem, family)
                    except ValueError:
                        continue
                    paper_p = Fraction(1, alpha**k)
                    paper_ratio = Fraction(1, alpha ** (2 * k - 1))
                    rows.append(
                        dict(
                            m=m,
                            k=k,
                            alpha=alpha,
                            family=family,
                            p_exact=fe.p_cover,
                            p_paper=paper_p,
                            p_ratio=float(fe.p_cover / paper_p),
                            ratio_exact=ratio,
                            ratio_paper=paper_ratio,
                            ratio_ratio=None if ratio is None else float(ratio / paper_ratio),
                        )
                    )
    return pd.DataFrame(rows)


def r_min_table(problems, eps_values=(0.05, 0.01), families=("overlap", "random")) -> pd.DataFrame:
    """The paper's r > alpha^(k-1) ln(C/eps) beside the exact smallest r, per family."""
    rows = []
    for m, k, alpha in problems:
        problem = _problem(m, k, alpha)
        for eps in eps_values:
            row = dict(m=m, k=k, alpha=alpha, clauses=m // k, eps=eps, paper=paper_r_min(problem, eps))
            for family in families:
                try:
                    row[family] = r_min(problem, family, eps)
                except ValueError:
                    row[family] = None
            rows.append(row)
    return pd.DataFrame(rows)


def boolean_cases(vtable: pd.DataFrame) -> pd.DataFrame:
    """Distinct (clauses, k, neurons, alpha, variant) of finished Boolean FPE rows whose split has a family."""
    if vtable.empty or "task" not in vtable.columns:
        return pd.DataFrame()
    b = vtable[(vtable["task"] == "boolean") & vtable["variant"].isin(list(SPLIT_FAMILY))]
    if "depth" in b.columns:
        b = b[b["depth"] == 1]
    return b


def prediction_cases(vtable: pd.DataFrame, max_cases: int = 80) -> list[tuple[int, int, int, int, str]]:
    """Distinct (clauses, k, r, alpha, variant) of ``boolean_cases``, in order, at most ``max_cases``."""
    seen: dict = {}
    for _, c in boolean_cases(vtable).iterrows():
        if len(seen) >= max_cases:
            break
        seen.setdefault((int(c["clauses"]), int(c["k"]), int(c["r"]), int(c["alpha"]), c["variant"]), None)
    return list(seen)


def prediction_table(
    vtable: pd.DataFrame,
    mc_trials: int = 2000,
    seed: int = 0,
    max_cases: int = 80,
    simulate=None,
    max_seconds: float = 10.0,
) -> pd.DataFrame:
    """Per Boolean (config, split): exact, Monte Carlo, mask and learned coverage/collisions.

    ``simulate``: where Monte Carlo results come from (``simulations.simulate``'s signature; the report
    passes ``reports.montecarlo.StoredMonteCarlo``, which answers None for a case not stored: NaN columns).
    ``max_seconds``: the time budget of exact theory for all cases together, as ``coverage --max-seconds``
    (the values come from stored rows): a case estimated beyond what is left gets NaN exact columns.
    """
    deadline = time.perf_counter() + max_seconds
    simulate = simulate or _monte_carlo()[0]
    nan = float("nan")
    rows = []
    cases = boolean_cases(vtable)
    wanted = set(prediction_cases(vtable, max_cases))
    seen = {}
    for _, c in cases.iterrows():
        key = (int(c["clauses"]), int(c["k"]), int(c["r"]), int(c["alpha"]), c["variant"])
        if key not in wanted:
            continue
        clauses, k, r, alpha, variant = key
        family = SPLIT_FAMILY[variant]
        try:
            problem = _problem(clauses * k, k, alpha)
            if key not in seen:
                fits = estimate_seconds(problem, family, r) <= deadline - time.perf_counter()
                fe = family_exact(problem, family, r=r) if fits else None
                sim = simulate(problem, family, r=r, trials=mc_trials, seed=seed, threads=1)
                seen[key] = (fe, sim)
            fe, sim = seen[key]
        except ValueError:
            continue
        rows.append(
            dict(
                config_hash=c["config_hash"],
                sweep=c.get("sweep"),
                clauses=clauses,
                k=k,
                r=r,
                alpha=alpha,
                variant=variant,
                family=family,
                n=int(c["n"]),
                exact_all_covered=float(fe.p_all_covered) if fe else nan,
                exact_covered=float(fe.expected_covered) if fe else nan,
                exact_collisions=float(fe.expected_collisions) if fe else nan,
                dense_collisions=float(dense_collisions(problem, r)),
                mc_all_covered=sim.p_all_covered.estimate if sim else nan,
                mc_collisions=sim.expected_collisions.estimate if sim else nan,
                mc_collisions_se=sim.expected_collisions.stderr if sim else nan,
                mask_all_covered=c.get("mask_all_covered_mean"),
                mask_covered=c.get("mask_covered_mean"),
                mask_collisions=c.get("mask_collisions_mean"),
                mask_collisions_se=c.get("mask_collisions_sem"),
                learned_all_covered=c.get("learned_all_covered_mean"),
                learned_covered=c.get("learned_covered_mean"),
                learned_collisions=c.get("learned_collisions_mean"),
                learned_collisions_se=c.get("learned_collisions_sem"),
            )
        )
    return with_moves(pd.DataFrame(rows))


MOVES = (
    ("expected covered clauses", "covered_moved", "mask_covered", "exact_covered"),
    ("expected collisions", "collisions_moved", "mask_collisions", "exact_collisions"),
)


def with_moves(pred: pd.DataFrame) -> pd.DataFrame:
    """``pred`` with ``covered_moved`` and ``collisions_moved``: the relative change masks vs exact per row."""
    if pred.empty:
        return pred
    return pred.assign(
        **{
            name: [moved(a, b) for a, b in zip(pred[after], pred[before], strict=True)]
            for _, name, after, before in MOVES
        }
    )


def moved(after, before) -> float:
    """Relative change (after - before) / before: what A1's pruning does to an exact expectation; NaN where
    undefined (a missing value or before = 0)."""
    try:
        a, b = float(after), float(before)
    except (TypeError, ValueError):
        return math.nan
    return (a - b) / b if b and not (math.isnan(a) or math.isnan(b)) else math.nan


@dataclass(frozen=True)
class PruningMove:
    """How far A1's pruning moves one quantity over the rows of the prediction table: median, min and max
    of the relative change (``relative``) or of the difference masks - exact, over ``n`` rows."""

    quantity: str
    median: float
    low: float
    high: float
    n: int
    relative: bool


def pruning_moves(pred: pd.DataFrame) -> list[PruningMove]:
    """Expected covered clauses and collisions (relative change), P(all covered) (difference)."""
    if pred.empty:
        return []
    out = []
    for quantity, column, _, _ in MOVES:
        x = pd.to_numeric(with_moves(pred)[column], errors="coerce").dropna()
        if len(x):
            out.append(PruningMove(quantity, float(x.median()), float(x.min()), float(x.max()), len(x), True))
    d = (pd.to_numeric(pred["mask_all_covered"], errors="coerce") - pred["exact_all_covered"]).dropna()
    if len(d):
        out.append(PruningMove("P(all covered)", float(d.median()), float(d.min()), float(d.max()), len(d), False))
    return out


def monte_carlo_table(cases, mc_trials: int = 4000, seed: int = 0, simulate=None) -> pd.DataFrame:
    """Exact vs Monte Carlo (estimate, stderr, z) for each (m, k, alpha, family, r) in ``cases``.

    ``simulate`` as in ``prediction_table``; a case it answers None for (not stored) is left out.
    """
    live, compare = _monte_carlo()
    simulate = simulate or live

    rows = []
    for m, k, alpha, family, r in cases:
        problem = _problem(m, k, alpha)
        try:
            exact = family_exact(problem, family, r=r)
        except ValueError:
            continue
        res = simulate(problem, family, r=r, trials=mc_trials, seed=seed, threads=1)
        if res is None:
            continue
        for cmp in compare(res, exact):
            if cmp.exact is None:
                continue
            rows.append(
                dict(
                    m=m,
                    k=k,
                    alpha=alpha,
                    family=family,
                    r=r,
                    quantity=cmp.quantity,
                    exact=float(cmp.exact),
                    estimate=cmp.estimate,
                    stderr=cmp.stderr,
                    z=cmp.z,
                    trials=mc_trials,
                )
            )
    return pd.DataFrame(rows)


def safe_float(x) -> float:
    """float(x), NaN for None."""
    return math.nan if x is None else float(x)
