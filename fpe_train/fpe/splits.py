"""Split strategies of Fixed Parameter Expansion (paper 2.3, A.1, A.7): which inputs each child keeps.

A split turns one layer's weight ``W (h, n_in)`` into boolean masks ``(alpha*h, n_in)``; the children of
parent ``i`` are rows ``i*alpha .. i*alpha + alpha - 1``.

Partition splits (the children of one parent are disjoint and together cover all ``n_in`` inputs, so the
masks hold exactly ``h*n_in`` ones, Algorithm A1 line 4):

- ``random``: a balanced random partition per parent; block sizes differ by at most 1.
- ``clause``: whole clauses dealt at random to the children of each parent, as evenly as possible
  (inputs outside every clause are dealt as singletons); needs ``clauses``.
- ``gram``: clusters of the rows of the Gram matrix ``G = W^T W`` (paper 3.3; average-linkage clustering
  on correlation distance, :func:`gram_clusters`) dealt to the children, largest first into the emptiest.
- ``structured_2_4``: ``alpha = 2``; every group of 4 consecutive inputs split 2/2 at random (A.7).

Controls (same number of children and the same number of ones, but not a partition):

- ``overlap``: each child an independent uniform random subset of the inputs, of the sizes a balanced
  partition would give (``n_in/alpha``); children of a parent may overlap and leave inputs uncovered
  (the ``independent`` family of the paper's analysis, A.5).
- ``dropconnect``: DropConnect (Wan et al., 2013) on the expanded layer at the same non-zero budget; the
  first draw is an ``overlap`` draw and :func:`resample` redraws every child's mask each training step
  (rows rescaled by 1/q while training, the full weight at test time: ``fpe_train.fpe.masked.DropConnectLinear``
  and the engine's ``run._expectation``).

>>> import torch
>>> m = split_masks("random", torch.ones(2, 6), 2, generator=torch.Generator().manual_seed(0))
>>> m.shape, int(m.sum()), bool((m[0] ^ m[1]).all())
(torch.Size([4, 6]), 12, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from fpe_theory.validate import check_int
from fpe_train.fpe.names import CONTROL_SPLITS, PARTITION_SPLITS, check_split  # noqa: F401 - names and rules


def _generator(generator: torch.Generator | None) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(0)


def _randperm(n: int, g: torch.Generator) -> Tensor:
    return torch.randperm(n, generator=g, device=g.device).cpu()


def _block_sizes(n_in: int, alpha: int, g: torch.Generator) -> Tensor:
    """Sizes of a balanced partition of n_in into alpha blocks, the larger ones at random children."""
    sizes = torch.full((alpha,), n_in // alpha, dtype=torch.long)
    sizes[: n_in % alpha] += 1
    return sizes[_randperm(alpha, g)]  # (alpha,)


def _random(weight: Tensor, alpha: int, *, clauses=None, generator=None) -> Tensor:
    h, n_in = weight.shape
    g = _generator(generator)
    masks = torch.zeros(h, alpha, n_in, dtype=torch.bool)
    for i in range(h):
        child = torch.repeat_interleave(torch.arange(alpha), _block_sizes(n_in, alpha, g))  # (n_in,)
        masks[i, child, _randperm(n_in, g)] = True
    return masks.reshape(alpha * h, n_in).to(weight.device)


def _deal_groups(groups: list[list[int]], alpha: int, n_in: int, g: torch.Generator) -> list[int]:
    """Deal whole groups of inputs to alpha children: largest first into the emptiest child; child of each input.

    The groups are shuffled first (so equal-size groups come in random order) and ties between equally
    empty children go to the first in a random order of the children drawn for this parent; equal-size
    groups are thus dealt round-robin in random order. Every child ends within one largest group of the others.
    """
    order = _randperm(len(groups), g).tolist()
    order.sort(key=lambda j: -len(groups[j]))  # stable: random among equal sizes
    priority = _randperm(alpha, g).tolist()  # random tie-break between equally empty children
    load = [0] * alpha
    child_of = [0] * n_in
    for j in order:
        c = min(priority, key=load.__getitem__)  # the emptiest child, first in priority order
        for x in groups[j]:
            child_of[x] = c
        load[c] += len(groups[j])
    return child_of


def _deal_to_parents(groups: list[list[int]], alpha: int, h: int, n_in: int, g: torch.Generator) -> Tensor:
    """Masks (alpha*h, n_in): the groups dealt independently for each of the h parents."""
    child = torch.tensor([_deal_groups(groups, alpha, n_in, g) for _ in range(h)])  # (h, n_in)
    masks = child[:, None, :] == torch.arange(alpha)[None, :, None]  # (h, alpha, n_in)
    return masks.reshape(alpha * h, n_in)


def _groups_from_clauses(clauses: Sequence[Sequence[int]], n_in: int) -> list[list[int]]:
    seen: set[int] = set()
    groups = []
    for j, clause in enumerate(clauses):
        c = [int(x) for x in clause]
        if not c or min(c) < 0 or max(c) >= n_in:
            raise ValueError(f"clauses[{j}]={c!r}: literals must lie in 0..{n_in - 1}")
        if seen.intersection(c) or len(set(c)) != len(c):
            raise ValueError(f"clauses[{j}]={c!r}: clauses must be disjoint for a clause split")
        seen.update(c)
        groups.append(c)
    return groups + [[x] for x in range(n_in) if x not in seen]


def _clause(weight: Tensor, alpha: int, *, clauses=None, generator=None) -> Tensor:
    if clauses is None:
        raise ValueError("clauses=None: the clause split needs a clause list")
    h, n_in = weight.shape
    g = _generator(generator)
    groups = _groups_from_clauses(clauses, n_in)
    if len(groups) < alpha:
        raise ValueError(f"clauses: {len(groups)} groups of inputs cannot fill alpha={alpha} children whole")
    return _deal_to_parents(groups, alpha, h, n_in, g).to(weight.device)


def gram_clusters(weight: Tensor, n_clusters: int) -> list[list[int]]:
    """Cluster the inputs by the rows of the Gram matrix ``G = W^T W`` (paper 3.3).

    Rule: average-linkage hierarchical clustering (scipy) of the rows of G under correlation distance
    (1 - Pearson correlation; an all-zero row, whose correlation is undefined, gets distance 1 to
    everything), cut into at most ``n_clusters`` clusters. Deterministic: no randomness here.
    """
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    w = weight.detach().to("cpu", torch.float64).numpy()  # (h, n_in)
    G = w.T @ w  # (n_in, n_in)
    if G.shape[0] == 1:
        return [[0]]
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.nan_to_num(pdist(G, metric="correlation"), nan=1.0)
    labels = fcluster(linkage(np.clip(dist, 0.0, 2.0), method="average"), t=n_clusters, criterion="maxclust")
    return [np.flatnonzero(labels == lab).tolist() for lab in np.unique(labels)]


def _gram(weight: Tensor, alpha: int, *, clauses=None, generator=None, n_clusters: int | None = None) -> Tensor:
    """Gram split: clusters of ``G = W^T W`` dealt to each parent's children (largest first, emptiest child).

    ``n_clusters`` defaults to ``max(alpha, n_in // 4)``: groups of about 4 inputs, the clause size k = 4
    of the paper's Boolean tasks; the clause list itself is never used. If the cut yields fewer than alpha
    clusters, the largest is halved until there are alpha, so that no child is empty.
    """
    h, n_in = weight.shape
    g = _generator(generator)
    n_clusters = max(alpha, n_in // 4) if n_clusters is None else check_int("n_clusters", n_clusters, 1)
    groups = gram_clusters(weight, n_clusters)
    while len(groups) < alpha:  # too few distinct clusters (e.g. identical columns): halve the largest
        largest = groups.pop(max(range(len(groups)), key=lambda j: len(groups[j])))
        groups += [largest[: len(largest) // 2], largest[len(largest) // 2 :]]
    return _deal_to_parents(groups, alpha, h, n_in, g).to(weight.device)


def _structured_2_4(weight: Tensor, alpha: int, *, clauses=None, generator=None) -> Tensor:
    h, n_in = weight.shape
    g = _generator(generator)
    keys = torch.rand(h, n_in // 4, 4, generator=g, device=g.device).cpu()  # (h, groups, 4)
    first = keys.argsort(dim=2)[..., :2]  # two random positions of each group go to child 0
    child0 = torch.zeros(h, n_in // 4, 4, dtype=torch.bool).scatter_(2, first, True).reshape(h, n_in)
    return torch.stack([child0, ~child0], dim=1).reshape(2 * h, n_in).to(weight.device)


def _overlap(weight: Tensor, alpha: int, *, clauses=None, generator=None) -> Tensor:
    h, n_in = weight.shape
    g = _generator(generator)
    masks = torch.zeros(h * alpha, n_in, dtype=torch.bool)
    for i in range(h):
        for c, size in enumerate(_block_sizes(n_in, alpha, g).tolist()):
            masks[i * alpha + c, _randperm(n_in, g)[:size]] = True
    return masks.to(weight.device)


def _dropconnect(weight: Tensor, alpha: int, *, clauses=None, generator=None) -> Tensor:
    """DropConnect control, first draw (an ``overlap`` draw); the engine calls :func:`resample` each step.

    What the control means here (the paper names no such baseline; this is our reading): the network has
    the FPE shape (alpha*h children, parents duplicated, same budget of non-zero weights in every training
    step), but instead of a fixed mask each child sees a fresh uniform random subset of its inputs at every
    training step, of the same size as before: DropConnect as Wan et al. (2013) define it, at keep rate
    q_i = (ones of row i) / n_in (about 1/alpha), the kept weights divided by q_i while training and the
    full weights W (the expectation) at test time. Resampling is the caller's job with the masks this
    returns: :func:`resample` before every step (``expand(..., "dropconnect")`` builds
    ``DropConnectLinear`` layers that do it). It separates "more neurons with a fixed sparse wiring" from
    "random connection dropping as a regulariser".
    """
    return _overlap(weight, alpha, generator=generator)


def resample(mask: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """DropConnect step: a new mask with the same number of ones in every row, at uniform random positions.

    Shape-generic (``(out, in)`` or the engine's ``(E, out, in)``); returns a new bool tensor on
    ``mask.device``. Weights are not touched: a position that becomes active again resumes its stored value.

    >>> m = torch.tensor([[True, True, False, False]])
    >>> int(resample(m, torch.Generator().manual_seed(1)).sum())
    2
    """
    g = _generator(generator)
    flat = mask.reshape(-1, mask.shape[-1])  # (rows, in)
    keys = torch.rand(flat.shape, generator=g, device=g.device).to(mask.device)  # (rows, in)
    rank = keys.argsort(dim=1).argsort(dim=1)  # (rows, in): a uniform random rank per row
    return (rank < flat.sum(dim=1, keepdim=True)).reshape(mask.shape)


class _Registry(dict):
    """name -> split constructor ``f(weight, alpha, *, clauses, generator) -> masks``; unknown name: ValueError."""

    def __missing__(self, name):
        raise ValueError(f"split={name!r}: unknown split; valid names: {', '.join(self)}")


SPLITS: dict[str, Callable[..., Tensor]] = _Registry(
    random=_random,
    clause=_clause,
    gram=_gram,
    structured_2_4=_structured_2_4,
    overlap=_overlap,
    dropconnect=_dropconnect,
)


def split_masks(
    name: str, weight: Tensor, alpha: int, *, clauses=None, generator: torch.Generator | None = None, **options
) -> Tensor:
    """Masks ``(alpha*h, n_in)`` of split ``name`` for the weight ``(h, n_in)`` of the layer to expand.

    Children of parent ``i`` are rows ``i*alpha .. i*alpha+alpha-1``. ``generator`` (a torch.Generator)
    makes the draw reproducible (None: seed 0); the masks lie on ``weight.device``. ``options`` go to the split
    (``n_clusters`` for ``gram``).

    >>> w = torch.randn(1, 8)
    >>> split_masks("structured_2_4", w, 2, generator=torch.Generator().manual_seed(0)).view(2, 2, 4).sum(-1)
    tensor([[2, 2],
            [2, 2]])
    """
    if weight.dim() != 2:
        raise ValueError(f"weight shape={tuple(weight.shape)}: must be 2-D (h, n_in)")
    alpha = check_int("alpha", alpha, 2)
    check_split(name, alpha, weight.shape[1], clauses)
    if options and name != "gram":
        raise ValueError(f"options={sorted(options)}: only the gram split takes options (n_clusters)")
    return SPLITS[name](weight, alpha, clauses=clauses, generator=generator, **options)
