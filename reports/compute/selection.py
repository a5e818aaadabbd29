"""Which stored rows feed which figure: the sweeps behind each paper figure, the first one stored.

Plain pandas selections shared by the figures (``reports.render.figures``) and the claims ledger
(``reports.compute.claims``), so that both read the same rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from reports.compute.frame import in_sweep

# Which stored sweeps feed which paper figure (names of experiments/*.toml), in order of
# preference: the first sweep with rows is used (e.g. Fig. 3b falls back to the clause scan of
# Tables A1/A2, Fig. 6 to the digits runs of Fig. 5), and the caption names it.
FIGURE_SWEEPS = {
    "r": ("fig3a",),
    "clauses": ("fig3b", "fig3c", "table_a1_a2"),
    "heatmap": ("fig3c",),
    "vision": ("fig5_vision",),
    "alpha": ("fig6ad_alpha", "fig5_vision"),
    "timing": ("fig6b_split_timing",),
}


def select(table: pd.DataFrame, sweeps, **fixed) -> pd.DataFrame:
    """Rows of ``table`` from the first of the named sweeps that has rows with the given column values."""
    if table.empty or "sweep" not in table.columns:
        return table.iloc[0:0]
    for sweep in sweeps:
        out = table[in_sweep(table, [sweep])]
        for col, val in fixed.items():
            out = out[out[col] == val]
        if not out.empty:
            return out
    return table.iloc[0:0]


def regression_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Trial-level pairs of the neuron scan (Fig. 4c); all Boolean pairs when no neuron-scan sweep is stored."""
    scan = select(pairs, FIGURE_SWEEPS["r"])
    return scan if not scan.empty else pairs[pairs.get("task", pd.Series("boolean", index=pairs.index)) == "boolean"]


def dense_equivalent(v_dense: pd.DataFrame, acc: float) -> float:
    """Nonzero parameters a dense model needs for accuracy ``acc`` (linear interpolation in log params)."""
    d = v_dense.sort_values("nonzero_params_mean")
    xs, ys = np.log(d["nonzero_params_mean"].to_numpy(float)), d["test_accuracy_mean"].to_numpy(float)
    if len(xs) < 2 or not np.all(np.diff(ys) > 0) or acc < ys[0] or acc > ys[-1]:
        return math.nan
    return float(np.exp(np.interp(acc, ys, xs)))
