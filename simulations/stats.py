"""Estimates with standard errors and 95% confidence intervals.

Proportions: Wilson score interval (``statsmodels.stats.proportion.proportion_confint``).
Means: Student t interval, mean +- t_{0.975, n-1} s / sqrt(n), with the sample variance
merged from per-block sums (Chan et al.'s parallel formula, blocks in a fixed order).

>>> proportion_estimate(50, 100).ci_low < 0.5 < proportion_estimate(50, 100).ci_high
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: value, standard error and a 95% confidence interval."""

    estimate: float
    stderr: float
    ci_low: float
    ci_high: float


def proportion_estimate(count: int, n: int) -> Estimate:
    """p = count / n, stderr sqrt(p (1-p) / n), Wilson 95% interval."""
    from statsmodels.stats.proportion import proportion_confint

    p = count / n
    low, high = proportion_confint(count, n, alpha=1 - CONFIDENCE, method="wilson")
    return Estimate(p, math.sqrt(p * (1 - p) / n), float(low), float(high))


def mean_estimate(counts: np.ndarray, shifts: np.ndarray, sum_dev: np.ndarray, sum_sq_dev: np.ndarray) -> Estimate:
    """Mean and t interval from per-block sums of x - shift_b and (x - shift_b)^2 (block b has counts[b] trials).

    Block means are exact integers over counts; the variance is
    sum_b M2_b + sum_b n_b (mean_b - mean)^2 over n - 1, with M2_b = S2_b - S1_b^2 / n_b.
    """
    from scipy import stats

    n = int(counts.sum())
    total = sum(int(c) * int(s) + int(x) for c, s, x in zip(counts, shifts, sum_dev, strict=True))
    mean = float(Fraction(total, n))
    block_mean = shifts + sum_dev / counts  # (blocks,)
    m2_blocks = np.maximum(sum_sq_dev - sum_dev.astype(np.float64) ** 2 / counts, 0.0)  # (blocks,)
    m2 = float(m2_blocks.sum() + (counts * (block_mean - mean) ** 2).sum())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, math.nan)
    stderr = math.sqrt(m2 / (n - 1) / n)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * stderr
    return Estimate(mean, stderr, mean - half, mean + half)
