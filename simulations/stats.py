"""Estimates with standard errors and 95% confidence intervals.

Proportions: the exact (Clopper-Pearson) interval, from beta quantiles; it always contains its estimate,
its lower bound is exactly 0 for zero successes and its upper bound exactly 1 for all successes.
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
    """p = count / n, stderr sqrt(p (1-p) / n), exact (Clopper-Pearson) 95% interval.

    low = Beta_{a/2}(count, n - count + 1), high = Beta_{1-a/2}(count + 1, n - count), a = 1 - CONFIDENCE;
    low = 0 when count = 0 and high = 1 when count = n (Clopper and Pearson 1934).

    >>> proportion_estimate(0, 1000).ci_low, proportion_estimate(1000, 1000).ci_high
    (0.0, 1.0)
    """
    from scipy.stats import beta

    if not 0 <= count <= n or n < 1:
        raise ValueError(f"count={count}, n={n}: need 0 <= count <= n and n >= 1")
    a = 1 - CONFIDENCE
    p = count / n
    low = 0.0 if count == 0 else float(beta.ppf(a / 2, count, n - count + 1))
    high = 1.0 if count == n else float(beta.ppf(1 - a / 2, count + 1, n - count))
    return Estimate(p, math.sqrt(p * (1 - p) / n), min(low, p), max(high, p))


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


class MeanAccumulator:
    """Exact running sums of x and x^2 over blocks, merged in block order: a mean and t interval without per-trial
    or per-block arrays (Monte Carlo of any length streams through it).

    The kernels give per block the sums of x - shift and of (x - shift)^2 (integers; the square sums are
    floats, exact below 2^53); sum x = n_b shift + S1 and sum x^2 = S2 + 2 shift S1 + n_b shift^2, kept
    as Python integers, so the variance sum x^2 - (sum x)^2 / n is exact (no cancellation).
    """

    def __init__(self) -> None:
        self.n, self.total, self.total_sq = 0, 0, Fraction(0)

    def add(self, counts: np.ndarray, shifts: np.ndarray, sum_dev: np.ndarray, sum_sq_dev: np.ndarray) -> None:
        """Add the sums of some blocks (arrays over blocks, as the kernels fill them)."""
        for c, s, x, q in zip(counts.tolist(), shifts.tolist(), sum_dev.tolist(), sum_sq_dev.tolist(), strict=True):
            q = int(q) if float(q).is_integer() else Fraction(q)  # an integer unless past 2^53
            self.n += c
            self.total += c * s + x
            self.total_sq += q + 2 * s * x + c * s * s

    def estimate(self) -> Estimate:
        """Mean, stderr and the Student t 95% interval of everything added."""
        from scipy import stats

        n = self.n
        mean = float(Fraction(self.total, n))
        if n < 2:
            return Estimate(mean, math.nan, math.nan, math.nan)
        m2 = max(Fraction(0), self.total_sq - Fraction(self.total * self.total, n))
        stderr = math.sqrt(float(m2 / (n - 1) / n))
        half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * stderr
        return Estimate(mean, stderr, mean - half, mean + half)
