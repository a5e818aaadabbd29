"""The claims ledger: the paper's claims (theory from exact numbers, experiments from stored rows) and the
checks beyond the paper, each decided on four axes (``reports.compute.verdicts``).

>>> from reports.presets import get_preset
>>> [v.id for v in ledger(None, get_preset("quick"))][:3]
['T1', 'T2', 'T3']
"""

from __future__ import annotations

import pandas as pd

from reports.compute.frame import paired, usable
from reports.compute.verdict_claims import pending_claims
from reports.compute.verdict_theory import theory_verdicts
from reports.compute.verdicts import DEFAULTS, Constants, Verdict, decide

EMPTY = (
    "config_hash",
    "trial",
    "variant",
    "task",
    "sweep",
    "clauses",
    "k",
    "r",
    "alpha",
    "depth",
    "rewire_every",
    "warmup_epochs",
    "test_accuracy",
    "test_accuracy_dense",
)


def pairs_of(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The paired frame (``analysis.paired``), or an empty one with the columns the builders read."""
    if frame is None or usable(frame).empty:
        return pd.DataFrame(columns=list(EMPTY))
    return paired(frame)


def ledger(frame: pd.DataFrame | None, preset, constants: Constants = DEFAULTS) -> list[Verdict]:
    """Theory entries, the paper's experimental claims, then the checks beyond the paper."""
    return decide(pending_claims(pairs_of(frame), frame), theory_verdicts(preset), constants)
