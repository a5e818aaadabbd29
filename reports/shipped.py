"""A report from a shipped export (``fpe_train.sweeps.export``): stored rows and Monte Carlo, no store, no training.

``open_export(path)`` reads the file (one-line ``ValueError`` for another format, format version or store
schema) and returns a :class:`Shipped`: the long-format frame a store would give, the Monte Carlo results
shipped with it (meta key ``monte_carlo``), and notes for the report: where the rows come from, and which
sweeps the export holds only in part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from fpe_train.sweeps.export import read_export, split_names
from reports.montecarlo import StoredMonteCarlo


class ShippedMonteCarlo(StoredMonteCarlo):
    """``StoredMonteCarlo`` answered from records shipped in an export instead of a store's table."""

    def __init__(self, records: dict) -> None:  # noqa: D107 - no store to open
        self.records = dict(records)
        self.missing = 0


@dataclass(frozen=True)
class Shipped:
    """What an export holds: ``frame`` (as ``ResultsStore.frame()``), ``meta`` (its ``# key=value`` lines)."""

    path: str
    frame: object
    meta: dict = field(default_factory=dict)

    @property
    def incomplete(self) -> list[str]:
        return split_names(self.meta.get("sweeps_incomplete"))

    def monte_carlo(self) -> ShippedMonteCarlo:
        return ShippedMonteCarlo(json.loads(self.meta.get("monte_carlo") or "{}"))

    def notes(self) -> list[str]:
        m = self.meta
        notes = [
            f"Rows read from the export {self.path} (fpe-theory {m.get('toolkit_version', '?')}, commit "
            f"{m.get('git_commit', '?')[:12]}, device {m.get('device', '?')}, written {m.get('date', '?')}, "
            f"wall time {m.get('wall_seconds', '?')} s); nothing was trained for this report."
        ]
        if self.incomplete:
            notes.append(
                "Incomplete sweeps (not every trial finished; their figures and tests use the finished trials "
                f"only): {', '.join(self.incomplete)}."
            )
        return notes


def open_export(path) -> Shipped:
    """Read an export for a report; see the module docstring."""
    frame, meta = read_export(path)
    return Shipped(str(path), frame, meta)
