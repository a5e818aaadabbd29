"""reports.stats against closed forms, hand computations, scipy/statsmodels and brute force."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats as ss
from scipy.integrate import quad
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from reports import stats as S

FPE = np.array([0.91, 0.83, 0.88, 0.95, 0.79, 0.86, 0.90])
DENSE = np.array([0.80, 0.78, 0.81, 0.86, 0.80, 0.79, 0.84])


def test_t_interval_closed_form():
    # mean 3, s = sqrt(2.5), t_{0.975, 4} = 2.7764451...: 3 +- 2.7764451 * sqrt(2.5 / 5)
    lo, hi = S.t_interval([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(0.5)
    assert lo == pytest.approx(3 - half, rel=1e-12) and hi == pytest.approx(3 + half, rel=1e-12)
    assert all(math.isnan(x) for x in S.t_interval([1.0]))


def test_paired_effect_matches_scipy_and_hand_numbers():
    e = S.paired_effect(FPE, DENSE, seed=1)
    d = FPE - DENSE
    assert e.n == 7 and e.mean_diff == pytest.approx(d.mean())
    one = ss.ttest_1samp(d, 0.0)  # paired t = one-sample t of the differences
    assert e.t == pytest.approx(one.statistic) and e.p == pytest.approx(one.pvalue)
    assert e.frac_improved == pytest.approx(6 / 7)  # one trial (0.79 vs 0.80) got worse
    assert e.ri_pct == pytest.approx(np.mean(FPE / DENSE - 1) * 100)
    ci = one.confidence_interval(0.95)
    assert e.t_ci == pytest.approx((ci.low, ci.high))


def test_wilcoxon_exact_all_positive():
    # n = 5 differences, all positive, distinct: exact two-sided p = 2 / 2^5
    e = S.paired_effect([1.1, 2.2, 3.3, 4.4, 5.5], [1, 2, 3, 4, 5])
    assert e.wilcoxon_p == pytest.approx(2 / 32)


def test_wilcoxon_p_is_scipys_with_ties_and_zeros():
    rng = np.random.default_rng(7)
    permuted = 0
    for _ in range(120):
        n = int(rng.integers(1, 16))
        d = rng.integers(-3, 4, size=n) * 0.01  # ties and zeros in most draws
        if not np.any(d != 0):
            continue
        permuted += n <= 13
        assert S.wilcoxon_p(d) == ss.wilcoxon(d).pvalue
    assert permuted > 50
    for d in ([0.1, 0.2, 0.3, 0.4, 0.5], [0.1, -0.2, 0.3, np.nan]):  # exact (no ties), NaN propagated
        assert S.wilcoxon_p(d) == pytest.approx(ss.wilcoxon(d).pvalue, nan_ok=True)


def test_wilcoxon_p_with_ties_is_the_sign_flip_enumeration():
    d = np.array([0.02, 0.02, -0.01, 0.0, 0.03, 0.01, 0.02])
    nz = d[d != 0]
    ranks = ss.rankdata(np.abs(nz))
    observed = ranks[nz > 0].sum()
    patterns = itertools.product((1, -1), repeat=6)  # every sign pattern of the six non-zero differences
    null = np.array([sum(r for r, s in zip(ranks, signs, strict=True) if s > 0) for signs in patterns])
    p = 2 * min(np.mean(null >= observed - 1e-9), np.mean(null <= observed + 1e-9))
    assert S.wilcoxon_p(d) == pytest.approx(min(p, 1.0), rel=1e-12)


def test_bca_interval_is_scipys_and_seeded():
    d = FPE - DENSE
    ref = ss.bootstrap((d,), np.mean, method="BCa", n_resamples=S.N_RESAMPLES, rng=np.random.default_rng(3))
    assert S.bca_interval(d, seed=3) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    assert S.bca_interval(d, seed=3) == S.bca_interval(d, seed=3)
    lo, hi = S.bca_interval(d, seed=3)
    assert lo < d.mean() < hi


def test_bca_close_to_t_for_a_large_normal_sample():
    x = np.random.default_rng(0).normal(1.0, 2.0, size=400)
    (a, b), (c, d) = S.bca_interval(x, seed=0), S.t_interval(x)
    assert abs(a - c) < 0.05 and abs(b - d) < 0.05


def test_trials_needed_textbook_and_statsmodels():
    # d_z = 0.5 at 80 % power, two-sided 5 %: 34 pairs (Cohen's tables; statsmodels solve_power = 33.37)
    assert S.trials_needed(0.5, 1.0) == 34
    n = TTestPower().solve_power(effect_size=0.8, alpha=0.05, power=0.8)
    assert S.trials_needed(0.8, 1.0) == math.ceil(n)
    need = int(S.trials_needed(0.03, 0.05))
    assert S.power_at(0.03, 0.05, need) >= 0.8 > S.power_at(0.03, 0.05, need - 1)
    assert S.trials_needed(1e-6, 1.0) == math.inf


def test_power_integration_agrees_with_statsmodels_and_covers_its_nan():
    for dz, n in ((0.3, 10), (1.0, 5), (2.5, 4)):
        assert S.power_by_integration(dz, n) == pytest.approx(TTestPower().power(dz, nobs=n, alpha=0.05), abs=1e-6)
    p = S.power_at(0.7, 0.1, 5)  # d_z = 7: statsmodels' noncentral t gives NaN here
    assert 0.99 < p <= 1.0


def test_power_integration_is_the_scipy_stats_integral():
    def reference(dz, n):  # the integrand through scipy.stats' distributions, point by point
        df, nc = n - 1, dz * math.sqrt(n)
        crit = ss.t.ppf(0.975, df)

        def f(v):
            s = crit * math.sqrt(v / df)
            return (ss.norm.sf(s - nc) + ss.norm.cdf(-s - nc)) * ss.chi2.pdf(v, df)

        lo, hi = ss.chi2.ppf(1e-12, df), ss.chi2.isf(1e-12, df)
        return min(1.0, quad(f, lo, hi, limit=200, points=[df])[0])

    for dz, n in ((0.3, 10), (2.5, 4), (7.0, 5), (40.0, 3), (0.05, 200)):
        assert S.power_by_integration(dz, n) == pytest.approx(reference(dz, n), rel=1e-12, abs=1e-15)


def test_holm_matches_multipletests_and_hand():
    p = [0.01, 0.04, 0.03]
    assert S.holm(p) == pytest.approx([0.03, 0.06, 0.06])  # 3*0.01; max(2*0.03, 0.04) twice
    rng = np.random.default_rng(0)
    q = rng.uniform(0, 0.2, size=20)
    assert S.holm(q) == pytest.approx(multipletests(q, method="holm")[1])
    out = S.holm([0.01, math.nan, 0.02])
    assert math.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.02)


def test_marker_says_direction_and_uses_adjusted_p():
    assert S.marker(0.01, 0.02) == "gain" and S.marker(0.01, -0.02) == "loss"
    assert S.marker(0.06, 0.5) == "" and S.marker(math.nan, 0.5) == ""


@pytest.mark.parametrize("T", [1, 2, 3, 5, 7])
def test_expected_best_equals_brute_force(T):
    x = np.random.default_rng(T).normal(size=7).round(3)
    x[2] = x[4]  # ties
    brute = np.mean([max(c) for c in itertools.combinations(x, T)])
    assert S.expected_best(x, T) == pytest.approx(brute, rel=1e-12)
    assert math.isnan(S.expected_best(x, 8))
    with pytest.raises(ValueError, match="T=0"):
        S.expected_best(x, 0)


def test_cluster_ols_equals_the_sandwich_by_hand():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(8), 3)
    x = rng.normal(size=24)
    y = 0.5 + 2.0 * x + rng.normal(size=8)[groups] + 0.3 * rng.normal(size=24)
    fit = S.cluster_ols(y, x, groups)
    X = np.column_stack([np.ones(24), x])
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    u = y - X @ beta
    bread = np.linalg.inv(X.T @ X)
    meat = sum(np.outer(X[groups == g].T @ u[groups == g], X[groups == g].T @ u[groups == g]) for g in range(8))
    G, N, K = 8, 24, 2
    cov = bread @ meat @ bread * G / (G - 1) * (N - 1) / (N - K)
    assert fit.slope == pytest.approx(beta[1]) and fit.const == pytest.approx(beta[0])
    assert fit.slope_se == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-9)
    tcrit = ss.t.ppf(0.975, G - 1)  # statsmodels uses t with G-1 df for cluster covariances
    assert fit.slope_ci[1] - fit.slope == pytest.approx(tcrit * fit.slope_se, rel=1e-6)
    assert fit.clusters == 8 and fit.nobs == 24
    assert S.cluster_ols([1, 2], [1, 2], [0, 1]) is None


def test_welch_effect_matches_scipy():
    a, b = FPE, DENSE[:5]
    e = S.welch_effect(a, b, reference=0.05)
    ref = ss.ttest_ind(a, b, equal_var=False)
    assert e.p == pytest.approx(ref.pvalue) and e.mean_diff == pytest.approx(a.mean() - b.mean())
    assert e.n == 5 and 0 < e.power < 1 and e.n_needed >= 2


def test_paired_effect_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="paired"):
        S.paired_effect([1, 2], [1])


def test_stratified_effect_with_one_stratum_is_the_pooled_t_test():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.9, 0.02, 7), rng.normal(0.88, 0.03, 6)
    got = S.stratified_effect(np.r_[a, b], [1] * 7 + [0] * 6, ["x"] * 13)
    ref = ss.ttest_ind(a, b, equal_var=True)
    ci = ref.confidence_interval(0.95)
    assert got.mean_diff == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    assert got.p == pytest.approx(ref.pvalue, rel=1e-9) and got.t == pytest.approx(ref.statistic, rel=1e-9)
    assert got.ci == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_stratified_effect_removes_a_level_difference_between_strata():
    """Two tasks 50 points apart, the same +1 point in each: the stratified effect is +1 with a tight CI
    (the within-task difference of means), where pooling would drown it."""
    rng = np.random.default_rng(4)
    y, grp, strata = [], [], []
    for level in (0.96, 0.46):
        for g in (1, 0):
            y += list(level + 0.01 * g + rng.normal(0, 0.005, 5))
            grp += [g] * 5
            strata += [str(level)] * 5
    got = S.stratified_effect(y, grp, strata)
    y, grp = np.array(y), np.array(grp)
    within = np.mean(
        [
            y[(grp == 1) & (np.array(strata) == s)].mean() - y[(grp == 0) & (np.array(strata) == s)].mean()
            for s in set(strata)
        ]
    )
    assert got.mean_diff == pytest.approx(within, abs=1e-12)  # balanced strata: the mean of within-stratum diffs
    assert got.ci[0] > 0 and got.ci[1] - got.ci[0] < 0.02
    pooled = ss.ttest_ind(y[grp == 1], y[grp == 0], equal_var=False)
    assert pooled.pvalue > 0.5 > got.p  # pooled over tasks: lost


def test_stratified_effect_ignores_strata_holding_one_group():
    """A stratum with only group a (or only b) cannot inform a - b: left out; none left -> NaN, never a number."""
    got = S.stratified_effect([0.9, 0.91, 0.5, 0.52], [1, 1, 0, 0], ["x", "x", "y", "y"])
    assert math.isnan(got.mean_diff) and math.isnan(got.p) and got.n == 0
    mixed = S.stratified_effect([0.9, 0.92, 0.88, 0.86, 0.1, 0.2], [1, 1, 0, 0, 1, 1], ["x"] * 4 + ["z"] * 2)
    ref = ss.ttest_ind([0.9, 0.92], [0.88, 0.86], equal_var=True)
    assert mixed.mean_diff == pytest.approx(0.04) and mixed.p == pytest.approx(ref.pvalue, rel=1e-9)
