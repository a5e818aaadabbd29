"""Verdicts on four separate axes: direction, size, scope, robustness (docs/statistics.md).

- **direction** (``DIRECTIONS``): *supported* / *contradicted* when the multiplicity-adjusted p is below
  ``LEVEL`` (with or against the claimed sign); *no effect detected* when it is not, although the test had
  ``POWER_TARGET`` power for the smallest effect of interest; *undecided* otherwise (underpowered: the
  entry carries the trials needed). Equivalence claims ("about equal") use two one-sided tests (TOST):
  *supported* when the TOST p, adjusted like the rest, is below ``LEVEL``; *contradicted* when the
  interval TOST checks lies wholly beyond a margin; *undecided* otherwise.
- **size** (``SIZES``), only where the paper prints a number and the same statistic exists on our side:
  *reproduced* (the paper's number inside our interval), *smaller than reported*, *larger than reported*;
  otherwise "--" with the reason.
- **scope**: the paper's setting, stand-in data (named, with sizes), or beyond the paper.
- **robustness**: the direction recomputed over the plausible range of each constant it uses; *robust*,
  or the constant it depends on with the verdict at each value.

The interval printed beside a direction is taken at the level its adjusted test uses, so it can never
contradict the verdict: with raw p and adjusted p~ (Holm), ``adjusted_level(p, p~) = LEVEL * p / p~``; a
t-based interval at confidence 1 - that level excludes 0 exactly when p~ < LEVEL.

>>> direction(0.01, +0.03, claimed=1, power=0.5)
'supported'
>>> direction(0.30, +0.01, claimed=1, power=0.9)
'no effect detected'
>>> size(0.10, (0.02, 0.05))  # our interval lies below the paper's number
'smaller than reported'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from reports.stats import CONFIDENCE, LEVEL, POWER_TARGET, t_interval

DIRECTIONS = ("supported", "contradicted", "no effect detected", "undecided")
SIZES = ("reproduced", "smaller than reported", "larger than reported")
NO_SIZE = "--"
SCOPES = ("paper's setting", "stand-in data", "beyond the paper")
ROBUST = "robust"

NAN = math.nan


def _finite(*xs) -> bool:
    return all(x is not None and np.isfinite(x) for x in xs)


def direction(p_adj: float, effect: float, claimed: int, power: float) -> str:
    """Direction of a signed claim (``claimed`` +1: effect > 0, -1: effect < 0), from the adjusted p."""
    if claimed not in (1, -1):
        raise ValueError(f"claimed={claimed!r}: must be +1 or -1 (equivalence claims use equivalence_direction)")
    if _finite(p_adj, effect) and p_adj < LEVEL and effect != 0:
        return "supported" if np.sign(effect) == claimed else "contradicted"
    if _finite(power) and power >= POWER_TARGET:
        return "no effect detected"
    return "undecided"


def equivalence_direction(p_tost_adj: float, ci: tuple[float, float], margin: float) -> str:
    """'About equal' claims: supported when TOST (adjusted) rejects non-equivalence; contradicted when the
    whole 1 - 2 level interval lies beyond one margin (a difference larger than the margin); else undecided."""
    if _finite(p_tost_adj) and p_tost_adj < LEVEL:
        return "supported"
    lo, hi = ci
    if _finite(lo, hi) and (lo >= margin or hi <= -margin):
        return "contradicted"
    return "undecided"


def size(paper: float, ci: tuple[float, float]) -> str:
    """The paper's number against our interval of the same statistic; '--' when either is missing."""
    lo, hi = ci
    if not _finite(paper, lo, hi):
        return NO_SIZE
    if lo <= paper <= hi:
        return "reproduced"
    return "smaller than reported" if hi < paper else "larger than reported"


def adjusted_level(p: float, p_adj: float, level: float = LEVEL) -> float:
    """The per-test level at which the raw test rejects exactly when the adjusted one does: level * p / p~.

    For Holm's step-down p~ >= p, so this is <= level; an interval at confidence 1 - adjusted_level
    excludes the null value exactly when p~ < level. Without an adjustment (p~ missing) it is ``level``.
    """
    if not _finite(p, p_adj) or p_adj <= 0:
        return level
    return min(level, level * p / p_adj)


def tost_paired(diffs, margin: float) -> tuple[float, float, float]:
    """Two one-sided t-tests of |mean(diffs)| < margin: (p_tost, p_lower, p_upper).

    H0: mean <= -margin (p_lower, one-sided t) or mean >= +margin (p_upper); p_tost = max. Equivalence
    at level a is the 1 - 2a t-interval lying inside (-margin, +margin).
    """
    d = np.asarray(diffs, dtype=float)
    d = d[np.isfinite(d)]
    if margin <= 0:
        raise ValueError(f"margin={margin!r}: must be > 0")
    if len(d) < 2:
        return NAN, NAN, NAN
    se = float(d.std(ddof=1)) / math.sqrt(len(d))
    if se == 0:
        inside = abs(float(d.mean())) < margin
        return (0.0, 0.0, 0.0) if inside else (1.0, 1.0, 1.0)
    df = len(d) - 1
    p_lower = float(stats.t.sf((d.mean() + margin) / se, df))
    p_upper = float(stats.t.cdf((d.mean() - margin) / se, df))
    return max(p_lower, p_upper), p_lower, p_upper


def tost_interval(diffs, level: float = LEVEL) -> tuple[float, float]:
    """The 1 - 2 * level t-interval of the mean that TOST at ``level`` checks against the margins."""
    return t_interval(diffs, confidence=1 - 2 * level)


@dataclass(frozen=True)
class Sensitivity:
    """One constant's plausible range and the direction at each value; ``robust`` when all agree."""

    constant: str
    values: tuple[str, ...]
    verdicts: tuple[str, ...]

    @property
    def robust(self) -> bool:
        return len(set(self.verdicts)) <= 1

    def text(self) -> str:
        return f"{self.constant}: " + ", ".join(f"{v} {w}" for v, w in zip(self.values, self.verdicts, strict=True))


def robustness(checks: list[Sensitivity]) -> str:
    """'robust' (also with no constant to vary), or 'depends on <constant> (<value> <verdict>, ...)'."""
    fragile = [c for c in checks if not c.robust]
    if not fragile:
        return ROBUST
    return "depends on " + "; ".join(c.text() for c in fragile)


def interval_note(level: float) -> str:
    """How an interval's confidence is stated beside a verdict: '95 %' or e.g. '99.4 % (Holm-matched)'."""
    conf = 1 - level
    if abs(conf - CONFIDENCE) < 1e-12:
        return f"{100 * CONFIDENCE:g} %"
    return f"{100 * conf:.3g} % (Holm-matched)"
