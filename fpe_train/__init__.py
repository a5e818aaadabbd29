"""The training side of fpe-theory, in three rooms (install with ``pip install 'fpe-theory[train]'``):

- ``fpe_train.fpe``: what users import: ``MaskedLinear``, the split registry, expansion (Algorithm A1,
  the rule of A.7), rewiring, ``expand()`` and the measurements of a network;
- ``fpe_train.engine``: ``TrainConfig``, data and datasets, batched masked MLPs, the loop, ``run_config``;
- ``fpe_train.sweeps``: sweep files (package data), the results store (reading it needs no torch), executors.

The public names below load on first use, so ``import fpe_train.engine.config`` and the CLI's ``--help``
do not pay for torch; the API itself needs torch only, not numba or scipy::

    from fpe_train import expand, MaskedLinear, Rewirer, count_nonzero
    fpe_model = expand(dense_model, alpha=2, split="random", seed=0)
"""

from __future__ import annotations

import importlib

# public name -> the module that defines it
_EXPORTS = {
    "count_nonzero": "fpe_train.fpe.api",
    "expand": "fpe_train.fpe.api",
    "layer_capacity": "fpe_train.fpe.api",
    "layer_cosine": "fpe_train.fpe.api",
    "layer_coverage": "fpe_train.fpe.api",
    "MaskedLinear": "fpe_train.fpe.masked",
    "Rewirer": "fpe_train.fpe.rewire",
    "rewire_": "fpe_train.fpe.rewire",
    "SPLITS": "fpe_train.fpe.splits",
    "split_masks": "fpe_train.fpe.splits",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Load a public name from its module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fpe_train' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
