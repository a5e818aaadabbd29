"""Exact and symbolic theory of Fixed Parameter Expansion (paper A.5)."""

from fpe_theory.definitions import MaskMeasurement, covers, measure_supports
from fpe_theory.problem import Problem

__all__ = ["MaskMeasurement", "Problem", "covers", "measure_supports"]
