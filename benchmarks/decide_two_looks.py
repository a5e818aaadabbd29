"""The error rate of ``report --decide``'s verdicts, simulated under the null, beside the ledger's level.

``--decide`` runs a claim whose stored rows were not significant (the first look) up to the trials that 80 %
power asks for, the n computed once from the stored rows' standard deviation (``reports.stats.trials_needed``,
as the plan does), then tests all the rows again at the same level (the second look). Under H0 (true mean 0,
normal paired differences) this prints, per (stored trials, planned effect in sd units):

- the first look's rejection rate (the ledger's level, 0.05, by construction),
- the second look's rejection rate among the claims the plan runs (not significant, underpowered, n within
  the budget): the error of the verdict ``--decide`` gives,
- both looks counted as one procedure (a rejection at either), what an unadjusted second look costs.

Usage: ``.venv/bin/python benchmarks/decide_two_looks.py [--reps 20000] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
from scipy import stats as sp

from reports.stats import LEVEL, trials_needed


@functools.cache
def _needed(effect: float, sd: float) -> float:
    return trials_needed(effect, sd)


def simulate(n1: int, effect: float, reps: int, rng: np.random.Generator) -> tuple[float, float, float, int]:
    """(first-look rate, second-look rate among planned runs, either-look rate, planned runs) under H0."""
    first = second = 0
    planned = 0
    for _ in range(reps):
        x = rng.standard_normal(n1)
        p1 = sp.ttest_1samp(x, 0.0).pvalue
        if p1 < LEVEL:
            first += 1
            continue
        n2 = _needed(effect, round(float(x.std(ddof=1)), 3))  # the plan: n for 80 % power at the stored sd
        if not np.isfinite(n2) or n2 <= n1:  # over the budget, or powered already: not run
            continue
        planned += 1
        x = np.concatenate([x, rng.standard_normal(int(n2) - n1)])
        second += sp.ttest_1samp(x, 0.0).pvalue < LEVEL
    return first / reps, second / max(planned, 1), (first + second) / reps, planned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"H0 simulated, {args.reps} replications per row; the ledger's level {LEVEL}")
    print(f"{'stored n':>8} {'effect/sd':>9} {'look 1':>7} {'look 2 | run':>12} {'either':>7} {'runs':>6}")
    for n1, effect in ((3, 1.0), (3, 0.5), (5, 0.5), (10, 0.5), (20, 0.3)):
        a, b, c, runs = simulate(n1, effect, args.reps, rng)
        print(f"{n1:>8} {effect:>9.1f} {a:>7.3f} {b:>12.3f} {c:>7.3f} {runs:>6}")


if __name__ == "__main__":
    main()
