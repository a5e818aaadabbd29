"""What was run: trials per configuration, epochs, devices and versions of the stored rows, and the size
a preset's sweeps plan (configs shared by sweeps counted once)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fpe_train.sweeps.store import config_hash
from reports import presets
from reports.compute.frame import usable


def planned_trials(preset_name: str = "paper") -> tuple[int, int]:
    """(distinct configurations, (config, trial) pairs) a preset's sweeps plan, configs shared by sweeps once."""
    trials: dict[str, int] = {}
    for sweep in presets.load_sweeps(presets.get_preset(preset_name)):
        for c in sweep.configs:
            h = config_hash(c)
            trials[h] = max(trials.get(h, 0), int(c.trials))
    return len(trials), sum(trials.values())


@dataclass(frozen=True)
class RunSummary:
    """Distinct values over the finished rows: trials per configuration, warm-up and fine-tune epochs,
    devices, toolkit versions; the numbers of configurations and of (config, trial) pairs."""

    trials: tuple[int, ...]
    warmup: tuple[int, ...]
    epochs: tuple[int, ...]
    devices: tuple[str, ...]
    versions: tuple[str, ...]
    configs: int
    pairs: int


def _distinct(values) -> tuple[int, ...]:
    return tuple(sorted({int(x) for x in values if x is not None and not pd.isna(x)}))


def run_summary(frame: pd.DataFrame) -> RunSummary:
    """Trials per configuration, warm-up / fine-tune epochs, devices, toolkit versions of the finished rows."""
    ok = usable(frame)
    per_config = ok.groupby("config_hash")["trial"].nunique()
    return RunSummary(
        trials=_distinct(per_config),
        warmup=_distinct(ok["warmup_epochs"]),
        epochs=_distinct(ok["epochs"]),
        devices=tuple(sorted({str(d) for d in ok.get("device", pd.Series(dtype=object)).dropna()})),
        versions=tuple(sorted({str(v) for v in ok.get("version", pd.Series(dtype=object)).dropna()})),
        configs=int(ok["config_hash"].nunique()),
        pairs=int(len(ok.drop_duplicates(["config_hash", "trial"]))),
    )
