"""Every plotted figure's series as plain data: one ``Line`` per (variant, alpha), one ``Heatmap`` per panel.

The figures (``reports.render.figures``) draw these and compute nothing of their own; each function here
takes the tables of ``reports.compute.frame`` (already narrowed by ``reports.compute.selection.select``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.compute.selection import dense_equivalent


@dataclass(frozen=True)
class Line:
    """One plotted line: x values, y values, error bars (None: none drawn) and a mark per point
    (``"gain"`` / ``"loss"`` at Holm-adjusted p < 0.05, else ``""``)."""

    variant: str
    alpha: int  # 0 where a line is not one alpha's
    x: tuple
    y: tuple
    err: tuple | None = None
    marks: tuple = ()
    label: str = ""  # the legend's text where variant and alpha do not say it


@dataclass(frozen=True)
class Heatmap:
    """One panel of Fig. 3c: relative improvement (%) with rows = clauses and columns = neurons."""

    variant: str
    alpha: int
    rows: tuple
    cols: tuple
    values: tuple  # (rows, cols) of floats, NaN where no configuration is stored


def _agreed(marks: pd.Series) -> str:
    """The mark of configs drawn at one point: theirs when they all agree, else none."""
    return marks.iloc[0] if marks.nunique() == 1 else ""


def mean_lines(s: pd.DataFrame, axis: str, y: str, pct: bool = False) -> list[Line]:
    """One line per (variant, alpha): the mean of ``y`` over configurations at each ``axis`` value, +- SEM,
    with the configurations' gain/loss mark where they agree. ``pct``: a ratio shown as (ratio - 1) in %."""
    scale = 100.0 if pct else 1.0
    out = []
    for (variant, alpha), g in s.groupby(["variant", "alpha"], sort=True):
        g = g.groupby(axis, as_index=False).agg(m=(f"{y}_mean", "mean"), e=(f"{y}_sem", "mean"), st=("star", _agreed))
        yy = (g["m"] - (1.0 if pct else 0.0)) * scale
        out.append(Line(variant, alpha, tuple(g[axis]), tuple(yy), tuple(g["e"] * scale), tuple(g["st"])))
    return out


def per_param_lines(v: pd.DataFrame, axis: str) -> list[Line]:
    """Test accuracy (%) per nonzero parameter per (variant, alpha); the dense model after warm-up only is left
    out."""
    v = v[v["variant"] != "dense_warmup"]
    v = v.assign(acc_per_param=100 * v["test_accuracy_mean"] / v["nonzero_params_mean"])
    out = []
    for (variant, alpha), g in v.groupby(["variant", "alpha"], sort=True):
        g = g.groupby(axis, as_index=False)["acc_per_param"].mean()
        out.append(Line(variant, alpha, tuple(g[axis]), tuple(g["acc_per_param"])))
    return out


def heatmaps(s: pd.DataFrame) -> list[Heatmap]:
    """Relative improvement (%) over clauses x neurons, one panel per (variant, alpha) in sorted order."""
    out = []
    for variant, alpha in sorted(s.groupby(["variant", "alpha"]).groups):
        g = s[(s["variant"] == variant) & (s["alpha"] == alpha)]
        grid = g.pivot_table(index="clauses", columns="r", values="relative_improvement_mean", aggfunc="mean")
        data = (grid.to_numpy(float) - 1) * 100
        out.append(Heatmap(variant, alpha, tuple(grid.index), tuple(grid.columns), tuple(map(tuple, data))))
    return out


@dataclass(frozen=True)
class ParamFactor:
    """Fig. 6a's annotation: at (x, y) FPE matches a dense model with ``factor`` times its nonzero parameters."""

    x: float
    y: float
    factor: float


@dataclass(frozen=True)
class WidthScan:
    """Fig. 6a/c/d for one task: dense and random-split FPE (largest alpha) accuracy vs width with the dense
    parameter factors, the cosine similarity per (variant, alpha) and dense, relative improvement per alpha."""

    task: str
    alpha: int
    dense: Line
    fpe: Line
    factors: tuple[ParamFactor, ...]
    cosine: tuple[Line, ...]
    dense_cosine: Line
    improvement: tuple[Line, ...]


def _accuracy_line(variant: str, alpha: int, g: pd.DataFrame, axis: str) -> Line:
    """Mean test accuracy (%) +- its SEM (%) vs ``axis``."""
    return Line(
        variant, alpha, tuple(g[axis]), tuple(100 * g["test_accuracy_mean"]), tuple(100 * g["test_accuracy_sem"])
    )


def main_task(s: pd.DataFrame) -> str:
    """The task with the most rows: one task per figure."""
    return s["task"].value_counts().idxmax()


def width_scan(s: pd.DataFrame, v: pd.DataFrame, task: str) -> WidthScan:
    """The series of Fig. 6a/c/d for ``task`` from the summary ``s`` and the variant table ``v``."""
    s, v = s[s["task"] == task], v[v["task"] == task]
    dense = v[v["variant"] == "dense"].groupby("r", as_index=False).mean(numeric_only=True)
    amax = int(s["alpha"].max())
    fpe = v[(v["variant"] == "random") & (v["alpha"] == amax)].groupby("r", as_index=False).mean(numeric_only=True)
    factors = []
    for _, row in fpe.iterrows():
        eq = dense_equivalent(dense, row["test_accuracy_mean"])
        if not math.isnan(eq):
            factors.append(ParamFactor(row["r"], 100 * row["test_accuracy_mean"], eq / row["nonzero_params_mean"]))
    cosine = []
    for (variant, alpha), g in v[v["variant"] != "dense"].groupby(["variant", "alpha"]):
        g = g.groupby("r", as_index=False).mean(numeric_only=True)
        cosine.append(Line(variant, alpha, tuple(g["r"]), tuple(g["cosine_mean"])))
    return WidthScan(
        task=task,
        alpha=amax,
        dense=_accuracy_line("dense", 0, dense, "r"),
        fpe=_accuracy_line("random", amax, fpe, "r"),
        factors=tuple(factors),
        cosine=tuple(cosine),
        dense_cosine=Line("dense", 0, tuple(dense["r"]), tuple(dense["cosine_mean"])),
        improvement=tuple(mean_lines(s, "r", "relative_improvement", pct=True)),
    )


def timing_lines(v: pd.DataFrame) -> list[Line]:
    """Final test accuracy (%, mean +- mean SEM over configurations) vs warm-up epochs, one line per variant."""
    out = []
    for variant, g in v.groupby("variant"):
        g = g.groupby("warmup_epochs", as_index=False).mean(numeric_only=True)
        out.append(_accuracy_line(variant, 0, g, "warmup_epochs"))
    return out


@dataclass(frozen=True)
class SplitTimeCurves:
    """The curves of one split time (warm-up epochs): mean test accuracy per epoch over trials, per variant."""

    warm: int
    curves: tuple[Line, ...]


def split_time_curves(r: pd.DataFrame) -> list[SplitTimeCurves]:
    """Per split time, the mean curve (test accuracy in %) of each variant (the dense model once: it is the same
    for every split time, same seed and same total epochs), x in epochs."""
    out = []
    for warm, g in r.groupby("warmup_epochs"):
        every = int(g["curve_every"].iloc[0])
        curves = []
        for variant, h in g.groupby("variant"):
            if variant == "dense" and warm != r["warmup_epochs"].min():
                continue
            per_trial = np.array([list(c) for c in h["test_curve"]], dtype=float)  # (trials, points)
            x = every * np.arange(1, per_trial.shape[1] + 1)
            curves.append(Line(variant, 0, tuple(x), tuple(100 * per_trial.mean(axis=0))))
        out.append(SplitTimeCurves(warm, tuple(curves)))
    return out


def theory_ratio_lines(grid: pd.DataFrame) -> tuple[list[Line], list[Line]]:
    """Per (k, alpha) of the overlap family, vs m: exact p / alpha^-k and exact collision ratio / alpha^-(2k-1)."""
    g = grid[grid["family"] == "overlap"]
    p, coll = [], []
    for (k, alpha), h in g.groupby(["k", "alpha"]):
        label = f"k={k}, α={alpha}"
        p.append(Line("overlap", int(alpha), tuple(h["m"]), tuple(h["p_ratio"].astype(float)), label=label))
        coll.append(Line("overlap", int(alpha), tuple(h["m"]), tuple(h["ratio_ratio"].astype(float)), label=label))
    return p, coll


def r_min_lines(rmin: pd.DataFrame) -> list[Line]:
    """Per (k, alpha, eps) vs clauses: the paper's minimal r (variant "paper") and the exact one per family."""
    out = []
    for (k, alpha, eps), h in rmin.groupby(["k", "alpha", "eps"]):
        h = h.sort_values("clauses")
        case = f"k={k}, α={alpha}, ε={eps}"
        out.append(
            Line("paper", int(alpha), tuple(h["clauses"]), tuple(h["paper"].astype(float)), label=f"paper, {case}")
        )
        for family in ("overlap", "random"):
            if family in h.columns:
                out.append(
                    Line(
                        family,
                        int(alpha),
                        tuple(h["clauses"]),
                        tuple(h[family].astype(float)),
                        label=f"exact {family}, {case}",
                    )
                )
    return out


COLLISION_READINGS = (
    ("mc_collisions", "Monte Carlo"),
    ("mask_collisions", "trained masks"),
    ("learned_collisions", "learned weights"),
)


def collision_points(pred: pd.DataFrame) -> list[Line]:
    """Exact expected collisions (x) against each measured reading (y), one point set per reading that has data."""
    x = tuple(pred["exact_collisions"].astype(float))
    out = []
    for column, label in COLLISION_READINGS:
        y = pd.to_numeric(pred[column], errors="coerce")
        if y.notna().any():
            out.append(Line(column, 0, x, tuple(y.astype(float)), label=label))
    return out


@dataclass(frozen=True)
class RegressionSeries:
    """One fit of Fig. 4c: the points (x, RI - 1 in %) and the fitted line over their x range."""

    x: str  # the regressor's column
    variant: str
    alpha: int
    points: Line
    fit: Line


def regression_series(regs) -> list[RegressionSeries]:
    """Fig. 4c's points and OLS lines per (variant, alpha) (``frame.regressions``; "all pooled" left out)."""
    out = []
    for reg in regs:
        if reg.label == "all pooled":
            continue
        variant = reg.label.split(",")[0]
        alpha = int(reg.label.split("alpha=")[1]) if "alpha=" in reg.label else 0
        xx = np.linspace(min(reg.xs), max(reg.xs), 20)
        label = f"{variant}, α={alpha}: R²={reg.rsquared:.2f}"
        points = Line(variant, alpha, reg.xs, reg.ys, label=label)
        fit = Line(variant, alpha, tuple(xx), tuple(reg.const + reg.slope * xx), label=label)
        out.append(RegressionSeries(reg.x, variant, alpha, points, fit))
    return out
