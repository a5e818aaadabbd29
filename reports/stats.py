"""Paired statistics for FPE vs dense, from scipy.stats and statsmodels (docs/statistics.md).

Every FPE model is forked from a dense trial, so the unit of analysis is the per-trial
difference ``x = FPE - dense`` (test accuracy, fractions). For one comparison:

- mean difference with a 95 % t-interval (``scipy.stats.t.interval``) and a BCa bootstrap
  interval (``scipy.stats.bootstrap(method="BCa")`` on the differences, seeded);
- paired t-test (``scipy.stats.ttest_rel``) and Wilcoxon signed-rank (``scipy.stats.wilcoxon``);
- n, the fraction of trials that improved, and the relative improvement in % (mean of
  FPE/dense - 1 per trial, with its t-interval);
- power: trials needed for a given effect (in accuracy points) at 80 % power, alpha 0.05,
  two-sided, for the paired design (``statsmodels.stats.power.TTestPower``, effect size
  d_z = effect / SD of our differences; the smallest integer n whose power reaches 80 %),
  and the power at our n.

Holm's step-down correction is ``statsmodels.stats.multitest.multipletests(method="holm")``.
Best-of-T is the expected maximum of T trials drawn without replacement from our n
(order statistics, exact). Cluster-robust OLS is statsmodels ``OLS.fit(cov_type="cluster")``.

>>> e = paired_effect([0.9, 0.8, 0.85, 0.95], [0.8, 0.7, 0.8, 0.85], seed=0)
>>> (e.n, round(e.mean_diff, 4), e.frac_improved)
(4, 0.0875, 1.0)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from math import comb

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import integrate, special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower

CONFIDENCE = 0.95  # every confidence interval of the report
LEVEL = 0.05  # significance level, applied to Holm-adjusted p
POWER_TARGET = 0.80  # power a comparison needs before "not significant" counts as evidence against
N_RESAMPLES = 9999  # bootstrap resamples (BCa)
MAX_TRIALS_NEEDED = 10_000  # power solutions above this are reported as "> 10000"

NAN = math.nan


def _arr(x) -> np.ndarray:
    a = np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=float)
    return a[np.isfinite(a)]


def t_interval(x, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """t-interval of the mean of ``x`` (``scipy.stats.t.interval``); NaNs when n < 2 or no spread."""

    a = _arr(x)
    if len(a) < 2:
        return NAN, NAN
    sd = float(a.std(ddof=1))
    if sd == 0:
        return float(a.mean()), float(a.mean())
    lo, hi = stats.t.interval(confidence, len(a) - 1, loc=a.mean(), scale=sd / math.sqrt(len(a)))
    return float(lo), float(hi)


def bca_interval(x, seed: int = 0, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """BCa bootstrap interval of the mean of ``x`` (``scipy.stats.bootstrap``, seeded); NaNs when n < 3."""

    a = _arr(x)
    if len(a) < 3:
        return NAN, NAN
    if a.std() == 0:
        return float(a.mean()), float(a.mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa warns on degenerate resamples; the NaN says it
        res = stats.bootstrap(
            (a,),
            np.mean,
            confidence_level=confidence,
            method="BCa",
            n_resamples=N_RESAMPLES,
            rng=np.random.default_rng(seed),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def trials_needed(effect: float, sd: float, power: float = POWER_TARGET, level: float = LEVEL) -> float:
    """Trials for a paired t-test to detect ``effect`` (same units as ``sd``) with ``power``; inf if none."""
    if not (np.isfinite(effect) and np.isfinite(sd)) or effect == 0 or sd < 0:
        return NAN
    if sd == 0:
        return 2.0
    return _smallest_n(lambda n: _paired_power(abs(effect) / sd, n, level), power)


def _smallest_n(power_of, target: float) -> float:
    """Smallest integer n >= 2 with power_of(n) >= target (power rises with n); inf beyond MAX_TRIALS_NEEDED."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if power_of(2) >= target:
            return 2.0
        if power_of(MAX_TRIALS_NEEDED) < target:
            return math.inf
        lo, hi = 2, MAX_TRIALS_NEEDED  # power_of(lo) < target <= power_of(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if power_of(mid) < target else (lo, mid)
    return float(hi)


def power_at(effect: float, sd: float, n: int, level: float = LEVEL) -> float:
    """Power of the paired t-test at ``n`` trials for ``effect`` (two-sided); NaN when undefined."""
    if n < 2 or not (np.isfinite(effect) and np.isfinite(sd)) or effect == 0:
        return NAN
    if sd == 0:
        return 1.0
    return _paired_power(abs(effect) / sd, n, level)


def _paired_power(dz: float, n: float, level: float = LEVEL) -> float:
    """Two-sided paired t-test power: statsmodels TTestPower; where its noncentral t gives NaN (large d_z),
    the same probability P(|T'| > t_crit) integrated over the chi-square law of the variance (scipy quad)."""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = float(TTestPower().power(dz, nobs=n, alpha=level, alternative="two-sided"))
    return p if np.isfinite(p) else power_by_integration(dz, n, level)


def power_by_integration(dz: float, n: float, level: float = LEVEL) -> float:
    """P(|T'| > t_crit) for T' = (Z + d_z sqrt(n)) / sqrt(V/(n-1)), V ~ chi2(n-1): one quad over V.

    The integrand is scipy.stats' own arithmetic (``norm.sf(x) = ndtr(-x)``, ``norm.cdf = ndtr``, ``chi2.pdf``
    as ``exp`` of its log-density) written with ``scipy.special`` on scalars: the same numbers without the
    distribution machinery's argument checks, which cost 0.3 ms a point."""

    df, nc = n - 1, dz * math.sqrt(n)
    crit = stats.t.ppf(1 - level / 2, df)
    half = df / 2.0 - 1.0
    log_gamma, log_two = special.gammaln(df / 2.0), (math.log(2) * df) / 2.0

    def f(v):
        s = crit * math.sqrt(v / df)
        pdf = np.exp(special.xlogy(half, v) - v / 2.0 - log_gamma - log_two)
        return (special.ndtr(-(s - nc)) + special.ndtr(-s - nc)) * pdf

    lo, hi = stats.chi2.ppf(1e-12, df), stats.chi2.isf(1e-12, df)  # the law's mass, so quad cannot miss it
    return float(min(1.0, integrate.quad(f, lo, hi, limit=200, points=[df])[0]))


def wilcoxon_p(d) -> float:
    """Two-sided p of the Wilcoxon signed-rank test of the differences ``d`` (zeros dropped), as
    ``scipy.stats.wilcoxon(d).pvalue`` gives it.

    With ties or zeros among at most 13 differences scipy runs an exact sign-flip permutation test, calling its
    statistic once per sign pattern (up to 8,192 calls); here the same ``permutation_test`` gets the statistic
    vectorised. Flipping signs leaves ``|d|`` and so its ranks unchanged, so the statistic of a pattern is the sum
    of the ranks of its positive entries: the same null distribution, the same p."""

    d = np.asarray(d, dtype=float)
    nonzero = d[d != 0]
    ties = len(np.unique(np.abs(nonzero))) < len(nonzero)
    if not (1 <= len(d) <= 13 and np.isfinite(d).all() and len(nonzero) and (ties or len(nonzero) < len(d))):
        return float(stats.wilcoxon(d).pvalue)
    ranks = np.zeros(len(d))
    ranks[d != 0] = stats.rankdata(np.abs(nonzero))

    def r_plus(x, axis=-1):
        return np.sum(ranks * (x > 0), axis=axis)

    res = stats.permutation_test(
        (d,), r_plus, permutation_type="samples", vectorized=True, n_resamples=9999, alternative="two-sided"
    )
    return float(res.pvalue)


@dataclass(frozen=True)
class PairedEffect:
    """One paired comparison (FPE - dense per trial); accuracies as fractions, RI in %."""

    n: int
    mean_diff: float
    sd_diff: float
    t_ci: tuple[float, float]
    bca_ci: tuple[float, float]
    t: float
    p: float  # paired t-test, two-sided
    wilcoxon_p: float
    frac_improved: float
    ri_pct: float  # mean over trials of (FPE/dense - 1) * 100
    ri_ci: tuple[float, float]
    reference: float  # effect used for power (accuracy points as a fraction); NaN when none
    power: float  # at n, for ``reference``
    n_needed: float  # trials for 80 % power at ``reference``

    def as_dict(self) -> dict:
        return asdict(self)


def paired_effect(fpe, dense, seed: int = 0, reference: float = NAN) -> PairedEffect:
    """Paired statistics of ``fpe`` vs ``dense`` (same length, trial by trial); see the module docstring."""

    a = np.asarray(fpe, dtype=float)
    b = np.asarray(dense, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"fpe has {a.size} values, dense {b.size}: paired data must have one of each per trial")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    d = a - b
    n = len(d)
    sd = float(d.std(ddof=1)) if n >= 2 else NAN
    t = p = wp = NAN
    if n >= 2 and sd > 0:
        res = stats.ttest_rel(a, b)
        t, p = float(res.statistic), float(res.pvalue)
    elif n >= 2 and sd == 0 and d.mean() != 0:
        t, p = math.copysign(math.inf, d.mean()), 0.0
    if n >= 1 and np.any(d != 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wp = wilcoxon_p(d)
    ri = (a / np.where(b > 0, b, np.nan) - 1) * 100
    return PairedEffect(
        n=n,
        mean_diff=float(d.mean()) if n else NAN,
        sd_diff=sd,
        t_ci=t_interval(d),
        bca_ci=bca_interval(d, seed),
        t=t,
        p=p,
        wilcoxon_p=wp,
        frac_improved=float(np.mean(d > 0)) if n else NAN,
        ri_pct=float(np.nanmean(ri)) if n and np.isfinite(ri).any() else NAN,
        ri_ci=t_interval(ri),
        reference=reference,
        power=power_at(reference, sd, n),
        n_needed=trials_needed(reference, sd),
    )


@dataclass(frozen=True)
class TwoSampleEffect:
    """Independent groups (different configurations): difference of means, Welch."""

    n: int  # the smaller group's size
    n_a: int
    n_b: int
    mean_diff: float
    ci: tuple[float, float]
    t: float
    p: float
    reference: float
    power: float
    n_needed: float  # per group

    def as_dict(self) -> dict:
        return asdict(self)


def welch_effect(a, b, reference: float = NAN) -> TwoSampleEffect:
    """Welch's t-test of mean(a) - mean(b) with its CI (``ttest_ind(equal_var=False)``); power by TTestIndPower."""

    a, b = _arr(a), _arr(b)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else NAN
    t = p = NAN
    ci = (NAN, NAN)
    power = needed = NAN
    if len(a) >= 2 and len(b) >= 2 and (a.std() > 0 or b.std() > 0):
        res = stats.ttest_ind(a, b, equal_var=False)
        t, p = float(res.statistic), float(res.pvalue)
        c = res.confidence_interval(CONFIDENCE)
        ci = (float(c.low), float(c.high))
        sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        if np.isfinite(reference) and reference != 0 and sd > 0:
            es = abs(reference) / sd
            ana = TTestIndPower()
            power = float(ana.power(es, nobs1=min(len(a), len(b)), alpha=LEVEL, ratio=1.0))
            needed = _smallest_n(lambda n: ana.power(es, nobs1=n, alpha=LEVEL, ratio=1.0), POWER_TARGET)
    return TwoSampleEffect(min(len(a), len(b)), len(a), len(b), diff, ci, t, p, reference, power, needed)


def stratified_effect(y, in_a, strata, reference: float = NAN) -> TwoSampleEffect:
    """Difference of group a minus group b within strata: OLS ``y ~ C(stratum) + a`` (statsmodels).

    Independent groups measured in several strata (e.g. tasks whose accuracies differ by 50 points):
    the strata get their own intercepts, so only within-stratum differences enter the effect and its
    residual variance. With one stratum this is the pooled-variance two-sample t-test. Power for the
    ``reference`` effect: TTestIndPower at the residual SD and the smaller group's size. Strata that hold
    only one of the groups are left out; with none left the effect is NaN.
    """

    data = pd.DataFrame({"y": _arr(y), "a": np.asarray(in_a, dtype=float), "s": [str(x) for x in strata]})
    both = data.groupby("s")["a"].transform(lambda g: g.nunique() == 2).astype(bool)
    data = data[both]  # a stratum holding one group says nothing about the difference
    n_a, n_b = int((data["a"] == 1).sum()), int((data["a"] == 0).sum())
    if min(n_a, n_b) < 2 or data["y"].std() == 0:
        return TwoSampleEffect(min(n_a, n_b), n_a, n_b, NAN, (NAN, NAN), NAN, NAN, reference, NAN, NAN)
    formula = "y ~ C(s) + a" if data["s"].nunique() > 1 else "y ~ a"
    fit = smf.ols(formula, data).fit()
    low, high = fit.conf_int(alpha=1 - CONFIDENCE).loc["a"]
    power = needed = NAN
    sd = math.sqrt(fit.scale)
    if np.isfinite(reference) and reference != 0 and sd > 0:
        es, ana = abs(reference) / sd, TTestIndPower()
        power = float(ana.power(es, nobs1=min(n_a, n_b), alpha=LEVEL, ratio=1.0))
        needed = _smallest_n(lambda n: ana.power(es, nobs1=n, alpha=LEVEL, ratio=1.0), POWER_TARGET)
    return TwoSampleEffect(
        min(n_a, n_b),
        n_a,
        n_b,
        float(fit.params["a"]),
        (float(low), float(high)),
        float(fit.tvalues["a"]),
        float(fit.pvalues["a"]),
        reference,
        power,
        needed,
    )


def holm(pvalues) -> np.ndarray:
    """Holm-adjusted p (``multipletests(method="holm")``) over the finite entries; NaN stays NaN."""

    p = np.asarray(list(pvalues), dtype=float)
    out = np.full(p.shape, NAN)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=LEVEL, method="holm")[1]
    return out


def marker(p_adj: float, diff: float) -> str:
    """'gain' / 'loss' when the Holm-adjusted p < LEVEL (direction of the mean difference), else ''."""
    if not np.isfinite(p_adj) or p_adj >= LEVEL or not np.isfinite(diff) or diff == 0:
        return ""
    return "gain" if diff > 0 else "loss"


def expected_best(values, T: int) -> float:
    """Expected maximum of T values drawn without replacement from ``values`` (all size-T subsets equally likely).

    With x_(1) <= ... <= x_(n): E[max] = sum_{i=T}^{n} x_(i) C(i-1, T-1) / C(n, T). NaN when T > n.

    >>> expected_best([1.0, 2.0, 3.0], 2)  # subsets {1,2},{1,3},{2,3}: (2 + 3 + 3) / 3
    2.6666666666666665
    """
    if T < 1:
        raise ValueError(f"T={T}: must be an integer >= 1")
    x = np.sort(_arr(values))
    n = len(x)
    if T > n:
        return NAN
    total = comb(n, T)
    return float(sum(float(x[i - 1]) * comb(i - 1, T - 1) for i in range(T, n + 1)) / total)


@dataclass(frozen=True)
class ClusterFit:
    """OLS y = const + slope * x with cluster-robust (by ``groups``) standard errors."""

    x: str
    y: str
    label: str
    nobs: int
    clusters: int
    const: float
    slope: float
    slope_se: float
    slope_ci: tuple[float, float]
    slope_p: float
    rsquared: float

    def as_dict(self) -> dict:
        return asdict(self)


def ols(y, x, groups=None):
    """(statsmodels OLS results of ``y`` on ``x`` with an intercept, clusters used): standard errors
    cluster-robust (``cov_type="cluster"``, t with G-1 degrees of freedom) when ``groups`` has >= 3
    clusters, else the plain OLS ones (clusters 0)."""

    model = sm.OLS(np.asarray(y, dtype=float), sm.add_constant(np.asarray(x, dtype=float)))
    codes = pd.factorize(pd.Series(list(groups)))[0] if groups is not None else None
    clusters = len(set(codes)) if codes is not None else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if clusters >= 3:
            return model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True), clusters
        return model.fit(), 0


def cluster_ols(y, x, groups, xname: str = "x", yname: str = "y", label: str = "") -> ClusterFit | None:
    """OLS with standard errors clustered by ``groups`` (the dense trial); None with < 3 points or clusters."""
    d = pd.DataFrame(
        {
            "y": pd.to_numeric(pd.Series(list(y)), errors="coerce"),
            "x": pd.to_numeric(pd.Series(list(x)), errors="coerce"),
            "g": list(groups),
        }
    )
    d = d[np.isfinite(d["y"]) & np.isfinite(d["x"])]
    if len(d) < 3 or d["x"].nunique() < 2 or d["g"].nunique() < 3:
        return None
    fit, clusters = ols(d["y"], d["x"], d["g"])
    ci = fit.conf_int(alpha=1 - CONFIDENCE)
    return ClusterFit(
        x=xname,
        y=yname,
        label=label,
        nobs=int(fit.nobs),
        clusters=clusters,
        const=float(fit.params[0]),
        slope=float(fit.params[1]),
        slope_se=float(fit.bse[1]),
        slope_ci=(float(ci[1][0]), float(ci[1][1])),
        slope_p=float(fit.pvalues[1]),
        rsquared=float(fit.rsquared),
    )
