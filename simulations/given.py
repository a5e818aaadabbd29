"""Coverage and collisions of masks that are given, not sampled.

This is the measurement the training engine calls on trained networks: a boolean
(neurons x inputs) matrix against any clause list (unequal sizes and permuted literal
orders allowed). Definitions as in ``fpe_theory.definitions``. The default engine is a
numba loop (``kernels.measure_given``); ``engine="numpy"`` is the vectorised reference.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from fpe_theory.definitions import MaskMeasurement
from simulations.oracle import measure_batch

ENGINES = ("numba", "numpy")


def measure_masks(masks: np.ndarray, clauses: Sequence[Sequence[int]], engine: str = "numba") -> MaskMeasurement:
    """Measure a boolean (neurons, inputs) ``masks`` matrix against ``clauses``.

    >>> import numpy as np
    >>> measure_masks(np.array([[1, 1, 1, 1]], bool), [[0, 1], [2, 3]]).collisions
    1
    """
    masks = np.asarray(masks)
    if masks.dtype != np.bool_:
        raise ValueError(f"masks dtype={masks.dtype}: must be boolean")
    if masks.ndim != 2:
        raise ValueError(f"masks shape={masks.shape}: must be 2-D (neurons, inputs)")
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: must be one of {', '.join(ENGINES)}")
    clauses = check_clauses(clauses, masks.shape[1])
    if engine == "numpy":
        out = {key: int(v[0]) for key, v in measure_batch(masks[None], clauses).items()}
        all_covered, covered, collisions, ge1, ge2 = (out[key] for key in out)
    else:
        from simulations.kernels import flat_clauses, measure_given  # keeps numba out until used

        lits, offsets = flat_clauses(clauses)
        all_covered, covered, collisions, ge1, ge2 = measure_given(np.ascontiguousarray(masks), lits, offsets)
    return MaskMeasurement(
        all_covered=bool(all_covered),
        covered=int(covered),
        collisions=int(collisions),
        neurons_cover_ge1=int(ge1),
        neurons_cover_ge2=int(ge2),
    )


def check_clauses(clauses: Sequence[Sequence[int]], n_inputs: int) -> list[list[int]]:
    """Clauses as lists of ints in 0..n_inputs-1, each non-empty; else a one-line ValueError."""
    if isinstance(clauses, (str, bytes)) or len(clauses) == 0:
        raise ValueError(f"clauses={clauses!r}: must be a non-empty list of literal-index lists")
    out = []
    for j, clause in enumerate(clauses):
        lits = list(clause) if not isinstance(clause, (str, bytes)) else []
        ok = lits and all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in lits)
        if not ok or min(lits) < 0 or max(lits) >= n_inputs:
            raise ValueError(f"clauses[{j}]={clause!r}: literals must be integers in 0..{n_inputs - 1}")
        out.append([int(i) for i in lits])
    return out
