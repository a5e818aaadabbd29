"""MaskedLinear: a Linear layer whose weight is multiplied by a boolean mask buffer in every forward pass.

Masks that cannot leak (RigL's way): ``y = x (W * M)^T + b``. By the chain rule ``dL/dW = (dL/dW_eff) * M``,
so a masked weight gets an exact zero gradient; stored at zero, with zero gradient, it stays exactly zero
under SGD (momentum, weight decay), Adam and AdamW, and so does its optimizer state. No hooks, no patching.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fpe_train.fpe.splits import resample


class MaskedLinear(nn.Linear):
    """``nn.Linear`` with a boolean ``mask`` buffer of the weight's shape ``(out_features, in_features)``.

    The state dict holds ``weight``, ``bias`` and ``mask`` (e.g. ``0.weight``, ``0.mask`` in a Sequential).
    Weights at masked positions are zeroed on construction.

    >>> layer = MaskedLinear(3, 2, mask=torch.tensor([[True, False, True], [False, True, False]]))
    >>> int(layer.mask.sum()), bool((layer.weight[~layer.mask] == 0).all())
    (3, True)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        mask: Tensor | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        if mask is None:
            mask = torch.ones(out_features, in_features, dtype=torch.bool)
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(f"mask shape={tuple(mask.shape)}: must be (out, in)=({out_features}, {in_features})")
        self.register_buffer("mask", mask.to(device=self.weight.device, dtype=torch.bool).clone())
        with torch.no_grad():
            self.weight.mul_(self.mask)

    @classmethod
    def from_weights(cls, weight: Tensor, bias: Tensor | None, mask: Tensor) -> MaskedLinear:
        """A MaskedLinear holding copies of ``weight (out, in)``, ``bias`` and ``mask`` (device, dtype kept)."""
        out_f, in_f = weight.shape
        layer = cls(in_f, out_f, bias=bias is not None, mask=mask, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(weight * mask)
            if bias is not None:
                layer.bias.copy_(bias)
        return layer

    @property
    def effective_weight(self) -> Tensor:
        """``W * M`` (out, in): the weight the forward pass uses."""
        return self.weight * self.mask

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonzero={int(self.mask.sum())}/{self.mask.numel()}"


class DropConnectLinear(MaskedLinear):
    """DropConnect (Wan et al. 2013) at a fixed budget: in training mode every forward pass draws a fresh mask
    with each row's count of ones (``fpe_train.fpe.splits.resample``, from ``generator``) and computes
    ``x ((W * M) / q)^T + b``, q_i the keep fraction of row i (so the expected weight is W); in eval mode it
    computes the expectation ``x W^T + b``. ``mask`` holds the last draw (its count is the layer's budget).

    >>> layer = DropConnectLinear(4, 2, mask=torch.tensor([[1, 1, 0, 0], [0, 1, 1, 0]], dtype=torch.bool))
    >>> _ = layer(torch.ones(1, 4)); layer.mask.sum(dim=1).tolist()
    [2, 2]
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        mask: Tensor | None = None,
        device=None,
        dtype=None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, mask=mask, device=device, dtype=dtype)
        self.generator = generator

    @classmethod
    def from_weights(
        cls, weight: Tensor, bias: Tensor | None, mask: Tensor, generator: torch.Generator | None = None
    ) -> DropConnectLinear:
        layer = super().from_weights(weight, bias, mask)
        layer.generator = generator
        return layer

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return F.linear(x, self.weight, self.bias)

        with torch.no_grad():
            self.mask.copy_(resample(self.mask, self.generator))
        q = self.mask.sum(dim=1, keepdim=True).clamp_min(1).to(self.weight.dtype) / self.in_features  # (out, 1)
        return F.linear(x, self.weight * self.mask / q, self.bias)
