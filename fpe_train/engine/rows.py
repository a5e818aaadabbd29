"""The fields of a result row, one per (trial, variant) of a run (docs/interfaces.md).

Kept apart from the engine so that reading a store (``fpe_train.sweeps.store``) needs no torch.
"""

from __future__ import annotations

ROW_FIELDS = (
    "trial",
    "seed",
    "variant",
    "test_accuracy",
    "train_accuracy",
    "nonzero_params",
    "capacity",
    "cosine",
    "abs_cosine",
    "mask_covered",
    "mask_all_covered",
    "mask_collisions",
    "learned_covered",
    "learned_all_covered",
    "learned_collisions",
    "seconds",
    "device",
    "test_curve",
    "dataset",
    "n_train_used",
    "n_test_used",
)
