"""Grid-level and trend statistics with the configuration as the unit of analysis.

Trials of one configuration share everything a configuration fixes (and, under the paper's protocol,
one data set), so a grid claim ("FPE gains over the Boolean grid") or a trend ("the gain falls with r")
is a statement about configurations. Two estimators, both statsmodels:

- ``config_means``: each configuration's mean of the per-trial value, then one-sample t (a grid mean)
  or OLS (a trend) over those means; n is the number of configurations.
- ``mixed_slope``: ``MixedLM`` of per-trial values on the regressor with a random intercept per
  configuration (REML), for a check that uses the trials without treating them as independent.

>>> import pandas as pd
>>> d = pd.DataFrame({"config_hash": list("aabb"), "y": [1.0, 3.0, 5.0, 7.0], "x": [0, 0, 1, 1]})
>>> config_means(d, "y", ["x"])[["config_hash", "y", "x", "trials"]].values.tolist()
[['a', 2.0, 0, 2], ['b', 6.0, 1, 2]]
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from reports.stats import CONFIDENCE, LEVEL, POWER_TARGET, _smallest_n, power_at, trials_needed

NAN = math.nan


def config_means(frame: pd.DataFrame, value: str, keep=()) -> pd.DataFrame:
    """One row per configuration: the mean of ``value`` over its trials, the ``keep`` columns, ``trials``."""
    d = frame.dropna(subset=[value])
    g = d.groupby("config_hash", sort=True)
    out = g[value].mean().to_frame()
    for c in keep:
        out[c] = g[c].first()
    out["trials"] = g[value].size()
    return out.reset_index()


@dataclass(frozen=True)
class UnitFit:
    """A mean or a slope over configurations: estimate, t-interval at ``confidence``, p, n configs."""

    estimate: float
    ci: tuple[float, float]
    p: float
    n: int  # configurations
    sd: float  # SD of the config means (mean) or residual SD (slope)
    positive: float = NAN  # share of configurations with a positive mean (means only)
    rsquared: float = NAN
    confidence: float = CONFIDENCE


def mean_over_configs(means, confidence: float = CONFIDENCE) -> UnitFit:
    """One-sample t over configuration means (``scipy.stats.ttest_1samp``) with its t-interval."""
    a = np.asarray(means, dtype=float)
    a = a[np.isfinite(a)]
    n = len(a)
    if n < 2 or a.std(ddof=1) == 0:
        m = float(a.mean()) if n else NAN
        return UnitFit(m, (NAN, NAN), NAN, n, 0.0 if n else NAN, float(np.mean(a > 0)) if n else NAN)
    res = stats.ttest_1samp(a, 0.0)
    ci = res.confidence_interval(confidence)
    return UnitFit(
        float(a.mean()),
        (float(ci.low), float(ci.high)),
        float(res.pvalue),
        n,
        float(a.std(ddof=1)),
        float(np.mean(a > 0)),
        confidence=confidence,
    )


def slope_over_configs(y, x, confidence: float = CONFIDENCE) -> UnitFit:
    """OLS ``y ~ 1 + x`` over configuration means (statsmodels); the slope with its t-interval."""
    d = pd.DataFrame({"y": np.asarray(y, dtype=float), "x": np.asarray(x, dtype=float)}).dropna()
    if len(d) < 3 or d["x"].nunique() < 2:
        return UnitFit(NAN, (NAN, NAN), NAN, len(d), NAN)
    fit = sm.OLS(d["y"].to_numpy(), sm.add_constant(d["x"].to_numpy())).fit()
    lo, hi = fit.conf_int(alpha=1 - confidence)[1]
    return UnitFit(
        float(fit.params[1]),
        (float(lo), float(hi)),
        float(fit.pvalues[1]),
        len(d),
        float(math.sqrt(fit.scale)),
        rsquared=float(fit.rsquared),
        confidence=confidence,
    )


def mixed_slope(y, x, groups, confidence: float = CONFIDENCE) -> UnitFit:
    """statsmodels ``MixedLM``: y ~ 1 + x with a random intercept per group (REML); n = groups."""
    d = pd.DataFrame({"y": np.asarray(y, dtype=float), "x": np.asarray(x, dtype=float), "g": list(groups)}).dropna()
    if d["g"].nunique() < 3 or d["x"].nunique() < 2:
        return UnitFit(NAN, (NAN, NAN), NAN, int(d["g"].nunique()), NAN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on near-zero group variance
        fit = sm.MixedLM(d["y"].to_numpy(), sm.add_constant(d["x"].to_numpy()), groups=d["g"].to_numpy()).fit(reml=True)
    lo, hi = fit.conf_int(alpha=1 - confidence)[1]
    return UnitFit(
        float(fit.params[1]),
        (float(lo), float(hi)),
        float(fit.pvalues[1]),
        int(d["g"].nunique()),
        float(math.sqrt(fit.scale)),
        confidence=confidence,
    )


def one_sample_power(effect: float, sd: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """(power at n, units needed for POWER_TARGET) of a two-sided one-sample t-test (``TTestPower``)."""
    return power_at(effect, sd, n, level), trials_needed(effect, sd, level=level)


def slope_power(slope: float, resid_sd: float, x, level: float = LEVEL) -> tuple[float, float]:
    """(power, configurations needed) to detect ``slope`` with the design ``x`` (noncentral t, scipy).

    t = slope / (sd / sqrt(n var(x))); the design's spread per configuration is kept when n grows.
    """
    xs = np.asarray(x, dtype=float)
    xs = xs[np.isfinite(xs)]
    n = len(xs)
    if n < 3 or not _ok(slope, resid_sd) or resid_sd == 0 or xs.std() == 0:
        return NAN, NAN
    spread = float(xs.var())  # population variance per point

    def power(k: float) -> float:
        df = k - 2
        nc = abs(slope) * math.sqrt(k * spread) / resid_sd
        crit = stats.t.ppf(1 - level / 2, df)
        return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))

    return power(n), _smallest_n(lambda k: power(max(k, 3)), POWER_TARGET)


def _ok(*xs) -> bool:
    return all(x is not None and np.isfinite(x) for x in xs)
