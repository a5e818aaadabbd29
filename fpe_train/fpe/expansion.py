"""Fixed Parameter Expansion, Algorithm A1 (paper 2.3, A.1) and the alternating rule for deep MLPs (A.7).

One implementation, used by the batched training engine and by the public :func:`fpe_train.expand`.

Algorithm A1 for a pair of layers ``z = W2 relu(W1 x + b1) + b2`` with ``W1 (h, n_in)``, ``W2 (n_out, h)``:

1. duplicate each parent row of ``W1`` into ``alpha`` children and apply the split masks ``M1``
   (a partition keeps exactly ``h*n_in`` ones); copy the parent's bias to each child;
2. duplicate each parent's output column of ``W2`` into its ``alpha`` children: ``W2' (n_out, alpha*h)``;
   this adds ``Delta = (alpha - 1) h n_out`` weights;
3. prune the smallest-magnitude active weights of ``W1'`` and ``W2'`` jointly until the mask count is the
   dense budget ``P = h*n_in + n_out*h`` exactly (weights only; biases are not counted, as A1's Delta).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from fpe_theory.validate import check_int
from fpe_train.fpe.names import expanded_layers  # noqa: F401 - the rule, importable without torch
from fpe_train.fpe.splits import check_split, split_masks


@dataclass(frozen=True)
class ExpandedPair:
    """Result of :func:`expand_pair`: expanded weights (zero where masked) and their boolean masks."""

    W1: Tensor  # (alpha*h, n_in)
    b1: Tensor | None  # (alpha*h,)
    W2: Tensor  # (n_out, alpha*h)
    M1: Tensor  # (alpha*h, n_in) bool
    M2: Tensor  # (n_out, alpha*h) bool


def _check_pair(W1: Tensor, b1: Tensor | None, W2: Tensor, masks1: Tensor, alpha: int) -> None:
    if W1.dim() != 2 or W2.dim() != 2:
        raise ValueError(f"W1 shape={tuple(W1.shape)}, W2 shape={tuple(W2.shape)}: both must be 2-D")
    h, n_in = W1.shape
    if W2.shape[1] != h:
        raise ValueError(f"W2 shape={tuple(W2.shape)}: must be (n_out, h={h}) to follow W1 shape={tuple(W1.shape)}")
    if b1 is not None and tuple(b1.shape) != (h,):
        raise ValueError(f"b1 shape={tuple(b1.shape)}: must be (h,)=({h},)")
    if tuple(masks1.shape) != (alpha * h, n_in) or masks1.dtype != torch.bool:
        raise ValueError(f"masks1 shape={tuple(masks1.shape)} dtype={masks1.dtype}: must be bool ({alpha * h}, {n_in})")


def prune_jointly(W1: Tensor, M1: Tensor, W2: Tensor, M2: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Masks after removing the ``n`` smallest-magnitude active weights of W1 and W2 taken together.

    Ties are broken by position: W1 before W2, row-major (a stable sort), so the result is deterministic.
    """
    inf = torch.tensor(float("inf"), device=W1.device)
    scores = torch.cat(
        [torch.where(M1, W1.abs(), inf).flatten(), torch.where(M2, W2.abs(), inf).flatten().to(W1.device)]
    )  # (M1.numel() + M2.numel(),)
    drop = torch.zeros_like(scores, dtype=torch.bool)
    drop[torch.sort(scores, stable=True).indices[:n]] = True
    return M1 & ~drop[: M1.numel()].view_as(M1), M2 & ~drop[M1.numel() :].view_as(M2).to(M2.device)


def expand_pair(
    W1: Tensor, b1: Tensor | None, W2: Tensor, masks1: Tensor, alpha: int, *, keep_budget: bool = True
) -> ExpandedPair:
    """Algorithm A1 on one pair of layers, with given split masks ``masks1 (alpha*h, n_in)``.

    With ``keep_budget`` (default) the smallest-magnitude weights of ``W1'`` and ``W2'`` are pruned jointly
    until ``M1.sum() + M2.sum() == h*n_in + n_out*h`` (weights only, biases not counted); pruned weights
    are exactly 0. ``keep_budget=False`` keeps all of ``W2'`` (budget exceeded by ``(alpha-1) h n_out``).
    Raises ValueError if the masks hold too few ones to reach the budget.

    >>> W1, W2 = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0]])
    >>> p = expand_pair(W1, None, W2, torch.tensor([[True, False], [False, True]]), 2)
    >>> p.W1, p.W2, int(p.M1.sum() + p.M2.sum())
    (tensor([[0., 0.],
            [0., 2.]]), tensor([[3., 3.]]), 3)
    """
    alpha = check_int("alpha", alpha, 2)
    _check_pair(W1, b1, W2, masks1, alpha)
    h, n_in = W1.shape
    n_out = W2.shape[0]
    M1 = masks1.to(W1.device)
    M2 = torch.ones(n_out, alpha * h, dtype=torch.bool, device=W2.device)  # (n_out, alpha*h)
    W1x = W1.detach().repeat_interleave(alpha, dim=0)  # (alpha*h, n_in)
    W2x = W2.detach().repeat_interleave(alpha, dim=1)  # (n_out, alpha*h)
    b1x = None if b1 is None else b1.detach().repeat_interleave(alpha).clone()  # (alpha*h,)
    if keep_budget:
        budget = h * n_in + n_out * h
        count = int(M1.sum()) + M2.numel()
        if count < budget:
            raise ValueError(f"masks1 ones={int(M1.sum())}: budget h*n_in + n_out*h = {budget} cannot be met")
        M1, M2 = prune_jointly(W1x, M1, W2x, M2, count - budget)
    return ExpandedPair(W1=W1x * M1, b1=b1x, W2=W2x * M2, M1=M1, M2=M2)


def check_layers(layers, n_layers: int) -> tuple[int, ...]:
    """Validate a user's choice of layers to expand: hidden (not the head), sorted, none adjacent."""
    layers = tuple(sorted(check_int("layers", j, 0) for j in layers))
    for a, b in zip(layers, layers[1:], strict=False):
        if b - a < 2:
            raise ValueError(f"layers={list(layers)}: expanded layers must not be adjacent (rule of A.7)")
    if not layers or layers[-1] >= n_layers - 1:
        raise ValueError(f"layers={list(layers)}: must be hidden layers 0..{n_layers - 2} (never the head)")
    return layers


def widen_layernorm(weight: Tensor | None, bias: Tensor | None, alpha: int) -> tuple[Tensor | None, Tensor | None]:
    """A LayerNorm after an expanded Linear: each parent's affine weight and bias copied to its alpha children.

    The widened LayerNorm normalises over all ``alpha*h`` children (mean and variance over the wider
    layer); its per-unit gain and shift are those of the child's parent. Like the split itself this does
    not preserve the function; it is the natural analogue of copying the bias (Algorithm A1).

    >>> widen_layernorm(torch.tensor([1.0, 2.0]), None, 2)[0]
    tensor([1., 1., 2., 2.])
    """

    def rep(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.detach().repeat_interleave(alpha).clone()  # (alpha*h,)

    return rep(weight), rep(bias)


def expand_mlp(
    weights: list[Tensor],
    biases: list[Tensor | None],
    alpha: int,
    split: str,
    *,
    clauses=None,
    generator: torch.Generator | None = None,
    keep_budget: bool = True,
    layers=None,
    **split_options,
) -> tuple[list[Tensor], list[Tensor | None], list[Tensor | None]]:
    """FPE of an MLP with Linear weights ``weights[j] (out_j, in_j)`` (the last one is the head), rule of A.7.

    Expands ``layers`` (default :func:`expanded_layers`: 0, 2, 4, ...) with split ``split``; each expanded
    layer ``j`` and the next layer ``j+1`` are one Algorithm A1 pair, so the budget is preserved exactly
    per pair. ``clauses`` index the network's inputs, so the ``clause`` split applies to layer 0 only; a
    deeper expanded layer uses ``random`` instead. Returns new lists; ``masks[j]`` is None for a layer left
    dense. Masks are drawn layer by layer, in order, from ``generator``.

    >>> ws = [torch.randn(4, 8), torch.randn(4, 4), torch.randn(3, 4)]
    >>> w, b, m = expand_mlp(ws, [None] * 3, 2, "random", generator=torch.Generator().manual_seed(0))
    >>> [tuple(x.shape) for x in w], int(m[0].sum() + m[1].sum()) == 4 * 8 + 4 * 4, m[2]
    ([(8, 8), (4, 8), (3, 4)], True, None)
    """
    if len(weights) != len(biases) or len(weights) < 2:
        raise ValueError(f"weights: {len(weights)} layers with {len(biases)} biases: need >= 2 layers, one bias each")
    for j in range(1, len(weights)):
        if weights[j].shape[1] != weights[j - 1].shape[0]:
            raise ValueError(f"weights[{j}] shape={tuple(weights[j].shape)}: input must be {weights[j - 1].shape[0]}")
    layers = expanded_layers(len(weights)) if layers is None else check_layers(layers, len(weights))
    weights = [w.detach().clone() for w in weights]
    biases = [None if b is None else b.detach().clone() for b in biases]
    masks: list[Tensor | None] = [None] * len(weights)
    for j in layers:
        name = "random" if (split == "clause" and j > 0) else split
        check_split(name, alpha, weights[j].shape[1], clauses if j == 0 else None)
        m1 = split_masks(
            name, weights[j], alpha, clauses=clauses if j == 0 else None, generator=generator, **split_options
        )
        pair = expand_pair(weights[j], biases[j], weights[j + 1], m1, alpha, keep_budget=keep_budget)
        weights[j], biases[j], weights[j + 1] = pair.W1, pair.b1, pair.W2
        masks[j], masks[j + 1] = pair.M1, pair.M2
    return weights, biases, masks
