"""The measurements of a row, at a model's true shape, vectorised (no torch).

``measure(W1, M1, clauses, config)`` -> the row fields ``capacity``, ``cosine``, ``abs_cosine``,
``mask_{covered,all_covered,collisions}`` and ``learned_{...}`` of one model's masked first layer
``W1 (h, n_in)``; the definitions are those of ``fpe_train.fpe.metrics`` (and, for cover and collision,
``simulations.measure_masks``), computed here with one gather for every clause at once.

>>> import numpy as np
>>> coverage(np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool), [[0, 1], [2, 3]])
{'covered': 2, 'all_covered': True, 'collisions': 1}
"""

from __future__ import annotations

import numpy as np

from fpe_train.fpe import metrics


def coverage(support: np.ndarray, clauses) -> dict:
    """``covered`` (clauses inside some neuron's support), ``all_covered``, ``collisions`` (pairs of clauses
    inside one neuron's support, summed over neurons) of a bool ``support (h, n_in)``."""
    lengths = {len(c) for c in clauses}
    if len(lengths) != 1:  # clauses of different lengths: the general measurement
        return metrics.coverage(support, clauses)
    inside = np.asarray(support, dtype=bool)[:, np.asarray(clauses)].all(axis=2)  # (h, C)
    per_neuron = inside.sum(axis=1)  # (h,)
    covered = int(inside.any(axis=0).sum())
    return {
        "covered": covered,
        "all_covered": covered == len(clauses),
        "collisions": int((per_neuron * (per_neuron - 1) // 2).sum()),
    }


def measure(W1: np.ndarray, M1: np.ndarray, clauses, config) -> dict:
    """Row fields of one model (module doc); ``clauses`` None for a vision task (capacity over literals)."""
    features = config.features if clauses is not None else "literal"
    row = {
        "capacity": metrics.capacity(W1, clauses, features),
        "cosine": metrics.mean_cosine(W1),
        "abs_cosine": metrics.mean_cosine(W1, absolute=True),
    }
    for prefix, support in (("mask", M1), ("learned", metrics.learned_support(W1, config.tau))):
        cov = (
            coverage(support, clauses)
            if clauses is not None
            else dict.fromkeys(("covered", "all_covered", "collisions"))
        )
        row.update({f"{prefix}_{key}": value for key, value in cov.items()})
    return row
