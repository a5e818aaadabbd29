"""The Boolean DNF data of Algorithm A2 (paper A.2.1), vectorised.

m literals, C = m/k disjoint clauses (clause j = literals jk .. jk+k-1). A sample is an
assignment of the m literals; its label is the monotone read-once DNF
OR_j AND_{i in clause j} x_i.

- positives (n+ = floor(n/2)): the k literals of one uniform random clause, then
  s - k further random literals, s ~ UniformInt(floor(m/4), floor(m/4) + floor(m/8));
- negatives (n- = n - n+), which must violate every clause:
  * ``broken`` (floor(n-/2) of them): built like a positive, then one random literal of the
    chosen clause is removed; accepted only if the DNF evaluates to 0;
  * ``random`` (the rest): s uniform random literals; accepted only if the DNF evaluates to 0.
  A rejected candidate is redrawn with the same s (A2's ``u``), so s stays uniform.
- finally True -> U[3, 3.5] and False -> U[0, 0.5] (float32).

Choices where A2 is vague (docs/training.md): the negative kinds are split exactly half/half
(the text says "equal proportions"; A2's coin would only do so on average); when
floor(m/4) < k a positive still gets its whole clause, so s = max(s, k).

>>> d = boolean_data(100, m=32, k=4, seed=0)
>>> (d.X.shape, int(d.y.sum()), bool(d.X.max() <= 3.5))
((100, 32), 50, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpe_theory.validate import check_divides, check_int

POSITIVE, BROKEN, RANDOM = 0, 1, 2  # values of BooleanData.kind


@dataclass(frozen=True)
class BooleanData:
    """Samples of Algorithm A2: ``X`` (n, m) float32 values, ``bits`` (n, m) bool, ``y`` (n,) in {0, 1},
    ``kind`` (n,) POSITIVE | BROKEN | RANDOM."""

    X: np.ndarray
    bits: np.ndarray
    y: np.ndarray
    kind: np.ndarray


def ones_range(m: int) -> tuple[int, int]:
    """(minOnes, maxOnes) = (floor(m/4), floor(m/4) + floor(m/8)), inclusive."""
    return m // 4, m // 4 + m // 8


def evaluate_dnf(bits: np.ndarray, k: int) -> np.ndarray:
    """DNF value of each row of ``bits`` (n, m): some clause of k consecutive literals all on."""
    n, m = bits.shape
    return bits.reshape(n, m // k, k).all(axis=2).any(axis=1)  # (n,)


def _pick(rng: np.random.Generator, s: np.ndarray, m: int, first: np.ndarray | None) -> np.ndarray:
    """Rows with s[i] literals on: the literals flagged in ``first`` (n, m) first, the rest uniform."""
    keys = rng.random((len(s), m))  # (n, m)
    if first is not None:
        keys[first] -= 2.0  # flagged literals sort before all others
    order = np.argsort(keys, axis=1)  # (n, m) literals by key: the first s[i] are on
    bits = np.empty((len(s), m), dtype=bool)
    np.put_along_axis(bits, order, np.arange(m)[None, :] < s[:, None], axis=1)
    return bits


def _clause_rows(rng: np.random.Generator, n: int, m: int, k: int, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positive-style rows: one random clause whole, plus s - k random literals; returns (bits, clause)."""
    c = rng.integers(0, m // k, size=n)  # (n,)
    block = (np.arange(m)[None, :] // k) == c[:, None]  # (n, m)
    return _pick(rng, np.maximum(s, k), m, block), c


def _positives(rng: np.random.Generator, n: int, m: int, k: int) -> np.ndarray:
    lo, hi = ones_range(m)
    return _clause_rows(rng, n, m, k, rng.integers(lo, hi + 1, size=n))[0]


def _broken(rng: np.random.Generator, s: np.ndarray, m: int, k: int) -> np.ndarray:
    bits, c = _clause_rows(rng, len(s), m, k, s)
    drop = c * k + rng.integers(0, k, size=len(s))  # one literal of the chosen clause
    bits[np.arange(len(s)), drop] = False
    return bits


def _random(rng: np.random.Generator, s: np.ndarray, m: int, k: int) -> np.ndarray:
    return _pick(rng, s, m, None)


def _negatives(rng: np.random.Generator, n: int, m: int, k: int, make, max_rounds: int = 10_000) -> np.ndarray:
    """Rejection sampling per slot, keeping each slot's s across retries (A2's ``u``)."""
    lo, hi = ones_range(m)
    s = rng.integers(lo, hi + 1, size=n)  # (n,)
    out = np.zeros((n, m), dtype=bool)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            return out
        cand = make(rng, s[todo], m, k)  # (len(todo), m)
        ok = ~evaluate_dnf(cand, k)
        out[todo[ok]] = cand[ok]
        todo = todo[~ok]
    raise ValueError(f"m={m}, k={k}: could not sample negatives that violate every clause")


def boolean_data(n: int, m: int, k: int, seed=None) -> BooleanData:
    """``n`` samples of Algorithm A2 over ``m`` literals with clauses of ``k``; ``seed`` int or Generator."""
    n = check_int("n", n, minimum=2)
    m = check_int("m", m, minimum=2)
    k = check_int("k", k, minimum=1)
    check_divides("k", k, "m", m)
    if k < 2 and n - n // 2 > 0:
        raise ValueError(f"k={k}: negatives must violate every clause, so every literal would be off; need k >= 2")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_pos = n // 2
    n_neg = n - n_pos
    n_broken = n_neg // 2
    bits = np.concatenate(
        [
            _positives(rng, n_pos, m, k),
            _negatives(rng, n_broken, m, k, _broken),
            _negatives(rng, n_neg - n_broken, m, k, _random),
        ]
    )  # (n, m)
    kind = np.repeat(np.array([POSITIVE, BROKEN, RANDOM], np.int8), [n_pos, n_broken, n_neg - n_broken])
    y = (kind == POSITIVE).astype(np.float32)
    X = np.where(bits, rng.uniform(3.0, 3.5, size=bits.shape), rng.uniform(0.0, 0.5, size=bits.shape))
    return BooleanData(X=X.astype(np.float32), bits=bits, y=y, kind=kind)


def boolean_splits(
    n_train: int, n_test: int, m: int, k: int, seed: int, trial: int | None = None
) -> tuple[BooleanData, BooleanData]:
    """Train and test sets drawn independently, from two child random streams of ``seed`` (and of ``trial``: trial t's
    own sample, ``SeedSequence([seed, 0xDA7A], spawn_key=(1, t))``; None: the one dataset of the seed)."""
    root = np.random.SeedSequence([int(seed), 0xDA7A], spawn_key=() if trial is None else (1, int(trial)))
    s_train, s_test = root.spawn(2)
    return boolean_data(n_train, m, k, np.random.default_rng(s_train)), boolean_data(
        n_test, m, k, np.random.default_rng(s_test)
    )
