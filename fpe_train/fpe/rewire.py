"""Dynamic rewiring of FPE masks (paper A.7, inspired by RigL, Evci et al. 2020).

Every ``T`` steps, per model (leading index): prune the ``n = round(fraction * active)`` active weights of
smallest magnitude and regrow ``n`` positions drawn uniformly among those inactive before the pruning (so
never the just-pruned ones). Regrown weights start at exactly 0 with zeroed optimizer state; pruned weights
are set to 0 and their state zeroed too. The number of active weights (the budget) is unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fpe_theory.validate import check_int
from fpe_train.fpe.masked import MaskedLinear


def _lowest(score: Tensor, n: Tensor) -> Tensor:
    """Per row of ``score (L, P)``, the ``n[l]`` smallest entries (ties: lower position first)."""
    order = torch.sort(score, dim=1, stable=True).indices  # (L, P)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(score.shape[1], device=score.device).expand_as(order))
    return rank < n[:, None]  # (L, P)


def _reset_state(optimizer: torch.optim.Optimizer | None, weight: Tensor, where: Tensor) -> None:
    """Zero every per-weight optimizer state tensor (exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer...)."""
    if optimizer is None:
        return
    for value in optimizer.state.get(weight, {}).values():
        if torch.is_tensor(value) and value.shape == weight.shape:
            value.masked_fill_(where, 0)


@torch.no_grad()
def rewire_(
    weight: Tensor,
    mask: Tensor,
    optimizer: torch.optim.Optimizer | None,
    fraction: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Rewire ``weight`` and its bool ``mask`` in place (shapes ``(..., out, in)``); return n per leading index.

    ``n = round(fraction * active)`` (Python/torch rounding, half to even), capped by the number of inactive
    positions. ``generator`` draws the regrown positions (default: seed 0).

    >>> w = torch.nn.Parameter(torch.tensor([[3.0, 1.0, 0.0, 0.0]]))
    >>> m = torch.tensor([[True, True, False, False]])
    >>> rewire_(w, m, None, 0.5, torch.Generator().manual_seed(0)).tolist(), m.sum().item(), w[0, 1].item()
    (1, 2, 0.0)
    """
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction={fraction}: must be in [0, 1]")
    if mask.shape != weight.shape or mask.dtype != torch.bool or mask.dim() < 2:
        raise ValueError(f"mask shape={tuple(mask.shape)} dtype={mask.dtype}: must be bool, weight's shape, >= 2-D")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    P = mask.shape[-1] * mask.shape[-2]
    M = mask.reshape(-1, P)  # (L, P)
    W = weight.detach().reshape(-1, P)  # (L, P)
    active = M.sum(dim=1)  # (L,)
    n = torch.minimum(torch.round(active.double() * fraction).long(), P - active)  # (L,)
    inf = torch.tensor(float("inf"), device=W.device)
    prune = _lowest(torch.where(M, W.abs().float(), inf), n)  # (L, P)
    noise = torch.rand(M.shape, generator=g, device=g.device).to(W.device)  # (L, P)
    grow = _lowest(torch.where(M, inf, noise), n)  # (L, P)
    changed = (prune | grow).view(mask.shape)
    mask.copy_(((M & ~prune) | grow).view(mask.shape))
    weight.detach().masked_fill_(changed, 0)
    _reset_state(optimizer, weight, changed)
    return n.view(mask.shape[:-2])


class Rewirer:
    """Rewire every MaskedLinear of ``module`` each ``every`` calls of :meth:`step` (after ``optimizer.step()``).

    >>> from fpe_train.fpe.masked import MaskedLinear
    >>> net = torch.nn.Sequential(MaskedLinear(4, 2, mask=torch.eye(2, 4, dtype=torch.bool)))
    >>> r = Rewirer(net, every=2, fraction=0.5, seed=0)
    >>> r.step(), r.step(), int(net[0].mask.sum())
    (False, True, 2)
    """

    def __init__(self, module: nn.Module, every: int, fraction: float, seed: int = 0) -> None:
        self.every = check_int("every", every, 1)
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"fraction={fraction}: must be in [0, 1]")
        self.fraction = float(fraction)
        self.layers = [m for m in module.modules() if isinstance(m, MaskedLinear)]
        if not self.layers:
            raise ValueError(f"module={type(module).__name__}: has no MaskedLinear layer to rewire")
        self.generator = torch.Generator().manual_seed(int(seed))
        self.steps = 0

    def step(self, optimizer: torch.optim.Optimizer | None = None) -> bool:
        """Count one training step; rewire all masked layers when the count is a multiple of ``every``."""
        self.steps += 1
        if self.steps % self.every:
            return False
        for layer in self.layers:
            rewire_(layer.weight, layer.mask, optimizer, self.fraction, self.generator)
        return True
