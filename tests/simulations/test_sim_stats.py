"""simulations.stats: the proportion interval against scipy's exact binomial test, at the edges and inside."""

import pytest
from scipy.stats import binomtest

from simulations.stats import CONFIDENCE, proportion_estimate


@pytest.mark.parametrize(
    "count,n", [(0, 1), (0, 10), (0, 200_000), (1, 10), (3, 7), (500, 1000), (9, 10), (10, 10), (200_000, 200_000)]
)
def test_interval_is_the_exact_binomial_one(count, n):
    est = proportion_estimate(count, n)
    ref = binomtest(count, n).proportion_ci(confidence_level=CONFIDENCE, method="exact")
    assert est.ci_low == pytest.approx(ref.low, rel=1e-9, abs=1e-15)
    assert est.ci_high == pytest.approx(ref.high, rel=1e-9, abs=1e-15)
    assert est.ci_low <= est.estimate <= est.ci_high


def test_zero_and_all_successes_reach_the_bounds_exactly():
    assert proportion_estimate(0, 10**6).ci_low == 0.0 and proportion_estimate(0, 10**6).estimate == 0.0
    assert proportion_estimate(10**6, 10**6).ci_high == 1.0


def test_bad_counts_are_one_line_errors():
    for count, n in ((-1, 5), (6, 5), (0, 0)):
        with pytest.raises(ValueError, match=rf"count={count}, n={n}"):
            proportion_estimate(count, n)
