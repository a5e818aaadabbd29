"""The report's tables as LaTeX strings, each built from stored rows or exact theory.

Every cell is formatted here (``reports.render.latex``); text from data is escaped. The paper's
numbers come only from ``reports.paper_numbers``.
"""

from __future__ import annotations

import math

import pandas as pd

from reports import paper_numbers
from reports.compute.paper_comparison import PaperRow
from reports.compute.theory import PruningMove
from reports.render.latex import RAGGED, escape, fmt, frac, interval, pct, pm, prose, signed, table


def sweeps(value) -> str:
    """The sweeps a configuration belongs to, 'a, b' (stored 'a,b'), escaped: a wrapping column can break there."""
    return escape(", ".join(str(value).split(","))) if isinstance(value, str) and value else ""


SWEEP_COLUMN = RAGGED.format("2.5cm")


def _int(x) -> str:
    return "--" if x is None or pd.isna(x) else str(int(x))


def config_table(overview: pd.DataFrame) -> str:
    """One line per stored configuration (``reports.compute.table_rows.config_overview``): sweep, task, C, k, r,
    alpha, depth, warm-up, epochs, training examples, rewiring, the variants stored and the trials."""
    cols = ["sweep", "task", "clauses", "k", "r", "alpha", "depth", "warmup_epochs", "epochs", "n_train"]
    rows = []
    for _, c in overview.iterrows():
        cells = [sweeps(c.get("sweep")), *(escape(c.get(col, "--")) for col in cols[1:])]
        if c.get("task") != "boolean":
            cells[2] = cells[3] = "--"
        rw = c.get("rewire_every")
        rewire = "--" if rw is None or pd.isna(rw) or int(rw) == 0 else f"{int(rw)}/{fmt(c.get('rewire_fraction'), 2)}"
        rows.append([*cells, rewire, escape(", ".join(c["variants"])), str(int(c["trials"]))])
    head = [
        "sweep",
        "task",
        "$C$",
        "$k$",
        "$r$",
        r"$\alpha$",
        "depth",
        "warm-up",
        "epochs",
        "$n$ train",
        "rewire",
        "variants",
        "trials",
    ]
    return "{\\small\n" + table(head, rows, align=SWEEP_COLUMN + "lrrrrrrrrl" + RAGGED.format("4.6cm") + "r") + "}\n"


def grid_table(grid: pd.DataFrame, families=("overlap",)) -> str:
    """Exact p and collision ratio beside alpha^-k and alpha^-(2k-1)."""
    g = grid[grid["family"].isin(families)]
    rows = [
        [
            str(r.m),
            str(r.k),
            str(r.alpha),
            frac(r.p_exact),
            frac(r.p_paper),
            fmt(r.p_ratio),
            frac(r.ratio_exact, 6) if r.ratio_exact is not None else "--",
            frac(r.ratio_paper, 6),
            fmt(r.ratio_ratio),
        ]
        for r in g.itertuples()
    ]
    head = [
        "$m$",
        "$k$",
        r"$\alpha$",
        "exact $p$",
        r"$\alpha^{-k}$",
        "ratio",
        r"exact $E_{\mathrm{FPE}}/E_{\mathrm{dense}}$",
        r"$\alpha^{-(2k-1)}$",
        "ratio",
    ]
    return table(head, rows)


def r_min_latex(rmin: pd.DataFrame) -> str:
    """Paper's minimal r vs the exact one (overlap and random families)."""
    rows = [
        [str(r.m), str(r.k), str(r.alpha), str(r.clauses), fmt(r.eps, 2), str(r.paper), _int(r.overlap), _int(r.random)]
        for r in rmin.itertuples()
    ]
    return table(
        ["$m$", "$k$", r"$\alpha$", "$C$", r"$\epsilon$", "paper $r$", "exact (overlap)", "exact (random)"], rows
    )


def mc_table(mc: pd.DataFrame) -> str:
    """Exact vs Monte Carlo estimate, stderr and z."""
    rows = [
        [
            str(r.m),
            str(r.k),
            str(r.alpha),
            escape(r.family),
            str(r.r),
            escape(r.quantity),
            fmt(r.exact, 4),
            fmt(r.estimate, 4),
            fmt(r.stderr, 4),
            "--" if r.z is None or pd.isna(r.z) else signed(r.z, 2),
        ]
        for r in mc.itertuples()
    ]
    return table(["$m$", "$k$", r"$\alpha$", "family", "$r$", "quantity", "exact", "estimate", "stderr", "$z$"], rows)


def _pct_moved(x: float) -> str:
    return "--" if x is None or math.isnan(x) else signed(100 * x, 0) + "\\%"


def prediction_latex(pred: pd.DataFrame) -> str:
    """Per Boolean config and split: exact before A1's pruning, masks after it (stored), how much pruning moved
    each quantity, the Monte Carlo of masks before pruning, and the learned supports."""
    rows = []
    for r in pred.itertuples():
        rows.append(
            [
                sweeps(r.sweep),
                str(r.clauses),
                str(r.k),
                str(r.r),
                str(r.alpha),
                escape(r.variant),
                str(r.n),
                fmt(r.exact_covered, 2),
                fmt(r.mask_covered, 2),
                _pct_moved(r.covered_moved),
                fmt(r.exact_all_covered, 3),
                fmt(r.mc_all_covered, 3),
                fmt(r.mask_all_covered, 3),
                fmt(r.learned_all_covered, 3),
                fmt(r.exact_collisions, 2),
                fmt(r.mc_collisions, 2),
                pm(r.mask_collisions, r.mask_collisions_se, 2),
                _pct_moved(r.collisions_moved),
                pm(r.learned_collisions, r.learned_collisions_se, 2),
                str(r.dense_collisions),
            ]
        )
    head = [
        "sweep",
        "$C$",
        "$k$",
        "$r$",
        r"$\alpha$",
        "split",
        "$n$",
        "cov.\\ exact",
        "masks",
        "moved",
        "P(all) exact",
        "MC",
        "masks",
        "learned",
        "coll.\\ exact",
        "MC",
        "masks",
        "moved",
        "learned",
        "dense",
    ]
    return (
        "{\\scriptsize\\setlength{\\tabcolsep}{2.5pt}\n"
        + table(head, rows, align=SWEEP_COLUMN + "rrrrlr" + "r" * 13)
        + "}\n"
    )


def pruning_summary(moves: list[PruningMove]) -> str:
    """One sentence (LaTeX) on how much A1's pruning moves expected coverage, P(all covered) and collisions
    (``reports.compute.theory.pruning_moves``)."""
    parts = []
    for m in moves:
        if m.relative:
            parts.append(
                f"{m.quantity} by {_pct_moved(m.median)} (median over {m.n} rows; range "
                f"{_pct_moved(m.low)} to {_pct_moved(m.high)})"
            )
        else:
            parts.append(
                f"{m.quantity} by {signed(m.median, 3)} (median; range {signed(m.low, 3)} to {signed(m.high, 3)})"
            )
    if not parts:
        return ""
    return (
        "Measured on the stored masks, A1's pruning moves " + "; ".join(parts) + ", relative to the exact "
        "values of the masks before pruning."
    )


def _config_cells(r) -> list[str]:
    """The fields that tell configurations apart: sweep, task, C, r, alpha, depth, warm-up+epochs, rewiring."""
    g = r.get if isinstance(r, dict) else (lambda k, d=None: getattr(r, k, d))
    boolean = g("task") == "boolean"
    rewire = g("rewire_every")
    rw = (
        "--"
        if rewire is None or pd.isna(rewire) or int(rewire) == 0
        else f"{int(rewire)}/{fmt(g('rewire_fraction'), 2)}"
    )
    return [
        sweeps(g("sweep")),
        escape(g("task") or ""),
        _int(g("clauses")) if boolean else "--",
        _int(g("r")),
        _int(g("alpha")),
        _int(g("depth")),
        f"{_int(g('warmup_epochs'))}+{_int(g('epochs'))}",
        rw,
    ]


CONFIG_HEAD = ["sweep", "task", "$C$", "$r$", r"$\alpha$", "depth", "$W$+$E$", "rewire"]


def accuracy_table(vtable: pd.DataFrame) -> str:
    """Absolute test accuracy (mean +- SEM, %) per configuration and variant, with every distinguishing field."""
    rows = []
    for r in vtable.itertuples():
        rows.append(
            [
                *_config_cells(r),
                escape(r.variant),
                str(r.n),
                pm(100 * r.test_accuracy_mean, 100 * r.test_accuracy_sem, 2),
                fmt(getattr(r, "nonzero_params_mean", math.nan), 0),
            ]
        )
    head = [*CONFIG_HEAD, "variant", "$n$", r"test acc. (\%)", "nonzero params"]
    return "{\\scriptsize\n" + table(head, rows, align=SWEEP_COLUMN + "lrrrrrlrrrr") + "}\n"


def _p(x) -> str:
    """A p-value: three decimals from 0.001 up, two significant digits typeset as a power of ten below."""
    if x is None or pd.isna(x):
        return "--"
    if x == 0 or x >= 0.001:
        return f"{x:.3f}"
    mant, exp = f"{x:.1e}".split("e")
    return f"${mant}\\times 10^{{{int(exp)}}}$"


def _need(x) -> str:
    if x is None or pd.isna(x):
        return "--"
    return "$>$10000" if math.isinf(x) else str(int(x))


def improvement_table(summary: pd.DataFrame) -> str:
    """Paired FPE - dense per configuration: difference (pts) with 95 % t-CI, RI (%), share improved,
    paired t and Wilcoxon p, Holm-adjusted p over the table, gain/loss mark, trials for 80 % power."""
    rows = []
    for r in summary.itertuples():
        ci = interval(100 * r.diff_lo, 100 * r.diff_hi, 1)
        rows.append(
            [
                *_config_cells(r),
                escape(r.variant),
                str(r.n),
                signed(100 * r.diff, 2),
                ci,
                signed(r.ri_pct, 1),
                "--" if pd.isna(r.frac_improved) else f"{100 * r.frac_improved:.0f}",
                _p(r.p),
                _p(r.wilcoxon_p),
                _p(r.p_holm),
                r.star or "",
                _need(r.n_needed),
            ]
        )
    head = [
        *CONFIG_HEAD,
        "split",
        "$n$",
        r"$\Delta$ (pts)",
        r"95\% CI",
        r"RI (\%)",
        r"impr.\ (\%)",
        "$p_t$",
        "$p_W$",
        r"$p_{\mathrm{Holm}}$",
        "mark",
        r"$n$ for 80\%",
    ]
    return (
        "{\\scriptsize\\setlength{\\tabcolsep}{2.5pt}\n"
        + table(head, rows, align=SWEEP_COLUMN + "lrrrrrl" + "lrrrrrrrrlr")
        + "}\n"
    )


def metric_table(cells: pd.DataFrame) -> str:
    """Like the paper's A1/A2 (``reports.compute.table_rows.metric_cells``): rows = literals m and alpha,
    columns = dense / clause / random, mean +- SD."""
    if cells.empty:
        return ""
    rows = [
        [str(c["m"]), str(c["alpha"]), *(pm(c[f"{v}_mean"], c[f"{v}_sd"]) for v in paper_numbers.VARIANTS_A1_A2)]
        for _, c in cells.iterrows()
    ]
    return table(["literals $m$", r"$\alpha$", "dense", "clause-split", "random-split"], rows)


def cosine_difference_table(rows_in: pd.DataFrame) -> str:
    """Per (m, alpha, split) of the A2 rows (``reports.compute.table_rows.cosine_difference_rows``): FPE - dense
    of the signed cosine and of |cos|, mean +- SEM over trials."""
    if rows_in.empty:
        return ""
    rows = []
    for r in rows_in.itertuples():
        rows.append(
            [
                str(r.m),
                str(r.alpha),
                escape(r.variant),
                str(r.n),
                pm(getattr(r, "cosine_diff_mean", math.nan), getattr(r, "cosine_diff_sem", math.nan)),
                pm(r.abs_cosine_diff_mean, r.abs_cosine_diff_sem),
            ]
        )
    return table(
        ["literals $m$", r"$\alpha$", "split", "$n$", r"$\cos$: FPE $-$ dense", r"$|\cos|$: FPE $-$ dense"],
        rows,
        align="rrlrrr",
    )


def regression_table(regs) -> str:
    """OLS of relative improvement (RI - 1, %) on capacity fold / |cos| difference: intercept (%) and slope
    (% per unit of x) with 95% CI (standard errors clustered by dense trial), p of the slope, R^2, n models and
    the number of clusters."""
    rows = [
        [
            escape(r.x.replace("_", " ")),
            prose(r.label),
            str(r.nobs),
            str(r.clusters or "--"),
            signed(r.const, 1),
            interval(*r.const_ci, 1),
            signed(r.slope, 2),
            interval(*r.slope_ci, 2),
            fmt(r.slope_p, 4),
            fmt(r.rsquared, sci=False),
        ]
        for r in regs
    ]
    head = [
        "$x$",
        "fit",
        "$n$",
        "clusters",
        r"intercept (\%)",
        r"95\% CI",
        r"slope (\% per unit $x$)",
        r"95\% CI",
        "$p$ (slope)",
        "$R^2$",
    ]
    return "{\\small\n" + table(head, rows, align="llrrrrrrrr") + "}\n"


def _paper_cells(row: PaperRow) -> list[str]:
    """[quantity, source, paper, ours (mean), ours best-of-T, T, ours - paper, n]."""
    f = pct if row.percent else fmt
    ours, best = row.ours, row.best
    diff = "--" if ours is None or pd.isna(ours) else (pct(ours - row.paper) if row.percent else fmt(ours - row.paper))
    b = "--" if best is None or pd.isna(best) else f(best)
    return [
        prose(row.quantity),
        prose(row.source),
        f(row.paper),
        "--" if ours is None else f(ours),
        b,
        str(row.T or "--"),
        diff,
        str(row.n or "--"),
    ]


def paper_vs_ours(paper: list[PaperRow]) -> str:
    """The paper's numbers beside ours (``reports.compute.paper_comparison.paper_rows``): our mean, the expected
    best of the paper's T of our trials ("--" when we have fewer than T), ours - paper (of the mean), n."""
    rows = [_paper_cells(r) for r in paper]
    head = ["quantity", "paper source", "paper", "ours (mean)", "ours, best of $T$", "$T$", "ours $-$ paper", "$n$"]
    return "{\\small\n" + table(head, rows, align="p{4.6cm}p{5.6cm}rrrrrr") + "}\n"
