"""T1-T3: the paper's theory (A.5) judged from exact rational probabilities, in the regime it states.

The paper states its approximations "for large m and d". Each entry gives:

- **direction**: T1 and T2 are *supported* when the exact ratio to the approximation tends to 1 (T1) or
  stays at or below it (T2, whose claim is a cut in collisions: an exact cut at least as large holds the
  claim a fortiori) at the largest grid points; T3 (a guarantee, no approximation) is *contradicted* when the
  exact P(all covered) at the paper's r falls short of 1 - eps in any case;
- **size**: the exact value at the paper's own configuration (the case study: m=32, k=4, alpha=2) against
  the approximation: *reproduced* within ``THEORY_TOLERANCE``, else smaller / larger;
- the regime where the approximation holds within the tolerance, and the sign of its error everywhere.

>>> THEORY_TOLERANCE
0.05
"""

from __future__ import annotations

import pandas as pd

from fpe_theory import Problem
from fpe_theory.exact import family_exact, paper_r_min, r_min
from reports.compute import theory, verdict_axes
from reports.compute.verdicts import Verdict, info

THEORY_TOLERANCE = 0.05  # an approximation holds where exact / approximate is within 1 +- 5 %
CASE = dict(m=32, k=4, alpha=2)  # the paper's case study (Section 3.1)


def _base(claim_id: str, evidence: str, unit: str) -> dict:
    q = info(claim_id)
    return dict(
        id=q.id,
        name=q.name,
        claim=q.claim,
        source=q.source,
        quote=q.quote,
        in_paper=True,
        evidence=evidence,
        unit=unit,
        unit_of_analysis="exact probability per grid point",
        scope="paper's setting",
    )


def holds_from(g: pd.DataFrame, col: str, tolerance: float = THEORY_TOLERANCE) -> str:
    """The smallest d/k from which the ratio stays within tolerance for every larger d/k on the grid."""
    g = g.assign(dk=g["m"] / g["alpha"] / g["k"])
    bad = g[(g[col] - 1).abs() > tolerance]
    if bad.empty:
        return "everywhere on the grid"
    good = g[g["dk"] > bad["dk"].max()]
    return f"for d >= {good['dk'].min():g}k" if not good.empty else "nowhere on the grid"


def _at_largest(g: pd.DataFrame) -> pd.DataFrame:
    """Per (k, alpha), the grid point with the largest m (the 'large m and d' end of the grid)."""
    return g.loc[g.groupby(["k", "alpha"])["m"].idxmax()]


def _case(g: pd.DataFrame):
    c = g[(g["m"] == CASE["m"]) & (g["k"] == CASE["k"]) & (g["alpha"] == CASE["alpha"])]
    return None if c.empty else c.iloc[0]


def _approximation(
    claim_id: str, g: pd.DataFrame, col: str, what: str, structural: int, evidence: str, one_sided: bool
) -> Verdict:
    """T1 (two-sided: tends to 1) and T2 (one-sided: exact <= approximation, a fortiori)."""
    g = g.dropna(subset=[col])
    g = g[g["m"] / g["alpha"] >= structural * g["k"]]
    base = _base(claim_id, evidence, "exact / approximation")
    if g.empty:
        return Verdict(
            **base, direction="undecided", size=verdict_axes.NO_SIZE, robustness="--", sentence="No grid point."
        )
    end = _at_largest(g)
    limit_ok = _tends_to_one(g, col, THEORY_TOLERANCE)
    below = bool((g[col] <= 1).all())
    ok = below if one_sided else limit_ok
    case = _case(g)
    size = verdict_axes.NO_SIZE
    at_case = ""
    if case is not None:
        x = float(case[col])
        size = (
            "reproduced"
            if abs(x - 1) <= THEORY_TOLERANCE
            else ("smaller than reported" if x < 1 else "larger than reported")
        )
        at_case = (
            f" At the case study (m={CASE['m']}, k={CASE['k']}, alpha={CASE['alpha']}) exact = {x:.3g} x the "
            f"approximation ({100 * abs(1 - x):.0f} % {'lower' if x < 1 else 'higher'})."
        )
    sign = "below" if below else ("above" if (g[col] >= 1).all() else "on both sides of")
    sentence = (
        f"Exact {what} is {sign} the approximation at every grid point (d >= {structural}k); within "
        f"{THEORY_TOLERANCE:.0%} {holds_from(g, col)}; at the largest m of each (k, alpha) the ratio is "
        f"{end[col].min():.3g}-{end[col].max():.3g}." + at_case
    )
    if one_sided and below:
        sentence += " FPE cuts collisions more than the paper says: its claim holds a fortiori."
    robust = verdict_axes.ROBUST if one_sided else _tolerance_robustness(g, col)
    return Verdict(
        **base,
        direction="supported" if ok else "contradicted",
        size=size,
        robustness=robust,
        effect=float(case[col]) if case is not None else float("nan"),
        n=len(g),
        n_of="grid points",
        paper=1.0,
        paper_statistic="the approximation (ratio 1)",
        sentence=sentence,
        details=(
            f"{float(((g[col] - 1).abs() > THEORY_TOLERANCE).mean()):.0%} of {len(g)} grid points "
            f"outside +-{THEORY_TOLERANCE:.0%}",
        ),
    )


def _tends_to_one(g: pd.DataFrame, col: str, tolerance: float) -> bool:
    """The error |ratio - 1| shrinks as m grows for every (k, alpha), and is within tolerance somewhere."""
    shrinks = all(
        bool((s.sort_values("m")[col] - 1).abs().diff().dropna().le(1e-12).all()) for _, s in g.groupby(["k", "alpha"])
    )
    return shrinks and holds_from(g, col, tolerance) != "nowhere on the grid"


def _tolerance_robustness(g: pd.DataFrame, col: str) -> str:
    values = (0.02, 0.05, 0.10)
    verdicts = tuple("supported" if _tends_to_one(g, col, t) else "contradicted" for t in values)
    return verdict_axes.robustness(
        [verdict_axes.Sensitivity("theory tolerance", tuple(f"{t:.0%}" for t in values), verdicts)]
    )


def t1(grid: pd.DataFrame) -> Verdict:
    return _approximation(
        "T1", grid, "p_ratio", "p", 1, "exact p = C(m-k, d-k)/C(m, d) vs (1/alpha)^k", one_sided=False
    )


def t2(grid: pd.DataFrame) -> Verdict:
    return _approximation(
        "T2",
        grid,
        "ratio_ratio",
        "collision ratio E_FPE/E_dense",
        2,
        "exact E_FPE/E_dense = alpha p' vs alpha^-(2k-1)",
        one_sided=True,
    )


def t3(preset, eps_values=(0.05, 0.01), families=("overlap", "random")) -> Verdict:
    """Exact P(all covered) at the paper's r = floor(alpha^(k-1) ln(C/eps)) + 1, per problem, eps and family."""
    base = _base("T3", "exact P(all covered) at the paper's r", "cases short of 1 - eps")
    problems = list(preset.r_min_problems) + [(m, k, 4) for m, k, _ in preset.r_min_problems if m % 4 == 0]
    rows = []
    for m, k, alpha in dict.fromkeys(problems):
        problem = Problem(m=m, k=k, alpha=alpha)
        if problem.d < k:
            continue
        for eps in eps_values:
            r = paper_r_min(problem, eps)
            for fam in families:
                p_all = float(family_exact(problem, fam, r).p_all_covered)
                rows.append(dict(m=m, k=k, alpha=alpha, eps=eps, r=r, family=fam, p_all=p_all, short=p_all < 1 - eps))
    d = pd.DataFrame(rows)
    if d.empty:
        return Verdict(
            **base, direction="undecided", size=verdict_axes.NO_SIZE, robustness="--", sentence="No problem."
        )
    short = d[d["short"]]
    sentence = f"Short of 1 - eps in {len(short)} of {len(d)} cases."
    case = d[
        (d["m"] == CASE["m"])
        & (d["k"] == CASE["k"])
        & (d["alpha"] == CASE["alpha"])
        & (d["family"] == "random")
        & (d["eps"] == max(eps_values))
    ]
    if len(case):
        c = case.iloc[0]
        exact_r = r_min(Problem(**CASE), "random", float(c.eps))
        sentence = (
            f"At the paper's r = {int(c.r)} (case study, eps = {c.eps:g}) the exact P(all covered) is "
            f"{c.p_all:.3f} < {1 - c.eps:g}; the exact smallest r is {exact_r}. " + sentence
        )
    return Verdict(
        **base,
        direction="contradicted" if len(short) else "supported",
        size=verdict_axes.NO_SIZE,
        robustness=verdict_axes.ROBUST,
        effect=len(short) / len(d),
        n=len(d),
        n_of="cases",
        sentence=sentence,
    )


def theory_verdicts(preset) -> list[Verdict]:
    grid = theory.approximation_grid(preset.grid_m, preset.grid_k, preset.grid_alpha, families=("overlap",))
    return [t1(grid), t2(grid), t3(preset)]
