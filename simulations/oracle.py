"""Plain numpy Monte Carlo: the test oracle and the benchmark reference for ``kernels``.

Masks are built explicitly as boolean (trials, neurons, m) arrays with a numpy
Generator (argsort of random keys per parent for a uniform shuffle) and measured with
``measure_batch``, a vectorised form of ``fpe_theory.definitions.measure_supports``.
Nothing here is shared with the numba kernels except the family definitions.

>>> from fpe_theory import Problem
>>> out = simulate_numpy(Problem(m=8, k=2, alpha=2), "clause", r=1, trials=5, seed=0)
>>> out["collisions"].tolist()  # each child holds 2 whole clauses: 1 collision each
[2, 2, 2, 2, 2]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from fpe_theory.problem import Problem

MAX_CHUNK_BYTES = 1 << 33  # 8 GiB: one chunk of the oracle's explicit masks
MEASURES = ("all_covered", "covered", "collisions", "neurons_cover_ge1", "neurons_cover_ge2")
SPLITS_2_4 = np.array([[i in pair for i in range(4)] for pair in itertools.combinations(range(4), 2)])  # (6, 4)


def sample_masks(problem: Problem, family: str, r: int, trials: int, rng: np.random.Generator) -> np.ndarray:
    """(trials, alpha*r, m) boolean masks of ``family``; neurons ordered parent by parent."""
    m, d, alpha = problem.m, problem.d, problem.alpha
    if family == "overlap":
        order = np.argsort(rng.random((trials, alpha * r, m)), axis=-1)  # (T, n, m)
        masks = np.zeros((trials, alpha * r, m), bool)
        np.put_along_axis(masks, order[..., :d], True, axis=-1)
        return masks
    if family == "random":
        order = np.argsort(rng.random((trials, r, m)), axis=-1)  # (T, r, m): inputs in dealing order
        labels = np.empty((trials, r, m), np.int64)
        np.put_along_axis(labels, order, np.broadcast_to(np.arange(m) // d, order.shape), axis=-1)
    elif family == "structured_2_4":
        child1 = SPLITS_2_4[rng.integers(0, 6, (trials, r, m // 4))]  # (T, r, m/4, 4)
        labels = child1.reshape(trials, r, m).astype(np.int64)
    elif family == "clause":
        c = problem.clauses
        order = np.argsort(rng.random((trials, r, c)), axis=-1)  # (T, r, C)
        clause_child = np.empty((trials, r, c), np.int64)
        np.put_along_axis(clause_child, order, np.broadcast_to(np.arange(c) // (c // alpha), order.shape), axis=-1)
        clause_of_input = np.empty(m, np.int64)
        for j, clause in enumerate(problem.clause_list()):
            clause_of_input[list(clause)] = j
        labels = clause_child[..., clause_of_input]  # (T, r, m)
    else:
        raise ValueError(f"family={family!r}: unknown")
    masks = labels[:, :, None, :] == np.arange(alpha)[None, None, :, None]  # (T, r, alpha, m)
    return masks.reshape(trials, r * alpha, m)


def measure_batch(masks: np.ndarray, clauses: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """Per-trial measurements of (trials, neurons, inputs) boolean masks; clauses may differ in size."""
    trials, neurons, n_inputs = masks.shape
    width = max(len(c) for c in clauses)
    lits = np.full((len(clauses), width), n_inputs, np.int64)  # padded with an always-true input
    for j, clause in enumerate(clauses):
        lits[j, : len(clause)] = clause
    padded = np.concatenate([masks, np.ones((trials, neurons, 1), bool)], axis=-1)  # (T, n, m+1)
    cover = padded[:, :, lits].all(axis=-1)  # (T, n, C)
    per_neuron = cover.sum(axis=-1)  # (T, n)
    covered = cover.any(axis=1)  # (T, C)
    return {
        "all_covered": covered.all(axis=-1).astype(np.int64),
        "covered": covered.sum(axis=-1),
        "collisions": (per_neuron * (per_neuron - 1) // 2).sum(axis=-1),
        "neurons_cover_ge1": (per_neuron >= 1).sum(axis=-1),
        "neurons_cover_ge2": (per_neuron >= 2).sum(axis=-1),
    }


def simulate_numpy(
    problem: Problem, family: str, r: int, trials: int, seed: int, chunk: int = 4096
) -> dict[str, np.ndarray]:
    """Per-trial measurements (arrays of length ``trials``) from ``np.random.default_rng(seed)``."""
    per_trial = 24 * problem.alpha * r * problem.m  # bytes: float keys, int64 order, boolean masks per trial
    n = min(chunk, trials)
    if n * per_trial > MAX_CHUNK_BYTES:
        raise ValueError(
            f"r={r}: the numpy oracle builds (trials, alpha r, m) arrays, about {n * per_trial / 2**30:.3g} GiB "
            f"per chunk of {n} trials (limit {MAX_CHUNK_BYTES / 2**30:g} GiB); lower chunk or r"
        )
    rng = np.random.default_rng(seed)
    clauses = problem.clause_list()
    parts = []
    for lo in range(0, trials, chunk):
        masks = sample_masks(problem, family, r, min(chunk, trials - lo), rng)
        parts.append(measure_batch(masks, clauses))
    return {key: np.concatenate([p[key] for p in parts]) for key in MEASURES}
