"""Cover and collision, defined once (docs/design.md, vocabulary).

A neuron *covers* a clause when all of the clause's literals are in its support.
A *collision* is one neuron covering a pair of clauses, counted per (neuron, pair):
a neuron that covers c clauses contributes c*(c-1)/2 collisions.

These plain-Python definitions are the reference that brute force, the Monte Carlo
kernels (``simulations``) and the trained-network measurements are tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MaskMeasurement:
    """What a set of neuron supports does to a clause list."""

    all_covered: bool
    covered: int
    collisions: int
    neurons_cover_ge1: int
    neurons_cover_ge2: int


def covers(support: Iterable[int], clause: Iterable[int]) -> bool:
    """True when every literal of ``clause`` is in ``support``."""
    s = set(support)
    return all(i in s for i in clause)


def measure_supports(supports: Sequence[Iterable[int]], clauses: Sequence[Iterable[int]]) -> MaskMeasurement:
    """Measure coverage and collisions of neuron ``supports`` against ``clauses`` (plain loops)."""
    clause_sets = [set(c) for c in clauses]
    covered = [False] * len(clause_sets)
    collisions = ge1 = ge2 = 0
    for support in supports:
        s = set(support)
        n = 0
        for j, c in enumerate(clause_sets):
            if c <= s:
                covered[j] = True
                n += 1
        collisions += n * (n - 1) // 2
        ge1 += n >= 1
        ge2 += n >= 2
    return MaskMeasurement(
        all_covered=all(covered),
        covered=sum(covered),
        collisions=collisions,
        neurons_cover_ge1=ge1,
        neurons_cover_ge2=ge2,
    )
