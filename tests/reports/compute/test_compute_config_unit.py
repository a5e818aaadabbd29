"""Configuration as the unit: means, slopes and MixedLM against statsmodels on constructed data."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from reports.compute import config_unit


def _grid(seed=0, configs=12, trials=5, slope=-0.02, config_sd=0.01, trial_sd=0.03):
    """Per-trial values y = 0.05 + slope * x + config effect + trial noise, x = log2 r per configuration."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(configs):
        x = float(c % 4 + 1)
        u = rng.normal(0, config_sd)
        for t in range(trials):
            rows.append(dict(config_hash=f"c{c}", trial=t, x=x, y=0.05 + slope * x + u + rng.normal(0, trial_sd)))
    return pd.DataFrame(rows)


def test_config_means_are_plain_group_means():
    d = _grid()
    m = config_unit.config_means(d, "y", ["x"])
    for _, row in m.iterrows():
        g = d[d["config_hash"] == row["config_hash"]]
        assert row["y"] == pytest.approx(g["y"].mean())
        assert row["trials"] == len(g)


def test_slope_over_configs_equals_statsmodels_ols_on_the_means():
    d = _grid(seed=1)
    m = d.groupby("config_hash").agg(y=("y", "mean"), x=("x", "first"))
    ref = smf.ols("y ~ x", m).fit()
    fit = config_unit.slope_over_configs(m["y"], m["x"])
    assert fit.estimate == pytest.approx(ref.params["x"])
    assert fit.p == pytest.approx(ref.pvalues["x"])
    assert fit.ci == pytest.approx(tuple(ref.conf_int().loc["x"]))
    assert fit.n == 12


def test_mean_over_configs_is_a_one_sample_t_over_configs():
    d = _grid(seed=2, slope=0.0)
    m = d.groupby("config_hash")["y"].mean()
    fit = config_unit.mean_over_configs(m)
    ref = stats.ttest_1samp(m, 0.0)
    assert fit.p == pytest.approx(ref.pvalue)
    assert fit.n == 12
    assert fit.positive == pytest.approx(float((m > 0).mean()))


def test_mixed_slope_matches_statsmodels_mixedlm():
    d = _grid(seed=4, config_sd=0.04)
    ref = smf.mixedlm("y ~ x", d, groups=d["config_hash"]).fit(reml=True)
    fit = config_unit.mixed_slope(d["y"], d["x"], d["config_hash"])
    assert fit.estimate == pytest.approx(ref.params["x"], rel=1e-6)
    assert fit.p == pytest.approx(ref.pvalues["x"], rel=1e-4)
    assert fit.n == 12


def test_trial_level_ols_overstates_evidence_when_configs_vary():
    """Trials of a config share its effect: the config-level test is the honest one (wider interval)."""
    d = _grid(seed=5, configs=8, trials=20, slope=0.0, config_sd=0.03, trial_sd=0.005)
    naive = sm.OLS(d["y"], sm.add_constant(d["x"])).fit()
    m = d.groupby("config_hash").agg(y=("y", "mean"), x=("x", "first"))
    fit = config_unit.slope_over_configs(m["y"], m["x"])
    assert fit.ci[1] - fit.ci[0] > 2 * (naive.conf_int().loc["x", 1] - naive.conf_int().loc["x", 0])


def test_slope_power_is_alpha_at_zero_effect_and_matches_a_simulation():
    x = np.repeat(np.arange(1.0, 5.0), 3)
    p0, _ = config_unit.slope_power(1e-12, 1.0, x)
    assert p0 == pytest.approx(0.05, abs=1e-3)
    power, needed = config_unit.slope_power(0.3, 0.5, x)
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        y = 0.3 * x + rng.normal(0, 0.5, size=len(x))
        hits += sm.OLS(y, sm.add_constant(x)).fit().pvalues[1] < 0.05
    assert power == pytest.approx(hits / 2000, abs=0.03)
    assert needed >= len(x) if power < 0.8 else needed <= len(x)
    assert math.isfinite(needed)
