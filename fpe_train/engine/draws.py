"""Every random draw of a trial, in numpy, from the trial's own random streams (no torch).

Both training paths (the compiled CPU kernel, ``fpe_train.engine.kernel``, and the torch path) take a trial's
initial weights, split masks and data order from here, so the same (config, trial) starts from the same
numbers on either path.

Seeds: trial t of a config draws random stream ``s`` (sub-stream ``sub``) from
``SeedSequence(entropy=seed_entropy(config), spawn_key=(t, s, sub))``; ``seed_entropy`` hashes the training
fields of the config (not ``trials``, ``device`` or the evaluation-only fields). Random streams: ``STREAM_INIT``
(initial weights), ``STREAM_ORDER`` (the key of the epoch permutations, :func:`order_key`), ``STREAM_SPLIT``
(a split's masks, sub-stream = the split's index in ``SPLIT_NAMES``), ``STREAM_MASK`` (resampling and
rewiring on the torch path). The data have their own random streams (``fpe_train.engine.data``, ``datasets``).

The masks follow ``fpe_train.fpe.splits`` (same laws, numpy draws) and the expansion Algorithm A1 with the
alternating rule of A.7 (``fpe_train.fpe.expansion``): a pair (W1, W2) -> children duplicated, split masks
on W1, the smallest-magnitude weights of both pruned jointly (stable order: W1 before W2, row-major) until
the dense budget is met.

>>> from fpe_train.engine.config import TrainConfig
>>> c = TrainConfig(clauses=2, k=4, r=2, alpha=2, splits=("random",))
>>> ws, bs = init_layers([8, 2, 1], trial_rng(c, 0, STREAM_INIT))
>>> w, b, masks = expand_model(ws, bs, 2, "random", None, trial_rng(c, 0, STREAM_SPLIT))
>>> [x.shape for x in w], int(masks[0].sum() + masks[1].sum()) == 8 * 2 + 2
([(4, 8), (1, 4)], True)
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np

from fpe_train.fpe.names import SPLIT_NAMES, expanded_layers

SEED_VERSION = 2  # salt of seed_entropy: bump to change every random stream (2: numpy draws on both paths)
NOT_SEEDED = ("trials", "device", "tau", "features", "record_warmup", "curve_every", "dense_fresh")  # no effect on
# the training of the other models
STREAM_INIT, STREAM_ORDER, STREAM_SPLIT, STREAM_MASK = range(4)


def seed_entropy(config) -> int:
    """256-bit entropy of a config's random streams: sha256 of its training fields that differ from the defaults
    (canonical JSON, sorted keys), salted with ``SEED_VERSION``; ``NOT_SEEDED`` fields are left out."""
    defaults = type(config)().to_dict()
    d = {k: v for k, v in config.to_dict().items() if k not in NOT_SEEDED and defaults.get(k) != v}
    text = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return int(hashlib.sha256(f"fpe-seed-v{SEED_VERSION}:{text}".encode()).hexdigest(), 16)


def trial_seed(config, trial: int, stream: int, sub: int = 0, entropy: int | None = None) -> np.random.SeedSequence:
    """``SeedSequence(seed_entropy(config), spawn_key=(trial, stream, sub))``: random stream ``stream`` of a trial."""
    entropy = seed_entropy(config) if entropy is None else entropy
    return np.random.SeedSequence(entropy, spawn_key=(int(trial), int(stream), int(sub)))


def trial_rng(config, trial: int, stream: int, sub: int = 0, entropy: int | None = None) -> np.random.Generator:
    """A numpy ``Generator`` (PCG64) for one random stream of one trial."""
    return np.random.default_rng(trial_seed(config, trial, stream, sub, entropy))


def order_key(config, trial: int, entropy: int | None = None) -> int:
    """The 64-bit key of a trial's data order: epoch e's permutation is ``kernel.permutations(key, e)``."""
    return int(trial_seed(config, trial, STREAM_ORDER, 0, entropy).generate_state(1, np.uint64)[0])


def init_layers(sizes: list[int], rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)), float32, layer by layer (weight, then bias):
    ``([W (out, in)], [b (out,)])``."""
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False):
        bound = np.float32(1.0 / math.sqrt(n_in))
        weights.append((rng.random((n_out, n_in), dtype=np.float32) * 2 - 1) * bound)  # (out, in)
        biases.append((rng.random(n_out, dtype=np.float32) * 2 - 1) * bound)  # (out,)
    return weights, biases


# ---------------------------------------------------------------- split masks (alpha*h, n_in), bool


def _block_sizes(n_in: int, alpha: int, h: int, rng) -> np.ndarray:
    """(h, alpha): sizes of a balanced partition of n_in per parent, the larger blocks at random children."""
    sizes = np.full(alpha, n_in // alpha)
    sizes[: n_in % alpha] += 1
    return sizes[np.argsort(rng.random((h, alpha)), axis=1)]


def _random(h: int, n_in: int, alpha: int, rng, clauses=None, weight=None) -> np.ndarray:
    sizes = _block_sizes(n_in, alpha, h, rng)  # (h, alpha)
    child = np.stack([np.repeat(np.arange(alpha), s) for s in sizes])  # (h, n_in) child of each slot
    slot = np.argsort(np.argsort(rng.random((h, n_in)), axis=1), axis=1)  # (h, n_in) a random slot per input
    owner = np.take_along_axis(child, slot, axis=1)  # (h, n_in)
    return (owner[:, None, :] == np.arange(alpha)[None, :, None]).reshape(alpha * h, n_in)


def _overlap(h: int, n_in: int, alpha: int, rng, clauses=None, weight=None) -> np.ndarray:
    sizes = _block_sizes(n_in, alpha, h, rng).reshape(-1)  # (h*alpha,)
    rank = np.argsort(np.argsort(rng.random((h * alpha, n_in)), axis=1), axis=1)
    return rank < sizes[:, None]


def _structured_2_4(h: int, n_in: int, alpha: int, rng, clauses=None, weight=None) -> np.ndarray:
    first = np.argsort(rng.random((h, n_in // 4, 4)), axis=2)[..., :2]  # two positions of each group -> child 0
    child0 = np.zeros((h, n_in // 4, 4), dtype=bool)
    np.put_along_axis(child0, first, True, axis=2)
    child0 = child0.reshape(h, n_in)
    return np.stack([child0, ~child0], axis=1).reshape(2 * h, n_in)


def _deal(groups: list[list[int]], alpha: int, h: int, n_in: int, rng) -> np.ndarray:
    """Whole groups dealt to each parent's children: largest first into the emptiest (ties: a random order)."""
    child = np.zeros((h, n_in), dtype=np.int64)
    sizes = np.array([len(g) for g in groups])
    for i in range(h):
        order = rng.permutation(len(groups))
        order = order[np.argsort(-sizes[order], kind="stable")]  # random among equal sizes
        priority = rng.permutation(alpha).tolist()
        load = [0] * alpha
        for j in order:
            c = min(priority, key=load.__getitem__)
            child[i, groups[j]] = c
            load[c] += len(groups[j])
    return (child[:, None, :] == np.arange(alpha)[None, :, None]).reshape(alpha * h, n_in)


def _clause(h: int, n_in: int, alpha: int, rng, clauses=None, weight=None) -> np.ndarray:
    seen = {x for c in clauses for x in c}
    groups = [list(c) for c in clauses] + [[x] for x in range(n_in) if x not in seen]
    return _deal(groups, alpha, h, n_in, rng)


def gram_clusters(weight: np.ndarray, n_clusters: int) -> list[list[int]]:
    """Average-linkage clusters of the rows of ``G = W^T W`` under correlation distance (``fpe.splits``)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    w = np.asarray(weight, dtype=np.float64)
    G = w.T @ w  # (n_in, n_in)
    if G.shape[0] == 1:
        return [[0]]
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.nan_to_num(pdist(G, metric="correlation"), nan=1.0)
    labels = fcluster(linkage(np.clip(dist, 0.0, 2.0), method="average"), t=n_clusters, criterion="maxclust")
    return [np.flatnonzero(labels == lab).tolist() for lab in np.unique(labels)]


def _gram(h: int, n_in: int, alpha: int, rng, clauses=None, weight=None) -> np.ndarray:
    groups = gram_clusters(weight, max(alpha, n_in // 4))
    while len(groups) < alpha:  # too few distinct clusters: halve the largest
        largest = groups.pop(max(range(len(groups)), key=lambda j: len(groups[j])))
        groups += [largest[: len(largest) // 2], largest[len(largest) // 2 :]]
    return _deal(groups, alpha, h, n_in, rng)


MASKS = {
    "random": _random,
    "clause": _clause,
    "gram": _gram,
    "structured_2_4": _structured_2_4,
    "overlap": _overlap,
    "dropconnect": _overlap,
}
assert set(MASKS) == set(SPLIT_NAMES)


def split_masks(name: str, weight: np.ndarray, alpha: int, clauses, rng: np.random.Generator) -> np.ndarray:
    """Masks ``(alpha*h, n_in)`` bool of split ``name`` for ``weight (h, n_in)``; children of parent i are rows
    ``i*alpha .. i*alpha + alpha - 1`` (checked by the caller: ``fpe_train.fpe.splits.check_split`` rules)."""
    h, n_in = weight.shape
    return MASKS[name](h, n_in, alpha, rng, clauses=clauses, weight=weight)


# ---------------------------------------------------------------- Algorithm A1


def expand_pair(W1, b1, W2, M1, alpha: int):
    """A1 on one pair with split masks ``M1 (alpha*h, n_in)``: ``(W1', b1', W2', M1', M2')``, budget kept."""
    h, n_in = W1.shape
    n_out = W2.shape[0]
    W1x = np.repeat(W1, alpha, axis=0)  # (alpha*h, n_in)
    W2x = np.repeat(W2, alpha, axis=1)  # (n_out, alpha*h)
    M2 = np.ones((n_out, alpha * h), dtype=bool)
    excess = int(M1.sum()) + M2.size - (h * n_in + n_out * h)
    if excess < 0:
        raise ValueError(f"masks ones={int(M1.sum())}: budget h*n_in + n_out*h = {h * n_in + n_out * h} cannot be met")
    scores = np.concatenate([np.where(M1, np.abs(W1x), np.inf).ravel(), np.where(M2, np.abs(W2x), np.inf).ravel()])
    drop = np.zeros(scores.size, dtype=bool)
    drop[np.argsort(scores, kind="stable")[:excess]] = True
    M1 = M1 & ~drop[: M1.size].reshape(M1.shape)
    M2 = M2 & ~drop[M1.size :].reshape(M2.shape)
    return W1x * M1, np.repeat(b1, alpha), W2x * M2, M1, M2


def expand_model(
    weights: list[np.ndarray], biases: list[np.ndarray], alpha: int, split: str, clauses, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """FPE of an MLP (``weights[j] (out, in)``, the last the head), rule of A.7: layers 0, 2, ... expanded with
    ``split`` (``clause`` at layer 0 only; deeper layers ``random``), masks drawn in layer order from ``rng``.
    Returns new lists (weights zero where masked, biases, bool masks; all-True for a layer left dense)."""
    weights, biases = [w.copy() for w in weights], [b.copy() for b in biases]
    masks = [np.ones(w.shape, dtype=bool) for w in weights]
    for j in expanded_layers(len(weights)):
        name = "random" if (split == "clause" and j > 0) else split
        m1 = split_masks(name, weights[j] * masks[j], alpha, clauses if j == 0 else None, rng)
        W1, b1, W2, M1, M2 = expand_pair(weights[j] * masks[j], biases[j], weights[j + 1], m1, alpha)
        weights[j], biases[j], weights[j + 1], masks[j], masks[j + 1] = W1, b1, W2, M1, M2
    return weights, biases, masks


def widen_norm(gamma: np.ndarray, beta: np.ndarray, alpha: int) -> tuple[np.ndarray, np.ndarray]:
    """A LayerNorm after an expanded layer: each parent's gain and shift copied to its alpha children."""
    return np.repeat(gamma, alpha), np.repeat(beta, alpha)
