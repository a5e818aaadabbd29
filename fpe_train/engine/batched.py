"""A batch of E masked MLPs trained at once (docs/design.md, "Training engine").

Every layer's weight carries a leading model dimension, ``W (E, out, in)``, beside a boolean mask of the
same shape; the forward pass uses ``W * M``, so masked entries get exactly zero gradient. One model is
E = 1. All E models see the same input batch, so the first layer of all of them is one matmul
``(B, in) x (in, E*out)``; later layers are ``torch.baddbmm``.

Architecture (paper 2.1): ``z = W2 ReLU(W1 x + b1) + b2``; with ``depth`` > 1 hidden layers, LayerNorm
(elementwise affine, per model) before each activation (A.7). A binary task has one logit (sigmoid + BCE),
a multiclass task one logit per class (softmax cross-entropy).

>>> import torch
>>> net = BatchedMLP.init(E=3, sizes=[4, 5, 1], generator=torch.Generator().manual_seed(0))
>>> net(torch.ones(7, 4)).shape
torch.Size([3, 7, 1])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class BatchedMLP:
    """E MLPs of the same shape: ``weights[l] (E, out, in)``, ``biases[l] (E, out)``, ``masks[l]`` bool like
    ``weights[l]``, ``norms[l] = (gamma, beta)`` each ``(E, out)`` for hidden layers when ``layer_norm``."""

    weights: list[Tensor]
    biases: list[Tensor]
    masks: list[Tensor]
    norms: list[tuple[Tensor, Tensor]] = field(default_factory=list)

    @property
    def E(self) -> int:
        return self.weights[0].shape[0]

    @property
    def layer_norm(self) -> bool:
        return bool(self.norms)

    @classmethod
    def init(cls, E: int, sizes: list[int], generator: torch.Generator, layer_norm: bool = False,
             device="cpu", dtype=torch.float32) -> BatchedMLP:  # fmt: skip
        """torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)) for weights and biases; all-True masks."""
        weights, biases, masks, norms = [], [], [], []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False):
            bound = 1.0 / math.sqrt(n_in)
            w = (torch.rand(E, n_out, n_in, generator=generator, dtype=dtype) * 2 - 1) * bound  # (E, out, in)
            b = (torch.rand(E, n_out, generator=generator, dtype=dtype) * 2 - 1) * bound  # (E, out)
            weights.append(w.to(device))
            biases.append(b.to(device))
            masks.append(torch.ones(E, n_out, n_in, dtype=torch.bool, device=device))
        if layer_norm:
            norms = [(torch.ones(E, n, dtype=dtype, device=device), torch.zeros(E, n, dtype=dtype, device=device))
                     for n in sizes[1:-1]]  # fmt: skip
        return cls(weights, biases, masks, norms).requires_grad_()

    def requires_grad_(self) -> BatchedMLP:
        for p in self.parameters():
            p.requires_grad_(True)
        return self

    def parameters(self) -> list[Tensor]:
        return [*self.weights, *self.biases, *(t for gb in self.norms for t in gb)]

    def masked_weights(self) -> list[Tensor]:
        return [w * m for w, m in zip(self.weights, self.masks, strict=False)]

    def __call__(self, x: Tensor) -> Tensor:
        """Logits ``(E, B, n_out)`` for a shared input batch ``x (B, in)``.

        Hidden activations are kept as ``(B, E, h)`` (the natural layout of the shared first matmul);
        a single-logit head is an elementwise product and sum, wider layers are ``torch.baddbmm``.
        """
        ws = self.masked_weights()
        E, h, n_in = ws[0].shape
        z = torch.addmm(self.biases[0].reshape(1, E * h), x, ws[0].reshape(E * h, n_in).T)  # (B, E*h)
        z = z.view(-1, E, h)  # (B, E, h)
        for layer in range(1, len(ws)):
            z = self._activate(z, layer - 1)  # (B, E, h)
            w, b = ws[layer], self.biases[layer]  # (E, out, h), (E, out)
            if w.shape[1] == 1:
                z = (z * w[:, 0, :]).sum(dim=-1, keepdim=True) + b  # (B, E, 1)
            else:
                z = torch.baddbmm(b[:, None, :], z.transpose(0, 1), w.transpose(1, 2)).transpose(0, 1)  # (B, E, out)
        return z.transpose(0, 1)  # (E, B, out)

    def _activate(self, z: Tensor, layer: int) -> Tensor:
        if self.norms:
            gamma, beta = self.norms[layer]
            z = F.layer_norm(z, z.shape[-1:]) * gamma + beta  # (B, E, h)
        return torch.relu(z)

    def detached(self) -> BatchedMLP:
        """A copy with detached (cloned) tensors, gradients on."""
        clone = [t.detach().clone() for t in self.parameters()]
        n = len(self.weights)
        norms = [(clone[2 * n + 2 * i], clone[2 * n + 2 * i + 1]) for i in range(len(self.norms))]
        return BatchedMLP(clone[:n], clone[n : 2 * n], [m.clone() for m in self.masks], norms).requires_grad_()

    def select(self, index: Tensor | list[int]) -> BatchedMLP:
        """The models at ``index`` (a new batch, detached copies)."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.weights[0].device)
        pick = [t.detach()[idx].clone() for t in self.parameters()]
        n = len(self.weights)
        norms = [(pick[2 * n + 2 * i], pick[2 * n + 2 * i + 1]) for i in range(len(self.norms))]
        masks = [m[idx].clone() for m in self.masks]
        return BatchedMLP(pick[:n], pick[n : 2 * n], masks, norms).requires_grad_()

    def nonzero_params(self) -> Tensor:
        """Mask entries that are on, over all weight matrices (biases and norms not counted, as A1): (E,)."""
        return sum(m.reshape(self.E, -1).sum(dim=1) for m in self.masks)

    @staticmethod
    def stack(nets: list[BatchedMLP]) -> BatchedMLP:
        """Concatenate batches of equal shapes along the model dimension."""
        cat = [torch.cat([t.detach() for t in ts]) for ts in zip(*(n.parameters() for n in nets), strict=False)]
        n = len(nets[0].weights)
        norms = [(cat[2 * n + 2 * i], cat[2 * n + 2 * i + 1]) for i in range(len(nets[0].norms))]
        masks = [torch.cat(ms) for ms in zip(*(n.masks for n in nets), strict=False)]
        return BatchedMLP(cat[:n], cat[n : 2 * n], masks, norms).requires_grad_()


def per_model_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Mean loss over the batch for each model: (E,). One logit -> sigmoid BCE; more -> softmax CE."""
    E, B, n_out = logits.shape
    if n_out == 1:
        target = y.to(logits.dtype).expand(E, B)  # (E, B)
        return F.binary_cross_entropy_with_logits(logits[..., 0], target, reduction="none").mean(dim=1)
    ce = F.cross_entropy(logits.reshape(E * B, n_out), y.long().repeat(E), reduction="none")  # (E*B,)
    return ce.view(E, B).mean(dim=1)


def correct(logits: Tensor, y: Tensor) -> Tensor:
    """Correct predictions per model: (E,). Binary: logit > 0 (sigmoid > 0.5, A3); multiclass: argmax."""
    if logits.shape[-1] == 1:
        return ((logits[..., 0] > 0) == (y > 0.5)).sum(dim=1)
    return (logits.argmax(dim=-1) == y.long()).sum(dim=1)


def add_penalty_grads(net: BatchedMLP, l1: float, l2: float) -> None:
    """Add the gradients of ``l1 * |W1 * M1|_1 + l2 * sum_p |p|^2`` (A3 lines 13-16) in place.

    Weights enter as ``W * M``, so the penalty gradient is masked too (masked entries stay exactly zero).
    """
    for i, (w, m) in enumerate(zip(net.weights, net.masks, strict=False)):
        wm = w.detach() * m
        g = 2.0 * l2 * wm
        if i == 0 and l1:
            g = g + l1 * torch.sign(wm)
        w.grad.add_(g)
    others = [*net.biases, *(t for gb in net.norms for t in gb)]
    if l2:
        torch._foreach_add_([p.grad for p in others], [p.detach() for p in others], alpha=2.0 * l2)
