"""Statistics of reports.compute.frame against independent references (numpy, scipy's t law, closed forms)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports.compute import frame


def _frame(seed=0, trials=5):
    rng = np.random.default_rng(seed)
    rows = []
    for h, neurons in (("a", 4), ("b", 8)):
        for t in range(trials):
            for variant, shift in (("dense", 0.0), ("random", 0.05), ("clause", 0.08)):
                rows.append(
                    dict(
                        config_hash=h,
                        trial=t,
                        variant=variant,
                        r=neurons,
                        alpha=2,
                        task="boolean",
                        sweep="fig3a",
                        test_accuracy=0.7 + shift + 0.01 * rng.standard_normal(),
                        capacity=3 + 10 * shift + rng.random(),
                        cosine=0.3 - shift * rng.random(),
                        status="done",
                        error=None,
                    )
                )
                rows[-1]["abs_cosine"] = abs(rows[-1]["cosine"])
    return pd.DataFrame(rows)


def test_paired_relative_improvement_and_folds_match_a_plain_loop():
    f = _frame()
    pairs = frame.paired(f)
    assert len(pairs) == 2 * 5 * 2
    for _, p in pairs.iterrows():
        d = f[(f.config_hash == p.config_hash) & (f.trial == p.trial) & (f.variant == "dense")].iloc[0]
        x = f[(f.config_hash == p.config_hash) & (f.trial == p.trial) & (f.variant == p.variant)].iloc[0]
        assert p.relative_improvement == pytest.approx(x.test_accuracy / d.test_accuracy, rel=1e-12)
        assert p.capacity_fold == pytest.approx(x.capacity / d.capacity, rel=1e-12)
        assert p.cosine_fold == pytest.approx(x.cosine / d.cosine, rel=1e-12)


def test_summary_sem_and_paired_t_match_hand_formulas():
    f = _frame(seed=3)
    s = frame.summarize(frame.paired(f))
    row = s[(s.config_hash == "b") & (s.variant == "random")].iloc[0]
    a = f[(f.config_hash == "b") & (f.variant == "random")].sort_values("trial").test_accuracy.to_numpy()
    b = f[(f.config_hash == "b") & (f.variant == "dense")].sort_values("trial").test_accuracy.to_numpy()
    ri = a / b
    assert row.relative_improvement_mean == pytest.approx(ri.mean())
    assert row.relative_improvement_sem == pytest.approx(np.std(ri, ddof=1) / math.sqrt(5))
    d = a - b  # paired: t = mean(d) / (s_d / sqrt(n)), n - 1 degrees of freedom
    t = d.mean() / (d.std(ddof=1) / math.sqrt(5))
    p = 2 * stats.t.sf(abs(t), 4)
    assert row.t == pytest.approx(t, rel=1e-9)
    assert row.p == pytest.approx(p, rel=1e-6)
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    assert (row.diff_lo, row.diff_hi) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row.n == 5


def test_summary_holm_over_the_table_and_direction_marks():
    from statsmodels.stats.multitest import multipletests

    f = _frame(seed=4)
    f.loc[(f.variant == "clause") & (f.config_hash == "a"), "test_accuracy"] -= 0.2  # a loss
    s = frame.summarize(frame.paired(f))
    assert s.p_holm.to_numpy() == pytest.approx(multipletests(s.p.to_numpy(), method="holm")[1])
    loss = s[(s.config_hash == "a") & (s.variant == "clause")].iloc[0]
    gain = s[(s.config_hash == "b") & (s.variant == "clause")].iloc[0]
    assert loss.star == "loss" and gain.star == "gain"


def test_dense_warmup_is_a_baseline_not_a_split():
    f = _frame()
    warm = f[f.variant == "dense"].assign(variant="dense_warmup", test_accuracy=0.6)
    pairs = frame.paired(pd.concat([f, warm]))
    assert "dense_warmup" not in set(pairs.variant)
    assert (pairs.test_accuracy_dense_warmup == 0.6).all()


def test_marks_and_degenerate_tests():
    from reports import stats

    assert stats.marker(0.049, 0.01) == "gain" and stats.marker(0.049, -0.01) == "loss"
    assert stats.marker(0.05, 0.01) == "" and stats.marker(math.nan, 0.01) == ""
    e = stats.welch_effect([0.5], [0.4, 0.3])
    assert math.isnan(e.t) and math.isnan(e.p)
    assert math.isnan(frame.sem([1.0]))


def test_regression_recovers_known_slope_within_its_confidence_interval():
    rng = np.random.default_rng(7)
    x = rng.uniform(1, 3, 200)
    y = 0.8 + 0.25 * x + rng.normal(0, 0.05, 200)
    fit = frame.regress(pd.DataFrame({"capacity_fold": x, "relative_improvement": y}), "capacity_fold")
    assert fit.slope_ci[0] < 0.25 < fit.slope_ci[1]
    assert fit.const_ci[0] < 0.8 < fit.const_ci[1]
    coef = np.linalg.lstsq(np.c_[np.ones_like(x), x], y, rcond=None)[0]  # independent least squares
    assert (fit.const, fit.slope) == pytest.approx(tuple(coef), rel=1e-9)
    resid = y - (coef[0] + coef[1] * x)
    assert fit.rsquared == pytest.approx(1 - resid @ resid / ((y - y.mean()) @ (y - y.mean())), rel=1e-9)
    assert fit.nobs == 200


def test_regression_needs_three_points_with_varying_x():
    d = pd.DataFrame({"capacity_fold": [1.0, 1.0, 1.0], "relative_improvement": [1.0, 1.1, 1.2]})
    assert frame.regress(d, "capacity_fold") is None
    regs = frame.regressions(frame.paired(_frame()))
    labels = {(r.x, r.label) for r in regs}
    assert ("capacity_fold", "all pooled") in labels and ("abs_cosine_diff", "random, alpha=2") in labels
    assert "cosine_fold" not in {x for x, _ in labels}  # a ratio of near-zero means is not regressed on


def test_check_frame_rejects_empty_and_incompatible():
    with pytest.raises(ValueError, match="missing columns"):
        frame.check_frame(pd.DataFrame({"x": [1]}))
    empty = pd.DataFrame(columns=list(frame.REQUIRED_COLUMNS))
    with pytest.raises(ValueError, match="no finished result rows"):
        frame.check_frame(empty)


def test_failed_rows_are_left_out():
    f = _frame()
    f.loc[0, "status"] = "failed"
    assert len(frame.usable(f)) == len(f) - 1


def test_variant_table_is_pandas_groupby_mean_sd_and_sem_with_gaps():
    f = _frame(seed=5)
    f["capacity"] = f["capacity"].astype(object)
    f.loc[[0, 4, 7], "capacity"] = [None, "n/a", math.nan]  # gaps a store can hold: missing, text, NaN
    f.loc[f.variant == "clause", "cosine"] = math.nan  # a metric with no values in a group
    v = frame.variant_table(f).set_index(["config_hash", "variant"])
    for name in ("test_accuracy", "capacity", "cosine"):
        col = pd.to_numeric(f[name], errors="coerce")
        for key, x in col.groupby([f.config_hash, f.variant]):  # a plain loop of Series statistics per group
            x, got = x.dropna(), v.loc[key]
            if len(x) == 0:
                assert math.isnan(got[f"{name}_mean"]) and math.isnan(got[f"{name}_sd"])
                continue
            assert got[f"{name}_mean"] == x.mean()  # pandas' own arithmetic, to the bit
            assert got[f"{name}_sd"] == x.std(ddof=1) or (len(x) < 2 and math.isnan(got[f"{name}_sd"]))
            assert got[f"{name}_sem"] == pytest.approx(np.std(x, ddof=1) / math.sqrt(len(x)), rel=1e-12, nan_ok=True)
    assert (v["n"] == 5).all()
