"""The names of the split registry (``fpe_train.fpe.splits.SPLITS``) and the layer rule of A.7, importable
without torch.

The engine's config, the CLI's choices and the sweep files all take their split names from here; the
planner takes the widths of an expanded network from ``expanded_layers``.
"""

from __future__ import annotations

from fpe_theory.families import check_structured_2_4_alpha
from fpe_theory.validate import check_int

PARTITION_SPLITS = ("random", "clause", "gram", "structured_2_4")  # children of a parent partition its inputs
CONTROL_SPLITS = ("overlap", "dropconnect")  # same budget, not a partition
SPLIT_NAMES = PARTITION_SPLITS + CONTROL_SPLITS


def expanded_layers(n_layers: int) -> tuple[int, ...]:
    """Indices of the Linear layers the alternating rule of A.7 expands: 0, 2, 4, ... (never the head).

    Layer ``j`` expanded widens the input of layer ``j+1``, which is re-sparsified but not expanded.
    ``n_layers`` counts every Linear layer, the head included (hidden layers = n_layers - 1).

    >>> expanded_layers(2), expanded_layers(3), expanded_layers(5)
    ((0,), (0,), (0, 2))
    """
    n_layers = check_int("n_layers", n_layers, 2)
    return tuple(range(0, n_layers - 1, 2))


def check_split(name: str, alpha: int, n_in: int, clauses=None) -> None:
    """Raise a one-line ValueError if split ``name`` cannot expand ``n_in`` inputs by ``alpha``."""
    if name not in SPLIT_NAMES:
        raise ValueError(f"split={name!r}: unknown split; valid names: {', '.join(SPLIT_NAMES)}")
    check_int("alpha", alpha, 2)
    if alpha > n_in:
        raise ValueError(f"alpha={alpha}: must be <= n_in={n_in} (every child needs an input)")
    if name == "structured_2_4":
        check_structured_2_4_alpha(alpha)
    if name == "structured_2_4" and n_in % 4:
        raise ValueError(f"n_in={n_in}: structured_2_4 needs a multiple of 4 inputs")
    if name == "clause" and clauses is None:
        raise ValueError("clauses=None: the clause split needs a clause list")
