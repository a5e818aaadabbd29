"""Paper-style figures from stored rows and exact theory (matplotlib, Agg; PDF + PNG).

Each ``fig_*`` function takes the analysis tables and a folder, draws one figure when its
data exists and returns a ``Drawn`` (name, caption, file stem) or a ``Skipped`` note.
No figure trains or simulates: the data come in as DataFrames.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reports.compute.selection import FIGURE_SWEEPS, select
from reports.compute.series import (
    Line,
    collision_points,
    heatmaps,
    main_task,
    mean_lines,
    per_param_lines,
    r_min_lines,
    regression_series,
    split_time_curves,
    theory_ratio_lines,
    timing_lines,
    width_scan,
)
from reports.render.latex import escape, fmt

STYLE = {
    "clause": "tab:green",
    "random": "tab:orange",
    "gram": "tab:purple",
    "structured_2_4": "tab:brown",
    "overlap": "tab:gray",
    "dropconnect": "tab:pink",
    "dense": "black",
}


@dataclass(frozen=True)
class Drawn:
    name: str
    caption: str
    stem: str  # figures/<stem>.pdf and .png


@dataclass(frozen=True)
class Skipped:
    name: str
    note: str


def _plt():
    log = logging.getLogger("matplotlib")  # an unwritable HOME: matplotlib uses a temporary cache, and says so
    level = log.level  # in two lines at import; the report needs no cache, so the import is kept quiet
    log.setLevel(logging.ERROR)
    try:
        import matplotlib
    finally:
        log.setLevel(level)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["figure.constrained_layout.use"] = True  # no label overlaps between stacked panels
    return plt


def _save(fig, folder: Path, stem: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{stem}.pdf", bbox_inches="tight")
    fig.savefig(folder / f"{stem}.png", dpi=110, bbox_inches="tight")
    _plt().close(fig)


ERRORBARS = (
    " Error bars: $\\pm 1$ SEM over trials (each trial its own initialisation, masks and data order; where"
    " several configurations share a point, the mean of their SEMs)."
)
MARKS_TEXT = " $\\blacktriangle$/$\\blacktriangledown$: gain/loss vs dense at Holm-adjusted $p < 0.05$ (paired $t$)."


def _provenance(rows: pd.DataFrame, bars: bool = False, marks: bool = False) -> str:
    """' Rows of sweep(s) ...' naming the stored sweeps a figure was drawn from, then what its error bars capture
    (``bars``) and what its triangles mark (``marks``)."""
    names = sorted({n for v in rows["sweep"].dropna() for n in str(v).split(",")})
    return (
        (f" Rows of sweep(s) {escape(', '.join(names))}." if names else "")
        + (ERRORBARS if bars else "")
        + (MARKS_TEXT if marks else "")
    )


def _legend(ax, fontsize: float = 7) -> None:
    """The axes' legend beside the plot, right of it (never over the data); none when nothing has a label."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


MARKS = {"gain": "▲", "loss": "▼"}  # Holm-adjusted p < 0.05, by direction (frame.summarize's ``star``)


def _lines(ax, lines: list[Line], axis: str, star_alpha=None):
    """Draw each ``Line`` with its error bars; ▲ gain / ▼ loss at Holm p < 0.05 (on every line with
    ``star_alpha="all"``, else on the lines of that alpha)."""
    for line in lines:
        ls = ":" if line.alpha == 2 else "-"
        ax.errorbar(
            line.x,
            line.y,
            yerr=line.err,
            color=STYLE.get(line.variant),
            ls=ls,
            marker="o",
            ms=3,
            capsize=2,
            label=line.label or f"{line.variant}, α={line.alpha}",
        )
        if star_alpha == "all" or line.alpha == star_alpha:
            for xv, yv, st in zip(line.x, line.y, line.marks, strict=True):
                if st in MARKS:
                    ax.annotate(MARKS[st], (xv, yv), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7)
    ax.set_xlabel(axis)


def _per_param(ax, lines: list[Line], axis: str):
    """Test accuracy (%) per nonzero parameter per (variant, alpha) (``series.per_param_lines``)."""
    for line in lines:
        ax.plot(
            line.x,
            line.y,
            color=STYLE.get(line.variant),
            marker="o",
            ms=3,
            ls=":" if line.alpha == 2 else "-",
            label=f"{line.variant}, α={line.alpha}",
        )
    ax.set_ylabel("test accuracy (%) / nonzero params")
    ax.set_xlabel(axis)
    _legend(ax, 6)


def fig_scan(summary, vtable, folder, name, axis, sweeps, fixed, caption):
    """Fig. 3a/3b: relative improvement (%) and accuracy per parameter vs ``axis``."""
    s = select(summary, sweeps, **fixed)
    v = select(vtable, sweeps, **fixed)
    if s.empty or s[axis].nunique() < 1:
        return Skipped(name, f"no stored rows of sweep {'/'.join(sweeps)}")
    plt = _plt()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.2, 5.6), sharex=True)
    _lines(a1, mean_lines(s, axis, "relative_improvement", pct=True), axis, star_alpha="all")
    a1.axhline(0, color="k", ls="--", lw=0.8)
    a1.set_ylabel("relative improvement (%)")
    _legend(a1)
    if "nonzero_params_mean" in v.columns:
        _per_param(a2, per_param_lines(v, axis), axis)
    _save(fig, folder, name)
    return Drawn(name, caption + _provenance(s, bars=True, marks=True), name)


def fig_heatmap(summary, folder, name="fig3c", sweeps=FIGURE_SWEEPS["heatmap"]):
    """Fig. 3c: relative improvement (%) over clauses x neurons, one panel per (variant, alpha)."""
    s = select(summary, sweeps)
    if s.empty:
        return Skipped(name, f"no stored rows of sweep {'/'.join(sweeps)}")
    plt = _plt()
    panels = heatmaps(s)
    fig, axes = plt.subplots(len(panels), 1, figsize=(5, 2.8 * len(panels)), squeeze=False, constrained_layout=True)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        data = np.array(panel.values, dtype=float)
        lim = float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 1.0
        im = ax.imshow(data, origin="lower", cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")  # diverging, 0 = white
        ax.set_xticks(range(len(panel.cols)), [str(c) for c in panel.cols])
        ax.set_yticks(range(len(panel.rows)), [str(c) for c in panel.rows])
        for (i, j), val in np.ndenumerate(data):
            if not math.isnan(val):
                ax.text(j, i, fmt(val, 1, sci=False), ha="center", va="center", fontsize=7, color="k")
        ax.set_title(f"{panel.variant}-split, α={panel.alpha}: relative improvement (%)", fontsize=9)
        ax.set_xlabel("r")
        ax.set_ylabel("clauses")
        fig.colorbar(im, ax=ax)
    _save(fig, folder, name)
    return Drawn(
        name,
        "Relative improvement (\\%) of FPE over dense, clauses $\\times$ neurons (paper Fig.~3c)." + _provenance(s),
        name,
    )


def fig_folds(summary, folder, name, axis, sweeps, fixed, caption):
    """Fig. 4a/4b: capacity fold change (top) and the |cos| (else signed cos) difference FPE - dense (bottom) vs
    ``axis``; ``caption`` has a ``{cos}`` field for the name of the bottom quantity."""
    s = select(summary, sweeps, **fixed)
    if s.empty or "capacity_fold_mean" not in s.columns or s["capacity_fold_mean"].isna().all():
        return Skipped(name, f"no capacity/cosine rows of sweep {'/'.join(sweeps)}")
    plt = _plt()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.2, 5.6), sharex=True)
    _lines(a1, mean_lines(s, axis, "capacity_fold"), axis, star_alpha=None)
    cos = (
        "abs_cosine_diff" if "abs_cosine_diff_mean" in s and s["abs_cosine_diff_mean"].notna().any() else "cosine_diff"
    )
    _lines(a2, mean_lines(s, axis, cos), axis, star_alpha=None)
    a1.axhline(1.0, color="k", ls="--", lw=0.8)
    a2.axhline(0.0, color="k", ls="--", lw=0.8)
    a1.set_ylabel("feature capacity fold change")
    a2.set_ylabel(("|cos|" if cos == "abs_cosine_diff" else "cos") + " difference, FPE − dense")
    _legend(a1)
    _save(fig, folder, name)
    cos_tex = "$|\\cos|$" if cos == "abs_cosine_diff" else "$\\cos$"
    return Drawn(name, caption.format(cos=cos_tex) + _provenance(s, bars=True), name)


def fig_regressions(regs, folder, name="fig4c"):
    """Fig. 4c: relative improvement (%) vs fold changes with the OLS lines and R^2 (``series.regression_series``)."""
    series = regression_series(regs)
    if not series:
        return Skipped(name, "no regression had >= 3 points with varying fold change")
    plt = _plt()
    fig, axes = plt.subplots(2, 1, figsize=(6.2, 5.6))
    for ax, x in zip(axes, ("capacity_fold", "abs_cosine_diff"), strict=True):
        for fit in (f for f in series if f.x == x):
            color = STYLE.get(fit.variant)
            ax.scatter(fit.points.x, fit.points.y, s=8, color=color, alpha=0.6)
            ax.plot(fit.fit.x, fit.fit.y, color=color, ls=":" if fit.alpha == 2 else "-", label=fit.fit.label)
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel("relative improvement (%)")
        _legend(ax, 6)
    _save(fig, folder, name)
    return Drawn(
        name,
        "Relative improvement (\\%) vs feature capacity fold change (top) and the $|\\cos|$ difference "
        "FPE $-$ dense (bottom), one point per FPE model, statsmodels OLS per split and $\\alpha$ "
        "(dotted $\\alpha=2$, solid $\\alpha=4$; paper Fig.~4c).",
        name,
    )


def fig_vision(summary, vtable, folder, name="fig5", sweeps=FIGURE_SWEEPS["vision"]):
    """Fig. 5: per vision task, relative improvement (%) and accuracy per parameter vs neurons."""
    s = select(summary, sweeps)
    s = s[s["task"] != "boolean"] if not s.empty else s
    if s.empty:
        return Skipped(name, f"no stored vision rows of sweep {'/'.join(sweeps)}")
    v = select(vtable, sweeps)
    tasks = sorted(s["task"].unique())
    plt = _plt()
    fig, axes = plt.subplots(2, len(tasks), figsize=(5.4 * len(tasks), 5.6), squeeze=False)
    for j, task in enumerate(tasks):
        _lines(
            axes[0, j], mean_lines(s[s["task"] == task], "r", "relative_improvement", pct=True), "r", star_alpha="all"
        )
        axes[0, j].axhline(0, color="k", ls="--", lw=0.8)
        axes[0, j].set_title(task, fontsize=9)
        axes[0, j].set_ylabel("relative improvement (%)")
        _per_param(axes[1, j], per_param_lines(v[v["task"] == task], "r"), "r")
    _legend(axes[0, -1])
    _save(fig, folder, name)
    return Drawn(
        name,
        "Vision tasks: relative improvement (\\%, top) and test accuracy (\\%) per nonzero parameter "
        "(bottom) vs neurons (paper Fig.~5)." + _provenance(s, bars=True, marks=True),
        name,
    )


def fig_alpha(summary, vtable, folder, name="fig6", sweeps=FIGURE_SWEEPS["alpha"]):
    """Fig. 6a/c/d as panels (a), (b), (c): accuracy (%) vs width (with the dense-equivalent parameter factor),
    cosine, relative improvement (%) per alpha."""
    s, v = select(summary, sweeps), select(vtable, sweeps)
    if s.empty:
        return Skipped(name, f"no stored rows of sweep {'/'.join(sweeps)}")
    task = main_task(s)
    scan = width_scan(s, v, task)
    s = s[s["task"] == task]  # the caption names the sweeps of the drawn task
    plt = _plt()
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 3.8), constrained_layout=True)
    for ax, title in ((a, "(a) test accuracy vs width"), (b, "(b) cosine similarity"), (c, "(c) relative improvement")):
        ax.set_title(title, fontsize=9)
    a.errorbar(scan.dense.x, scan.dense.y, yerr=scan.dense.err, color="k", label="dense")
    a.errorbar(scan.fpe.x, scan.fpe.y, yerr=scan.fpe.err, color="tab:orange", label=f"random, α={scan.alpha}")
    for f in scan.factors:
        a.annotate(f"{f.factor:.2f}x", (f.x, f.y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    a.set_xlabel("r")
    a.set_ylabel("test accuracy (%)")
    _legend(a)
    for line in scan.cosine:
        b.plot(line.x, line.y, marker="o", ms=3, label=f"{line.variant}, α={line.alpha}")
    b.plot(scan.dense_cosine.x, scan.dense_cosine.y, "k--", label="dense")
    b.set_xlabel("r")
    b.set_ylabel("cosine similarity")
    _legend(b)
    _lines(c, list(scan.improvement), "r")
    c.set_ylabel("relative improvement (%)")
    _legend(c)
    _save(fig, folder, name)
    return Drawn(
        name,
        "(a) Test accuracy (\\%) vs width, dense and random-split FPE at the largest $\\alpha$, "
        "annotated with the dense parameter factor that matches it (paper Fig.~6a); (b) cosine "
        "similarity (paper Fig.~6c); (c) relative improvement (\\%) per $\\alpha$ (paper Fig.~6d). "
        "Task: " + task.replace("_", "\\_") + "." + _provenance(s, bars=True),
        name,
    )


def fig_timing(vtable, folder, name="fig6b", sweeps=FIGURE_SWEEPS["timing"]):
    """Fig. 6b (final accuracies only: rows store no per-epoch curves): test accuracy (%) vs warm-up epochs."""
    v = select(vtable, sweeps)
    if v.empty or v["warmup_epochs"].nunique() < 1:
        return Skipped(name, f"no stored rows of sweep {'/'.join(sweeps)}")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    for line in timing_lines(v):
        ax.errorbar(line.x, line.y, yerr=line.err, marker="o", ms=3, color=STYLE.get(line.variant), label=line.variant)
    ax.set_xlabel("dense warm-up epochs before the split")
    ax.set_ylabel("final test accuracy (%)")
    _legend(ax)
    _save(fig, folder, name)
    return Drawn(
        name,
        "Split timing: final test accuracy (\\%) vs warm-up epochs before the split (paper Fig.~6b "
        "shows training curves; rows store final accuracies only)." + _provenance(v, bars=True),
        name,
    )


def fig_curves(rows: pd.DataFrame, vtable, folder, name="fig6b", sweeps=FIGURE_SWEEPS["timing"]):
    """Fig. 6b: test-accuracy curves (%, mean over trials) of dense and FPE for each split time.

    Uses the rows' ``test_curve`` (sweeps run with ``curve_every`` > 0); without curves it falls back to
    final accuracy vs warm-up epochs (``fig_timing``).
    """
    r = select(rows, sweeps)
    if r.empty or "test_curve" not in r or r["test_curve"].isna().all():
        return fig_timing(vtable, folder, name, sweeps)
    r = r[r["test_curve"].notna()]
    task = r["task"].iloc[0]
    r = r[r["task"] == task]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    split_times = split_time_curves(r)
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(split_times)))
    for color, split in zip(colors, split_times, strict=True):
        for line in split.curves:
            dense = line.variant == "dense"
            label = "dense" if dense else f"{line.variant}, split at {split.warm}"
            ax.plot(line.x, line.y, color="black" if dense else color, ls="--" if dense else "-", lw=1.2, label=label)
        ax.axvline(split.warm, color=color, ls=":", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%, mean over trials)")
    _legend(ax)
    _save(fig, folder, name)
    return Drawn(
        name,
        "Training curves for different split times (paper Fig.~6b): dense (dashed) and FPE "
        "test accuracy (\\%, mean over trials; no error bars) per epoch, dotted lines at the splits. "
        "Task: " + str(task).replace("_", "\\_") + "." + _provenance(r),
        name,
    )


def fig_theory_ratios(grid: pd.DataFrame, folder, name="theory_ratios"):
    """Exact p / alpha^-k and exact collision ratio / alpha^-(2k-1) vs m, per (k, alpha)."""
    p_lines, coll_lines = theory_ratio_lines(grid)
    if not p_lines:
        return Skipped(name, "empty theory grid")
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, lines, lab in (
        (a1, p_lines, "exact $p$ / $\\alpha^{-k}$"),
        (a2, coll_lines, "exact collision ratio / $\\alpha^{-(2k-1)}$"),
    ):
        for line in lines:
            ax.plot(line.x, line.y, marker="o", ms=3, label=line.label)
        ax.axhline(1.0, color="k", ls="--", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("m (literals)")
        ax.set_ylabel(lab)
    _legend(a2)
    _save(fig, folder, name)
    return Drawn(
        name,
        "Where the paper's approximations hold: exact coverage probability and exact collision "
        "ratio divided by the paper's $\\alpha^{-k}$ and $\\alpha^{-(2k-1)}$ (1 = exact agreement; "
        "exact numbers, no error bars).",
        name,
    )


def fig_r_min(rmin: pd.DataFrame, folder, name="theory_r_min"):
    """The paper's minimal r vs the exact ones, vs the number of clauses."""
    if rmin.empty:
        return Skipped(name, "no r_min rows")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    colors = {"overlap": "tab:blue", "random": "tab:orange"}
    for line in r_min_lines(rmin):
        if line.variant == "paper":
            ax.plot(line.x, line.y, "k--", marker="x", ms=3, label=line.label)
        else:
            ax.plot(line.x, line.y, color=colors[line.variant], marker="o", ms=3, label=line.label)
    ax.set_xlabel("clauses C")
    ax.set_ylabel("minimal r")
    _legend(ax, 6)
    _save(fig, folder, name)
    return Drawn(
        name,
        "Minimal $r$ for $P(\\text{all clauses covered}) \\ge 1-\\epsilon$: the paper's "
        "$\\alpha^{k-1}\\ln(C/\\epsilon)$ vs the exact smallest $r$ (exact numbers, no error bars).",
        name,
    )


def fig_predicted_collisions(pred: pd.DataFrame, folder, name="collisions_pred_vs_measured"):
    """Exact expected collisions (x) vs Monte Carlo, trained masks and learned supports (y)."""
    if pred.empty:
        return Skipped(name, "no Boolean FPE rows with a mask family")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for line, mk in zip(collision_points(pred), "os^", strict=False):
        ax.scatter(line.x, line.y, marker=mk, s=14, label=line.label, alpha=0.7)
    hi = max(1.0, float(np.nanmax(pred["exact_collisions"].astype(float))) * 1.1)
    ax.plot([0, hi], [0, hi], "k--", lw=0.8)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("exact expected collisions")
    ax.set_ylabel("measured collisions (mean)")
    _legend(ax)
    _save(fig, folder, name)
    return Drawn(
        name,
        "Predicted (exact) vs measured collisions per Boolean configuration and split (means over "
        "trials, no error bars; the dashed line is equality).",
        name,
    )
