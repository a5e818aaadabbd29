"""A batch of E masked MLPs trained at once (docs/design.md, "Training engine").

Every layer's weight carries a leading model dimension, ``W (E, out, in)``, beside a boolean mask of the
same shape; the forward pass uses ``W * M``, so masked entries get exactly zero gradient. One model is
E = 1. Each model may see its own minibatch, ``x (E, B, in)`` (layers are ``torch.baddbmm``), or all
models one shared ``x (B, in)`` (the first layer is then one matmul ``(B, in) x (in, E*out)``).

Models of different shapes share a batch by padding: a model with fewer inputs or neurons has its extra
rows/columns masked off (weights exactly zero, zero gradient), and ``valid[l] (E, h_l)`` marks the real
neurons of hidden layer l, so a padded neuron stays exactly zero (zero bias, masked out of LayerNorm).

Architecture (paper 2.1): ``z = W2 ReLU(W1 x + b1) + b2``; with ``depth`` > 1 hidden layers, LayerNorm
(elementwise affine, per model) before each activation (A.7). A binary task has one logit (sigmoid + BCE),
a multiclass task one logit per class (softmax cross-entropy).

>>> import torch
>>> net = BatchedMLP.init(E=3, sizes=[4, 5, 1], generator=torch.Generator().manual_seed(0))
>>> net(torch.ones(7, 4)).shape, net(torch.ones(3, 7, 4)).shape
(torch.Size([3, 7, 1]), torch.Size([3, 7, 1]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

LN_EPS = 1e-5  # torch.nn.LayerNorm's default


@dataclass
class BatchedMLP:
    """E MLPs of one (padded) shape: ``weights[l] (E, out, in)``, ``biases[l] (E, out)``, ``masks[l]`` bool like
    ``weights[l]``, ``norms[l] = (gamma, beta)`` each ``(E, out)`` for hidden layers when ``layer_norm``;
    ``valid[l] (E, out)`` bool real neurons of hidden layer l (empty list: no padding)."""

    weights: list[Tensor]
    biases: list[Tensor]
    masks: list[Tensor]
    norms: list[tuple[Tensor, Tensor]] = field(default_factory=list)
    valid: list[Tensor] = field(default_factory=list)

    @property
    def E(self) -> int:
        return self.weights[0].shape[0]

    @property
    def layer_norm(self) -> bool:
        return bool(self.norms)

    @classmethod
    def init(
        cls,
        E: int,
        sizes: list[int],
        generator: torch.Generator,
        layer_norm: bool = False,
        device="cpu",
        dtype=torch.float32,
    ) -> BatchedMLP:
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
            norms = [
                (torch.ones(E, n, dtype=dtype, device=device), torch.zeros(E, n, dtype=dtype, device=device))
                for n in sizes[1:-1]
            ]
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
        """Logits ``(E, B, n_out)`` for ``x (E, B, in)`` (one minibatch per model) or a shared ``x (B, in)``."""
        ws = self.masked_weights()
        if x.dim() == 2:
            E, h, n_in = ws[0].shape
            z = torch.addmm(self.biases[0].reshape(1, E * h), x, ws[0].reshape(E * h, n_in).T)  # (B, E*h)
            z = z.view(-1, E, h).transpose(0, 1)  # (E, B, h)
        else:
            z = torch.baddbmm(self.biases[0].unsqueeze(1), x, ws[0].transpose(1, 2))  # (E, B, h)
        for layer in range(1, len(ws)):
            z = self._activate(z, layer - 1)  # (E, B, h)
            w, b = ws[layer], self.biases[layer]  # (E, out, h), (E, out)
            z = torch.baddbmm(b.unsqueeze(1), z, w.transpose(1, 2))  # (E, B, out)
        return z

    def _activate(self, z: Tensor, layer: int) -> Tensor:
        if self.norms:
            gamma, beta = self.norms[layer]
            z = masked_layer_norm(z, self.valid[layer] if self.valid else None, gamma, beta)  # (E, B, h)
        return torch.relu(z)

    def _rebuild(self, tensors: list[Tensor], masks: list[Tensor], valid: list[Tensor]) -> BatchedMLP:
        n = len(self.weights)
        norms = [(tensors[2 * n + 2 * i], tensors[2 * n + 2 * i + 1]) for i in range(len(self.norms))]
        return BatchedMLP(tensors[:n], tensors[n : 2 * n], masks, norms, valid).requires_grad_()

    def detached(self) -> BatchedMLP:
        """A copy with detached (cloned) tensors, gradients on."""
        return self._rebuild(
            [t.detach().clone() for t in self.parameters()],
            [m.clone() for m in self.masks],
            [v.clone() for v in self.valid],
        )

    def select(self, index: Tensor | list[int]) -> BatchedMLP:
        """The models at ``index`` (a new batch, detached copies)."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.weights[0].device)
        return self._rebuild(
            [t.detach()[idx].clone() for t in self.parameters()],
            [m[idx] for m in self.masks],
            [v[idx] for v in self.valid],
        )

    def nonzero_params(self) -> Tensor:
        """Mask entries that are on, over all weight matrices (biases and norms not counted, as A1): (E,)."""
        return sum(m.reshape(self.E, -1).sum(dim=1) for m in self.masks)

    @staticmethod
    def stack(nets: list[BatchedMLP]) -> BatchedMLP:
        """Concatenate batches of equal shapes along the model dimension."""
        cat = [torch.cat([t.detach() for t in ts]) for ts in zip(*(n.parameters() for n in nets), strict=False)]
        masks = [torch.cat(ms) for ms in zip(*(n.masks for n in nets), strict=False)]
        valid = [torch.cat(vs) for vs in zip(*(n.valid for n in nets), strict=False)] if nets[0].valid else []
        return nets[0]._rebuild(cat, masks, valid)


def init_layers(sizes: list[int], generator: torch.Generator, dtype=torch.float32) -> list[tuple[Tensor, Tensor]]:
    """One model's ``[(W (out, in), b (out,))]``, torch.nn.Linear's default init, drawn layer by layer."""
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False):
        bound = 1.0 / math.sqrt(n_in)
        w = (torch.rand(n_out, n_in, generator=generator, dtype=dtype) * 2 - 1) * bound  # (out, in)
        b = (torch.rand(n_out, generator=generator, dtype=dtype) * 2 - 1) * bound  # (out,)
        out.append((w, b))
    return out


def masked_layer_norm(z: Tensor, valid: Tensor | None, gamma: Tensor, beta: Tensor) -> Tensor:
    """LayerNorm + affine over the real neurons only: ``z (E, B, h)``, ``valid (E, h)`` bool (None: all),
    ``gamma``, ``beta`` (E, h); padded entries -> 0 (their gamma and beta are 0).

    Computed in float64 (forward and, through autograd, backward; biased variance and eps ``LN_EPS`` as
    ``F.layer_norm``) and rounded to float32 once: float32 sums would round differently with the padding and
    the batch size, so a model's numbers would depend on which models share its batch.
    """
    x = z.double()
    v = torch.ones_like(x[:, :1, :]) if valid is None else valid.double().unsqueeze(1)  # (E, 1, h)
    n = v.sum(dim=-1, keepdim=True).clamp_min(1)  # (E, 1, 1)
    mean = (x * v).sum(dim=-1, keepdim=True) / n  # (E, B, 1)
    d = (x - mean) * v  # (E, B, h)
    var = (d * d).sum(dim=-1, keepdim=True) / n  # biased, as F.layer_norm
    y = d * torch.rsqrt(var + LN_EPS) * gamma.double().unsqueeze(1) + beta.double().unsqueeze(1)
    return y.to(z.dtype)


def per_model_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Mean loss over the batch for each model: (E,). ``y`` (B,) shared or (E, B) per model.

    One logit -> sigmoid BCE; more -> softmax CE.
    """
    E, B, n_out = logits.shape
    if n_out == 1:
        target = y.to(logits.dtype).expand(E, B)  # (E, B)
        return F.binary_cross_entropy_with_logits(logits[..., 0], target, reduction="none").mean(dim=1)
    target = y.long().expand(E, B).reshape(E * B)
    ce = F.cross_entropy(logits.reshape(E * B, n_out), target, reduction="none")  # (E*B,)
    return ce.view(E, B).mean(dim=1)


def correct(logits: Tensor, y: Tensor) -> Tensor:
    """Correct predictions per model: (E,). Binary: logit > 0 (sigmoid > 0.5, A3); multiclass: argmax."""
    if logits.shape[-1] == 1:
        return ((logits[..., 0] > 0) == (y > 0.5)).sum(dim=1)
    return (logits.argmax(dim=-1) == y.long()).sum(dim=1)


def add_penalty_grads(net: BatchedMLP, l1, l2) -> None:
    """Add the gradients of ``l1 * |W1 * M1|_1 + l2 * sum_p |p|^2`` (A3 lines 13-16) in place.

    ``l1``, ``l2``: floats or per-model tensors ``(E,)``. Weights enter as ``W * M``, so the penalty gradient
    is masked too (masked entries stay exactly zero).
    """
    for i, (w, m) in enumerate(zip(net.weights, net.masks, strict=False)):
        wm = w.detach() * m
        w.grad.add_(penalty_grad(wm, _per_model(l1, wm) if i == 0 else 0.0, _per_model(l2, wm)))
    for p in [*net.biases, *(t for gb in net.norms for t in gb)]:
        p.grad.add_(penalty_grad(p.detach(), 0.0, _per_model(l2, p)))


def _per_model(x, like: Tensor):
    """A float as is; a per-model tensor (E,) shaped to broadcast against ``like (E, ...)``."""
    if torch.is_tensor(x):
        return x.view(-1, *([1] * (like.dim() - 1)))
    return x


def penalty_grad(p: Tensor, l1, l2) -> Tensor:
    """``2 l2 p + l1 sign(p)`` (the gradient of l1 |p|_1 + l2 |p|^2)."""
    g = (2.0 * l2) * p
    if not (isinstance(l1, float) and l1 == 0.0):
        g = g + l1 * torch.sign(p)
    return g
