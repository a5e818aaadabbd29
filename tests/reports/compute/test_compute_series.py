"""Figure series of reports.compute.series against plain loops over hand-built tables."""

import math
from statistics import mean

import numpy as np
import pandas as pd
import pytest

from reports.compute import frame, series


def _summary() -> pd.DataFrame:
    rows = []
    for variant in ("clause", "random"):
        for alpha in (2, 4):
            for r in (4, 8):
                for rep in range(2):  # two configurations at each point (e.g. two clause counts)
                    ri = 1 + 0.01 * r + 0.1 * alpha + 0.05 * rep + (0.2 if variant == "clause" else 0.0)
                    rows.append(
                        dict(
                            variant=variant,
                            alpha=alpha,
                            r=r,
                            relative_improvement_mean=ri,
                            relative_improvement_sem=0.01 * (rep + 1),
                            star="gain" if rep == 0 else "gain",
                            test_accuracy_mean=0.5 + 0.01 * r,
                            nonzero_params_mean=100.0 * r,
                        )
                    )
    return pd.DataFrame(rows)


def test_mean_lines_match_a_plain_loop():
    s = _summary()
    lines = series.mean_lines(s, "r", "relative_improvement", pct=True)
    assert [(x.variant, x.alpha) for x in lines] == [("clause", 2), ("clause", 4), ("random", 2), ("random", 4)]
    for line in lines:
        for xv, yv, ev, mark in zip(line.x, line.y, line.err, line.marks, strict=True):
            sel = [
                row
                for row in s.to_dict("records")
                if row["variant"] == line.variant and row["alpha"] == line.alpha and row["r"] == xv
            ]
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
            assert yv == pytest.approx(100 * (0.5 + 0.01 * xv) / (100.0 * xv))  # accuracy in %
    h = series.heatmaps(s.assign(clauses=[4 + 4 * (i % 2) for i in range(len(s))]))
    assert [(p.variant, p.alpha) for p in h] == [("clause", 2), ("clause", 4), ("random", 2), ("random", 4)]
    p = h[0]
    assert p.rows == (4, 8) and p.cols == (4, 8)
    # clause, alpha=2: rep 0 rows have clauses 4, rep 1 rows clauses 8
    assert p.values[0][1] == pytest.approx((1 + 0.08 + 0.2 + 0.2 - 1) * 100)
    assert p.values[1][0] == pytest.approx((1 + 0.04 + 0.2 + 0.05 + 0.2 - 1) * 100)


def test_dense_equivalent_factor_in_width_scan():
    v = pd.DataFrame(
        [
            dict(
                task="t",
                variant="dense",
                alpha=2,
                r=r,
                test_accuracy_mean=a,
                test_accuracy_sem=0.0,
                cosine_mean=0.1,
                nonzero_params_mean=p,
            )
            for r, a, p in ((4, 0.5, 100.0), (8, 0.7, 400.0))
        ]
        + [
            dict(
                task="t",
                variant="random",
                alpha=4,
                r=4,
                test_accuracy_mean=0.6,
                test_accuracy_sem=0.0,
                cosine_mean=0.05,
                nonzero_params_mean=100.0,
            )
        ]
    )
    s = v[v["variant"] == "random"].assign(relative_improvement_mean=1.2, relative_improvement_sem=0.0, star="")
    scan = series.width_scan(s, v, "t")
    (f,) = scan.factors
    # halfway in accuracy between 0.5 and 0.7 -> halfway in log params between 100 and 400: 200, i.e. 2x
    assert f.factor == pytest.approx(2.0) and (f.x, f.y) == (4, pytest.approx(60.0))  # accuracy in %
    assert scan.alpha == 4 and not math.isnan(scan.dense.y[0])


def _trained_frame(seed=0):
    """Rows shaped like the store's: one Boolean config per r, dense and random per trial."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in (4, 8):
        for t in range(5):
            for v, base in (("dense", 0.7), ("random", 0.78)):
                rows.append(
                    dict(
                        config_hash=f"c{r}",
                        trial=t,
                        variant=v,
                        sweep="fig6ad_alpha",
                        task="digits",
                        clauses=None,
                        k=None,
                        r=r,
                        alpha=4,
                        depth=1,
                        warmup_epochs=5,
                        epochs=5,
                        test_accuracy=base + 0.01 * r + 0.02 * rng.standard_normal(),
                        nonzero_params=10 * r,
                        capacity=1.0,
                        cosine=0.1,
                        abs_cosine=0.2,
                        status="done",
                        error=None,
                    )
                )
    return pd.DataFrame(rows)


def test_figure_units_match_the_tables():
    """What the figures draw is in the tables' units: accuracy in % (the accuracy table prints 100 x the
    variant table's mean), relative improvement in % (the paired-effects table's RI column, ``ri_pct``)."""
    f = _trained_frame()
    v = frame.variant_table(f)
    s = frame.summarize(frame.paired(f))
    acc_table = {(row.config_hash, row.variant): 100 * row.test_accuracy_mean for row in v.itertuples()}
    ri_table = {row.config_hash: row.ri_pct for row in s.itertuples()}
    scan = series.width_scan(s, v, "digits")
    for line in (scan.dense, scan.fpe):
        for r, y in zip(line.x, line.y, strict=True):
            assert y == pytest.approx(acc_table[(f"c{r}", line.variant)])
    (ri_line,) = scan.improvement
    for r, y in zip(ri_line.x, ri_line.y, strict=True):
        assert y == pytest.approx(ri_table[f"c{r}"])  # the mean of per-trial RI - 1, in %, as the table prints it
    for line in series.timing_lines(v):
        assert max(line.y) > 1.5  # percent, not a fraction
    f = f.assign(capacity=np.where(f["variant"] == "random", 1 + 0.1 * f["trial"] + 0.01 * f["r"], 1.0))
    paired = frame.paired(f)
    fits = series.regression_series(frame.regressions(paired))
    assert {fit.x for fit in fits} == {"capacity_fold"}
    for fit in fits:
        ri = paired[paired["variant"] == fit.variant]["relative_improvement"]
        assert sorted(fit.points.y) == pytest.approx(sorted(100 * (ri - 1)))  # RI - 1 in %, per model
