"""Figure series of reports.compute.series against plain loops over hand-built tables."""

import math
from statistics import mean

import pandas as pd
import pytest

from reports.compute import series


def _summary() -> pd.DataFrame:
    rows = []
    for variant in ("clause", "random"):
        for alpha in (2, 4):
            for r in (4, 8):
                for rep in range(2):  # two configurations at each point (e.g. two clause counts)
                    ri = 1 + 0.01 * r + 0.1 * alpha + 0.05 * rep + (0.2 if variant == "clause" else 0.0)
                    rows.append(dict(variant=variant, alpha=alpha, r=r, relative_improvement_mean=ri,
                                     relative_improvement_sem=0.01 * (rep + 1), star="gain" if rep == 0 else "gain",
                                     test_accuracy_mean=0.5 + 0.01 * r, nonzero_params_mean=100.0 * r))  # fmt: skip
    return pd.DataFrame(rows)


def test_mean_lines_match_a_plain_loop():
    s = _summary()
    lines = series.mean_lines(s, "r", "relative_improvement", pct=True)
    assert [(x.variant, x.alpha) for x in lines] == [("clause", 2), ("clause", 4), ("random", 2), ("random", 4)]
    for line in lines:
        for xv, yv, ev, mark in zip(line.x, line.y, line.err, line.marks, strict=True):
            sel = [row for row in s.to_dict("records")
                   if row["variant"] == line.variant and row["alpha"] == line.alpha and row["r"] == xv]  # fmt: skip
            assert yv == pytest.approx((mean(row["relative_improvement_mean"] for row in sel) - 1) * 100)
            assert ev == pytest.approx(mean(row["relative_improvement_sem"] for row in sel) * 100)
            assert mark == "gain"


def test_marks_only_where_configurations_agree():
    s = _summary()
    s.loc[s.index % 2 == 1, "star"] = "loss"
    assert all(m == "" for line in series.mean_lines(s, "r", "relative_improvement") for m in line.marks)


def test_per_param_lines_and_heatmap_match_plain_loops():
    s = _summary()
    for line in series.per_param_lines(s, "r"):
        for xv, yv in zip(line.x, line.y, strict=True):
            assert yv == pytest.approx((0.5 + 0.01 * xv) / (100.0 * xv))
    h = series.heatmaps(s.assign(clauses=[4 + 4 * (i % 2) for i in range(len(s))]))
    assert [(p.variant, p.alpha) for p in h] == [("clause", 2), ("clause", 4), ("random", 2), ("random", 4)]
    p = h[0]
    assert p.rows == (4, 8) and p.cols == (4, 8)
    # clause, alpha=2: rep 0 rows have clauses 4, rep 1 rows clauses 8
    assert p.values[0][1] == pytest.approx((1 + 0.08 + 0.2 + 0.2 - 1) * 100)
    assert p.values[1][0] == pytest.approx((1 + 0.04 + 0.2 + 0.05 + 0.2 - 1) * 100)


def test_dense_equivalent_factor_in_width_scan():
    v = pd.DataFrame([
        dict(task="t", variant="dense", alpha=2, r=r, test_accuracy_mean=a, test_accuracy_sem=0.0, cosine_mean=0.1,
             nonzero_params_mean=p)
        for r, a, p in ((4, 0.5, 100.0), (8, 0.7, 400.0))
    ] + [dict(task="t", variant="random", alpha=4, r=4, test_accuracy_mean=0.6, test_accuracy_sem=0.0,
              cosine_mean=0.05, nonzero_params_mean=100.0)])  # fmt: skip
    s = v[v["variant"] == "random"].assign(relative_improvement_mean=1.2, relative_improvement_sem=0.0, star="")
    scan = series.width_scan(s, v, "t")
    (f,) = scan.factors
    # halfway in accuracy between 0.5 and 0.7 -> halfway in log params between 100 and 400: 200, i.e. 2x
    assert f.factor == pytest.approx(2.0) and (f.x, f.y) == (4, 0.6)
    assert scan.alpha == 4 and not math.isnan(scan.dense.y[0])
