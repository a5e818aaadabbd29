"""MaskedLinear: a Linear layer whose weight is multiplied by a boolean mask buffer in every forward pass.

Masks that cannot leak (RigL's way): ``y = x (W * M)^T + b``. By the chain rule ``dL/dW = (dL/dW_eff) * M``,
so a masked weight gets an exact zero gradient; stored at zero, with zero gradient, it stays exactly zero
under SGD (momentum, weight decay), Adam and AdamW, and so does its optimizer state. No hooks, no patching.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedLinear(nn.Linear):
    """``nn.Linear`` with a boolean ``mask`` buffer of the weight's shape ``(out_features, in_features)``.

    The state dict holds ``weight``, ``bias`` and ``mask`` (e.g. ``0.weight``, ``0.mask`` in a Sequential).
    Weights at masked positions are zeroed on construction.

    >>> layer = MaskedLinear(3, 2, mask=torch.tensor([[True, False, True], [False, True, False]]))
    >>> int(layer.mask.sum()), bool((layer.weight[~layer.mask] == 0).all())
    (3, True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, mask: Tensor | None = None,
                 device=None, dtype=None) -> None:  # fmt: skip
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
