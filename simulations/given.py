"""Coverage and collisions of masks that are given, not sampled.

This is the measurement the training engine calls on trained networks: a boolean
(neurons x inputs) matrix against any clause list (unequal sizes and permuted literal
orders allowed). Definitions as in ``fpe_theory.definitions``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fpe_theory.definitions import MaskMeasurement


def measure_masks(masks: np.ndarray, clauses: Sequence[Sequence[int]]) -> MaskMeasurement:
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
    n_inputs = masks.shape[1]
    for j, clause in enumerate(clauses):
        if len(clause) == 0 or min(clause) < 0 or max(clause) >= n_inputs:
            raise ValueError(f"clauses[{j}]={list(clause)!r}: literals must lie in 0..{n_inputs - 1}")
    cover = np.stack([masks[:, list(c)].all(axis=1) for c in clauses], axis=1)  # (neurons, clauses)
    per_neuron = cover.sum(axis=1)
    return MaskMeasurement(
        all_covered=bool(cover.any(axis=0).all()),
        covered_clauses=int(cover.any(axis=0).sum()),
        collisions=int((per_neuron * (per_neuron - 1) // 2).sum()),
        neurons_cover_ge1=int((per_neuron >= 1).sum()),
        neurons_cover_ge2=int((per_neuron >= 2).sum()),
    )
