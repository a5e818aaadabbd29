"""The names of the split registry (``fpe_train.fpe.splits.SPLITS``), importable without torch.

The engine's config, the CLI's choices and the sweep files all take their split names from here.
"""

from __future__ import annotations

PARTITION_SPLITS = ("random", "clause", "gram", "structured_2_4")  # children of a parent partition its inputs
CONTROL_SPLITS = ("overlap", "dropconnect")  # same budget, not a partition
SPLIT_NAMES = PARTITION_SPLITS + CONTROL_SPLITS
