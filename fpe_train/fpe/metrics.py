"""Interference metrics of one trained first layer (paper 3.2, A.6), and coverage of its supports.

All functions take one model's masked first-layer weight ``W1 (h, m)`` (numpy or torch, float).

- feature capacity (Scherlis et al. 2022): with feature vectors ``f_i`` (columns of ``F (h, n_features)``),
  ``C_i = (f_i . f_i)^2 / sum_j (f_i . f_j)^2`` and the capacity is ``sum_i C_i``; it never exceeds
  ``rank(F)`` <= min(h, n_features). A feature with a zero vector gets C_i = 0.
  Features (``features=``): ``clause_sum`` (default) -- feature i is clause i, its vector the sum of W1's
  columns over the clause's literals, a vector in neuron space R^h; ``clause_mean`` -- the mean instead
  (the same capacity when all clauses have k literals: a common scale cancels); ``literal`` -- each input
  column of W1 is a feature (used for vision tasks, which have no clauses).
- cosine: mean cosine similarity over pairs of distinct neurons (rows of W1), signed (``abs_cosine``:
  the mean of |cos|); rows that are all zero have no direction and are left out.
- coverage/collisions of supports, via ``simulations.measure_masks`` (the theory's definitions): the
  structural support is the mask; the learned support of a neuron is ``|w| >= tau * max|w|`` of that
  neuron (a neuron whose weights are all zero has an empty support).

>>> import numpy as np
>>> capacity(np.eye(3), [[0], [1], [2]])
3.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulations import measure_masks


def _np(w) -> np.ndarray:
    if hasattr(w, "detach"):
        w = w.detach().cpu().numpy()
    return np.asarray(w, dtype=np.float64)


def feature_vectors(W1, clauses: Sequence[Sequence[int]] | None, features: str = "clause_sum") -> np.ndarray:
    """Feature vectors as the columns of ``F (h, n_features)`` (see module docstring)."""
    W = _np(W1)  # (h, m)
    if features == "literal" or clauses is None:
        return W
    cols = [W[:, list(c)].sum(axis=1) for c in clauses]  # each (h,)
    if features == "clause_mean":
        cols = [col / len(c) for col, c in zip(cols, clauses, strict=False)]
    elif features != "clause_sum":
        raise ValueError(f"features={features!r}: must be clause_sum, clause_mean or literal")
    return np.stack(cols, axis=1)  # (h, C)


def capacity_terms(F) -> np.ndarray:
    """C_i = (f_i.f_i)^2 / sum_j (f_i.f_j)^2 for the columns f_i of ``F``; 0 for a zero column."""
    F = _np(F)
    G = F.T @ F  # (n, n) Gram matrix of the features
    num = np.diag(G) ** 2
    den = (G**2).sum(axis=1)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def capacity(W1, clauses=None, features: str = "clause_sum") -> float:
    """Total feature capacity sum_i C_i (<= rank of the feature matrix)."""
    return float(capacity_terms(feature_vectors(W1, clauses, features)).sum())


def mean_cosine(W1, absolute: bool = False) -> float | None:
    """Mean cosine similarity over pairs of distinct non-zero rows of ``W1``; None if < 2 such rows.

    Signed by default (the paper's words, section 3.2); ``absolute=True`` averages |cos| instead --
    the paper's Table A2 values (all 0.1-0.4) read more like that, so rows carry both.
    """
    W = _np(W1)
    norms = np.linalg.norm(W, axis=1)
    W = W[norms > 0] / norms[norms > 0, None]  # (h', m) unit rows
    n = W.shape[0]
    if n < 2:
        return None
    S = W @ W.T  # (h', h')
    if absolute:
        S = np.abs(S)
    return float((S.sum() - np.trace(S)) / (n * (n - 1)))


def learned_support(W1, tau: float) -> np.ndarray:
    """Boolean (h, m): |w| >= tau * max|w| of the neuron, and w != 0."""
    A = np.abs(_np(W1))
    top = A.max(axis=1, keepdims=True)  # (h, 1)
    return (A >= tau * top) & (A > 0)


def coverage(support: np.ndarray, clauses) -> dict:
    """``covered``, ``all_covered``, ``collisions`` of a boolean (neurons, inputs) support matrix."""
    mm = measure_masks(np.asarray(support, dtype=bool), clauses)
    return {"covered": mm.covered, "all_covered": mm.all_covered, "collisions": mm.collisions}
