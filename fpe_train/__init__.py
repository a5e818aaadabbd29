"""Training side of fpe-theory: FPE expansion of torch MLPs, masked layers, rewiring (and the batched engine).

Public API (importing this package imports torch only, not numba or scipy)::

    from fpe_train import expand, MaskedLinear, Rewirer, count_nonzero
    fpe_model = expand(dense_model, alpha=2, split="random", seed=0)
"""

from fpe_train.api import count_nonzero, expand, layer_capacity, layer_cosine, layer_coverage
from fpe_train.masked import MaskedLinear
from fpe_train.rewire import Rewirer, rewire_
from fpe_train.splits import SPLITS, split_masks

__all__ = [
    "SPLITS",
    "MaskedLinear",
    "Rewirer",
    "count_nonzero",
    "expand",
    "layer_capacity",
    "layer_cosine",
    "layer_coverage",
    "rewire_",
    "split_masks",
]
