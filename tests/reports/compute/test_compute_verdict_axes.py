"""The verdict axes: each direction and size value, TOST against a hand computation, Holm-matched intervals."""

import math

import numpy as np
import pytest
from scipy import stats

from reports.compute import verdict_axes
from reports.stats import holm, t_interval


@pytest.mark.parametrize(
    ("p_adj", "effect", "claimed", "power", "want"),
    [
        (0.001, 0.03, 1, 0.2, "supported"),
        (0.001, -0.03, 1, 0.2, "contradicted"),
        (0.001, -0.03, -1, 0.2, "supported"),
        (0.40, 0.003, 1, 0.95, "no effect detected"),
        (0.40, 0.003, 1, 0.50, "undecided"),
        (math.nan, math.nan, 1, math.nan, "undecided"),
    ],
)
def test_each_direction_value(p_adj, effect, claimed, power, want):
    assert verdict_axes.direction(p_adj, effect, claimed, power) == want


def test_direction_rejects_an_unsigned_claim():
    with pytest.raises(ValueError, match="claimed=0"):
        verdict_axes.direction(0.01, 0.1, 0, 0.9)


@pytest.mark.parametrize(
    ("paper", "ci", "want"),
    [
        (0.10, (0.05, 0.15), "reproduced"),
        (0.20, (0.05, 0.15), "smaller than reported"),
        (0.01, (0.05, 0.15), "larger than reported"),
        (math.nan, (0.05, 0.15), verdict_axes.NO_SIZE),
        (0.1, (math.nan, math.nan), verdict_axes.NO_SIZE),
    ],
)
def test_each_size_value(paper, ci, want):
    assert verdict_axes.size(paper, ci) == want


def test_tost_matches_a_hand_computation_with_scipy():
    rng = np.random.default_rng(3)
    d = rng.normal(0.002, 0.01, size=25)
    margin = 0.01
    n, m, s = len(d), d.mean(), d.std(ddof=1)
    se = s / math.sqrt(n)
    # H0 mean <= -margin: shift and run scipy's one-sided one-sample t
    p_lo = stats.ttest_1samp(d + margin, 0.0, alternative="greater").pvalue
    p_hi = stats.ttest_1samp(d - margin, 0.0, alternative="less").pvalue
    p, lo_, hi_ = verdict_axes.tost_paired(d, margin)
    assert (lo_, hi_) == pytest.approx((p_lo, p_hi), rel=1e-12)
    assert p == pytest.approx(max(p_lo, p_hi))
    # equivalence at level a <=> the 1 - 2a interval inside the margins
    lo, hi = stats.t.interval(0.90, n - 1, loc=m, scale=se)
    assert (p < 0.05) == (-margin < lo and hi < margin)
    assert verdict_axes.tost_interval(d) == pytest.approx((lo, hi))


def test_tost_rejects_a_nonpositive_margin():
    with pytest.raises(ValueError, match="margin=0"):
        verdict_axes.tost_paired([0.1, 0.2], 0.0)


def test_holm_matched_interval_never_contradicts_the_adjusted_test():
    rng = np.random.default_rng(7)
    samples = [rng.normal(mu, 0.02, size=12) for mu in (0.0, 0.004, 0.008, 0.012, 0.016, 0.02, 0.03)]
    ps = [stats.ttest_1samp(s, 0.0).pvalue for s in samples]
    adj = holm(ps)
    flips = 0
    for s, p, pa in zip(samples, ps, adj, strict=True):
        level = verdict_axes.adjusted_level(p, pa)
        lo, hi = t_interval(s, confidence=1 - level)
        assert (pa < 0.05) == (lo > 0 or hi < 0)
        lo95, hi95 = t_interval(s)
        flips += (pa >= 0.05) and (lo95 > 0 or hi95 < 0)
    assert flips >= 1  # the plain 95 % interval would have contradicted at least one verdict here


def test_equivalence_direction_values():
    assert verdict_axes.equivalence_direction(0.01, (-0.004, 0.006), 0.01) == "supported"
    assert verdict_axes.equivalence_direction(0.9, (0.012, 0.03), 0.01) == "contradicted"
    assert verdict_axes.equivalence_direction(0.9, (-0.03, -0.011), 0.01) == "contradicted"
    assert verdict_axes.equivalence_direction(0.2, (-0.002, 0.015), 0.01) == "undecided"


def test_robustness_names_the_constant_a_verdict_depends_on():
    steady = verdict_axes.Sensitivity("equivalence margin", ("0.5 pts", "1 pts"), ("supported", "supported"))
    flips = verdict_axes.Sensitivity("fallback effect", ("1.5 pts", "2 pts"), ("undecided", "no effect detected"))
    assert verdict_axes.robustness([steady]) == verdict_axes.ROBUST
    assert verdict_axes.robustness([]) == verdict_axes.ROBUST
    text = verdict_axes.robustness([steady, flips])
    assert text.startswith("depends on fallback effect")
    assert "1.5 pts undecided" in text and "margin" not in text
