"""Public API: expand a trained torch MLP by Fixed Parameter Expansion, and measure it.

``expand(model, alpha, split)`` returns a NEW module (``model`` is untouched) in which hidden Linear layers
are split into ``alpha`` children each (Algorithm A1, paper A.1), re-sparsified to exactly the original
number of weights, following the alternating rule of A.7 for deep networks; the classification head (the
last Linear) is never expanded. Expanded layers and the layers after them become :class:`MaskedLinear`.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
>>> fpe = expand(net, alpha=2, split="random", seed=0)
>>> fpe[0].weight.shape, count_nonzero(fpe) == count_nonzero(net) == 8 * 4 + 4 * 3
(torch.Size([8, 8]), True)
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from fpe_theory.families import ALIASES
from fpe_train.fpe.expansion import expand_mlp, widen_layernorm
from fpe_train.fpe.masked import DropConnectLinear, MaskedLinear

# Leaf modules without parameters that may sit between Linear layers (activations, dropout, reshapes).
_PARAMETER_FREE = "any leaf module without parameters (activations, Dropout, Flatten, Identity, ...)"


def _layers(module: nn.Module) -> tuple[list[tuple[str, nn.Linear]], dict[int, list[tuple[str, nn.LayerNorm]]]]:
    """Linear layers in registration order, and the LayerNorms following each of them (by Linear index)."""
    linears: list[tuple[str, nn.Linear]] = []
    norms: dict[int, list[tuple[str, nn.LayerNorm]]] = {}
    for name, m in module.named_modules():
        if list(m.children()) and any(True for _ in m.parameters(recurse=False)):
            raise ValueError(
                f"module {name or type(m).__name__!r} ({type(m).__name__}): holds parameters of its "
                "own besides its layers; FPE expands MLPs made of layers only"
            )
    leaves = [(n, m) for n, m in module.named_modules() if not list(m.children())]
    for name, leaf in leaves:
        label = name or type(module).__name__
        if isinstance(leaf, MaskedLinear):
            raise ValueError(f"layer {label!r} (MaskedLinear): already expanded; pass the dense model")
        if type(leaf) is nn.Linear:
            linears.append((name, leaf))
        elif isinstance(leaf, nn.LayerNorm) and linears:
            if len(leaf.normalized_shape) != 1 or leaf.normalized_shape[0] != linears[-1][1].out_features:
                raise ValueError(
                    f"layer {label!r} (LayerNorm{tuple(leaf.normalized_shape)}): must normalise the "
                    f"{linears[-1][1].out_features} outputs of the Linear before it"
                )
            norms.setdefault(len(linears) - 1, []).append((name, leaf))
        elif any(True for _ in leaf.parameters(recurse=False)):
            raise ValueError(
                f"layer {label!r} ({type(leaf).__name__}): not Linear or LayerNorm; FPE expands MLPs "
                f"made of nn.Linear, LayerNorm and {_PARAMETER_FREE}"
            )
    if len(linears) < 2:
        raise ValueError(f"module has {len(linears)} Linear layer(s): need a hidden layer and a head (>= 2)")
    return linears, norms


def _replace(root: nn.Module, name: str, new: nn.Module) -> nn.Module:
    if not name:
        return new
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, new)
    return root


def _wide_layernorm(norm: nn.LayerNorm, alpha: int) -> nn.LayerNorm:
    w, b = widen_layernorm(norm.weight, norm.bias, alpha)
    ref = norm.weight if norm.weight is not None else None
    new = nn.LayerNorm(
        alpha * norm.normalized_shape[0],
        eps=norm.eps,
        elementwise_affine=norm.elementwise_affine,
        bias=norm.bias is not None,
        device=None if ref is None else ref.device,
        dtype=None if ref is None else ref.dtype,
    )
    with torch.no_grad():
        if w is not None:
            new.weight.copy_(w)
        if b is not None:
            new.bias.copy_(b)
    return new


def expand(
    module: nn.Module,
    alpha: int,
    split: str = "random",
    *,
    clauses=None,
    layers=None,
    seed: int = 0,
    generator: torch.Generator | None = None,
    keep_budget: bool = True,
    **split_options,
) -> nn.Module:
    """Return a deep copy of the MLP ``module`` with its hidden layers expanded by FPE (paper 2.3, A.1, A.7).

    ``module``: an ``nn.Sequential`` (or any module) made of ``nn.Linear`` layers, ``LayerNorm`` and
    parameter-free layers; the Linear layers are taken in registration order, which must be the order of
    the forward pass (true for a Sequential). ``split``: a name of :data:`fpe_train.fpe.splits.SPLITS`
    (``clause`` needs ``clauses``, lists of input indices). ``layers``: indices of Linear layers to expand
    (default 0, 2, 4, ... before the head, the alternating rule of A.7). Each expanded layer and the next
    Linear are re-sparsified jointly to their original weight count ``h*n_in + n_out*h`` (biases, which
    FPE copies to every child, and LayerNorm parameters are not counted). A LayerNorm after an expanded
    layer is widened, each child getting its parent's gain and shift. ``seed`` or ``generator`` fix the
    masks. The copy lives on the model's device and dtype. The theory's names ``partition`` and
    ``independent`` are accepted for ``random`` and ``overlap`` (``fpe_theory.families.ALIASES``). With
    ``split="dropconnect"`` the expanded layers are :class:`DropConnectLinear`: they redraw their masks
    themselves at every training forward pass (from the same generator, continued), rescaled by 1/q, and use
    the full weights in eval mode.

    >>> net = nn.Sequential(nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 1))
    >>> fpe = expand(net, 2, "structured_2_4", seed=0)
    >>> fpe[0].out_features, count_nonzero(net), count_nonzero(fpe)
    (4, 10, 10)
    """
    split = ALIASES.get(split, split) if isinstance(split, str) else split
    g = generator if generator is not None else torch.Generator().manual_seed(int(seed))
    new = copy.deepcopy(module)
    linears, norms = _layers(new)
    weights = [lin.weight for _, lin in linears]
    biases = [lin.bias for _, lin in linears]
    w, b, masks = expand_mlp(
        weights,
        biases,
        alpha,
        split,
        clauses=clauses,
        generator=g,
        keep_budget=keep_budget,
        layers=layers,
        **split_options,
    )
    for j, (name, lin) in enumerate(linears):
        if masks[j] is None:
            continue
        resampled = split == "dropconnect" and w[j].shape[0] != lin.out_features  # an expanded layer
        layer = (
            DropConnectLinear.from_weights(w[j], b[j], masks[j], g)
            if resampled
            else MaskedLinear.from_weights(w[j], b[j], masks[j])
        )
        layer.weight.requires_grad_(lin.weight.requires_grad)
        new = _replace(new, name, layer)
        if w[j].shape[0] != lin.out_features:  # expanded: widen the LayerNorms that follow
            for norm_name, norm in norms.get(j, []):
                new = _replace(new, norm_name, _wide_layernorm(norm, w[j].shape[0] // lin.out_features))
    return new


def count_nonzero(module: nn.Module, include_bias: bool = False) -> int:
    """Weights a module may hold non-zero: ``mask.sum()`` for MaskedLinear, every weight of a dense Linear.

    Biases are counted only with ``include_bias`` (FPE's budget counts weights only); LayerNorm never.
    """
    total = 0
    for m in module.modules():
        if isinstance(m, MaskedLinear):
            total += int(m.mask.sum())
        elif isinstance(m, nn.Linear):
            total += m.weight.numel()
        if include_bias and isinstance(m, nn.Linear) and m.bias is not None:
            total += m.bias.numel()
    return total


def _effective(layer: nn.Module | Tensor) -> Tensor:
    if isinstance(layer, MaskedLinear):
        return layer.effective_weight.detach()
    if isinstance(layer, nn.Linear):
        return layer.weight.detach()
    if torch.is_tensor(layer):
        return layer.detach()
    raise ValueError(f"layer={type(layer).__name__}: must be nn.Linear, MaskedLinear or a weight tensor")


def layer_coverage(layer: nn.Module, clauses):
    """Structural coverage and collisions of a layer's mask against ``clauses`` (``simulations.measure_masks``).

    A dense Linear counts as all-ones. Returns a ``MaskMeasurement`` (all_covered, covered,
    collisions, neurons_cover_ge1, neurons_cover_ge2).
    """
    from simulations.given import measure_masks  # keeps numpy out until used

    if isinstance(layer, MaskedLinear):
        mask = layer.mask
    elif isinstance(layer, nn.Linear):
        mask = torch.ones_like(layer.weight, dtype=torch.bool)
    else:
        raise ValueError(f"layer={type(layer).__name__}: must be nn.Linear or MaskedLinear")
    return measure_masks(mask.detach().cpu().numpy(), clauses)


def layer_capacity(layer: nn.Module | Tensor, clauses=None, **options) -> float:
    """Feature capacity (Scherlis et al. 2022, paper 3.2) of a layer's effective weight, via fpe_train.fpe.metrics.

    ``C_i = (f_i . f_i)^2 / sum_j (f_i . f_j)^2`` summed over features i: clauses when given (feature vector
    = sum of the clause's weight columns), else every input column; ``options`` go to fpe_train.fpe.metrics.
    """
    from fpe_train.fpe import metrics  # keeps numpy out until used

    feature_capacity = getattr(metrics, "feature_capacity", None) or metrics.capacity
    return feature_capacity(_effective(layer), clauses, **options)


def layer_cosine(layer: nn.Module | Tensor) -> float | None:
    """Mean cosine similarity between distinct neurons' effective weight rows, via fpe_train.fpe.metrics.

    Signed mean over pairs of distinct non-zero rows; None with fewer than two such rows.
    """
    from fpe_train.fpe.metrics import mean_cosine  # keeps numpy out until used

    return mean_cosine(_effective(layer))
