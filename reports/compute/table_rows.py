"""The aggregates behind the report's tables, as plain rows: the configuration overview and the A1/A2 cells.

``reports.render.tables`` formats these and computes nothing of its own.
"""

from __future__ import annotations

import pandas as pd

from reports import paper_numbers
from reports.compute.paper_comparison import a1_a2_rows

OVERVIEW_COLUMNS = (
    "config_hash",
    "sweep",
    "task",
    "clauses",
    "k",
    "r",
    "alpha",
    "depth",
    "warmup_epochs",
    "epochs",
    "n_train",
    "rewire_every",
    "rewire_fraction",
)


def config_overview(vtable: pd.DataFrame) -> pd.DataFrame:
    """One row per stored configuration: its fields, the variants stored for it (in stored order) and
    ``trials``, the largest number of finished trials over its variants."""
    if vtable.empty:
        return pd.DataFrame(columns=[*OVERVIEW_COLUMNS, "variants", "trials"])
    cols = [c for c in OVERVIEW_COLUMNS if c in vtable.columns]
    first = vtable.drop_duplicates("config_hash")[cols].set_index("config_hash")
    by = vtable.groupby("config_hash", sort=False)
    out = first.assign(variants=by["variant"].agg(tuple), trials=by["n"].max().astype(int))
    return out.reset_index()


def metric_cells(vtable: pd.DataFrame, metric: str, r: int = 8) -> pd.DataFrame:
    """Like the paper's Tables A1/A2: one row per (literals m, alpha) of the 8-neuron Boolean rows and, per
    variant of ``paper_numbers.VARIANTS_A1_A2``, the mean over configurations of ``metric``'s mean and SD
    (columns ``<variant>_mean``, ``<variant>_sd``; NaN where the variant is not stored)."""
    b = a1_a2_rows(vtable, r)
    if b.empty or f"{metric}_mean" not in b.columns:
        return pd.DataFrame()
    b = b.assign(m=b["clauses"] * b["k"])
    rows = []
    for (m, alpha), g in b.groupby(["m", "alpha"], sort=True):
        row = {"m": int(m), "alpha": int(alpha)}
        for v in paper_numbers.VARIANTS_A1_A2:
            h = g[g["variant"] == v]
            row[f"{v}_mean"] = h[f"{metric}_mean"].mean() if len(h) else float("nan")
            row[f"{v}_sd"] = h[f"{metric}_sd"].mean() if len(h) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def cosine_difference_rows(summary: pd.DataFrame, r: int = 8) -> pd.DataFrame:
    """The A2 rows of the paired summary (8 neurons, one layer) that carry the |cos| difference, with literals
    ``m``, in (m, alpha, split) order; empty without them."""
    if summary.empty or "abs_cosine_diff_mean" not in summary:
        return pd.DataFrame()
    b = a1_a2_rows(summary, r)
    if b.empty:
        return pd.DataFrame()
    return b.assign(m=b["clauses"] * b["k"]).sort_values(["m", "alpha", "variant"])
