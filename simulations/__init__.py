"""Monte Carlo over mask families, and measurement of given masks.

``simulate(problem, family, r, trials, seed)`` (numba kernels, reproducible from the seed
whatever the thread count) and ``compare(result, exact)`` against ``fpe_theory.exact``;
``measure_masks(masks, clauses)`` for masks that are given (trained networks).
numba is imported on first use, not by ``import simulations``.
"""

from simulations.given import measure_masks
from simulations.montecarlo import Comparison, SimulationResult, compare, simulate
from simulations.stats import Estimate

__all__ = ["Comparison", "Estimate", "SimulationResult", "compare", "measure_masks", "simulate"]
