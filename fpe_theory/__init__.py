"""Exact and symbolic theory of Fixed Parameter Expansion (paper A.5)."""

from fpe_theory.definitions import MaskMeasurement, covers, measure_supports
from fpe_theory.exact import FamilyExact, dense_collisions, family_exact, paper_approximations, r_min
from fpe_theory.families import FAMILIES, check_family
from fpe_theory.problem import Problem

__all__ = [
    "FAMILIES",
    "FamilyExact",
    "MaskMeasurement",
    "Problem",
    "check_family",
    "covers",
    "dense_collisions",
    "family_exact",
    "measure_supports",
    "paper_approximations",
    "r_min",
]
