"""The training loop: groups of batched models stepping through the same minibatches.

A *group* is one ``BatchedMLP`` (E models of one shape) with its own ``torch.optim.Adam`` (its update is
elementwise, so models in a batch never mix). Every step draws one minibatch, and every model of every
group takes one Adam step on it (A3: loss = BCE/CE + l1 |W1|_1 + l2 sum |p|^2; the penalty gradients are
added directly, masked like the weights). Batch order: a fresh ``torch.randperm`` of the training set each
epoch (DataLoader ``shuffle=True``, last partial batch kept), drawn from a CPU generator so CPU and CUDA
runs see the same order.

Per step, groups may also change their masks: ``resample`` (DropConnect control: the expanded layers'
masks are redrawn every step, ``fpe_train.fpe.splits.resample``) and ``rewire_every`` (RigL-style dynamic
sparsity, A.7: ``fpe_train.fpe.rewire.rewire_`` on the expanded layers every T steps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from fpe_train.engine.batched import BatchedMLP, add_penalty_grads, correct, per_model_loss


@dataclass
class Group:
    """Models trained together: ``labels[e]`` = (variant, trial) of model e."""

    net: BatchedMLP
    labels: list[tuple[str, int]]
    lr: float
    optimizer: torch.optim.Optimizer | None = None
    dynamic_layers: tuple[int, ...] = ()  # layers whose masks change (resample or rewire)
    resample: bool = False
    rewire_every: int = 0
    rewire_fraction: float = 0.0
    last_loss: Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.optimizer is None:
            self.optimizer = make_adam(self.net, self.lr)


def make_adam(net: BatchedMLP, lr: float) -> torch.optim.Adam:
    """torch.optim.Adam over the batched tensors (betas, eps: torch defaults, as a plain run would use)."""
    return torch.optim.Adam(net.parameters(), lr=lr, foreach=True)


@dataclass
class LoopSettings:
    batch_size: int
    l1: float
    l2: float
    generator: torch.Generator  # CPU generator: batch order
    mask_generator: torch.Generator | None = None  # resampling (dropconnect) and rewiring; default: generator

    @property
    def masks_gen(self) -> torch.Generator:
        return self.mask_generator if self.mask_generator is not None else self.generator


def _step(groups: list[Group], xb: Tensor, yb: Tensor, s: LoopSettings, step: int) -> None:
    total = 0.0
    losses = []
    for g in groups:
        if g.resample:
            _resample(g, s.masks_gen)
        for p in g.net.parameters():
            p.grad = None
        loss = per_model_loss(g.net(xb), yb)  # (E,)
        losses.append(loss)
        total = total + loss.sum()
    total.backward()
    for g, loss in zip(groups, losses, strict=False):
        add_penalty_grads(g.net, s.l1, s.l2)
        g.optimizer.step()
        g.last_loss = loss.detach() if g.last_loss is None else g.last_loss + loss.detach()
        if g.rewire_every and (step + 1) % g.rewire_every == 0:
            _rewire(g, s.masks_gen)


def _resample(g: Group, generator: torch.Generator) -> None:
    from fpe_train.fpe.splits import resample

    for j in g.dynamic_layers:
        g.net.masks[j] = resample(g.net.masks[j], generator)


def _rewire(g: Group, generator: torch.Generator) -> None:
    from fpe_train.fpe.rewire import rewire_

    with torch.no_grad():
        for j in g.dynamic_layers:
            rewire_(g.net.weights[j], g.net.masks[j], g.optimizer, g.rewire_fraction, generator)


def check_finite(groups: list[Group], epoch: int) -> None:
    """Raise a one-line ValueError naming the first model whose summed epoch loss is NaN or infinite."""
    for g in groups:
        bad = (~torch.isfinite(g.last_loss)).nonzero()
        if len(bad):
            variant, trial = g.labels[int(bad[0, 0])]
            where = f"variant={variant}, trial={trial}, epoch={epoch}"
            raise ValueError(f"loss is not finite: training diverged ({where}); lower --lr")


def train_epochs(
    groups: list[Group],
    X: Tensor,
    y: Tensor,
    epochs: int,
    settings: LoopSettings,
    first_epoch: int = 1,
    on_epoch: Callable[[int], None] | None = None,
    step0: int = 0,
) -> int:
    """Train every group ``epochs`` epochs on ``X (n, in)``, ``y (n,)``; returns the global step count."""
    n = X.shape[0]
    step = step0
    for epoch in range(first_epoch, first_epoch + epochs):
        order = torch.randperm(n, generator=settings.generator).to(X.device)  # (n,)
        for g in groups:
            g.last_loss = None
        for start in range(0, n, settings.batch_size):
            idx = order[start : start + settings.batch_size]  # (B,)
            _step(groups, X[idx], y[idx], settings, step)
            step += 1
        check_finite(groups, epoch)
        if on_epoch is not None:
            on_epoch(epoch)
    return step


@torch.no_grad()
def accuracy(net: BatchedMLP, X: Tensor, y: Tensor, chunk: int = 4096) -> Tensor:
    """Fraction of correct predictions per model: (E,) float64 on the CPU."""
    hits = torch.zeros(net.E, dtype=torch.long, device=X.device)
    for start in range(0, X.shape[0], chunk):
        hits += correct(net(X[start : start + chunk]), y[start : start + chunk])
    return hits.cpu().double() / X.shape[0]
