"""Monte Carlo over mask families, and measurement of given masks."""

from simulations.given import measure_masks

__all__ = ["measure_masks"]
