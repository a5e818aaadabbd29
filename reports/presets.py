"""Report presets: which sweeps (experiments/*.toml) a report runs, at which size, and the theory grid.

``quick`` must finish end to end (theory, Monte Carlo, training, PDF) in < 5 minutes on
2 cores: it runs the sweeps' own ``quick`` sizes of case_study, fig3a (neuron scan: Fig. 3a,
4a, 4c), fig3c (clauses x neurons heatmap; its 8-neuron row also gives Fig. 3b/4b by
fallback), table_a1_a2, fig5_vision restricted to digits with alpha in {2, 4}, and the
digits-only quick sizes of fig6ad_alpha, fig6b_split_timing, table_a3_depth, table_a5_2_4
and rewiring. ``keep`` filters configurations and ``overrides`` changes fields (the report's
own reductions, applied with ``dataclasses.replace``, so the store keys them by their own
config hash); fig3b and controls are left to ``paper`` (their quick sizes would add a minute).
``paper`` runs the paper's sizes of every shipped sweep, unreduced.

>>> get_preset("quick").name
'quick'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from fpe_train.sweeps.sweep import find_sweep, load_sweep

PAPER_SWEEPS = (
    "case_study",
    "fig3a",
    "fig3b",
    "fig3c",
    "table_a1_a2",
    "fig5_vision",
    "fig6ad_alpha",
    "fig6b_split_timing",
    "table_a3_depth",
    "table_a5_2_4",
    "rewiring",
    "controls",
)


@dataclass(frozen=True)
class SweepChoice:
    """One sweep file at one size, optionally filtered (keep: field -> allowed values) and overridden."""

    name: str
    size: str = "quick"
    keep: tuple[tuple[str, tuple], ...] = ()
    overrides: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Preset:
    """What a report runs and computes."""

    name: str
    sweeps: tuple[SweepChoice, ...]
    mc_trials: int = 2000  # Monte Carlo trials per (problem, family, r), simulated once into the store
    seed: int = 0  # Monte Carlo seed
    grid_m: tuple[int, ...] = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
    grid_k: tuple[int, ...] = (2, 3, 4)
    grid_alpha: tuple[int, ...] = (2, 4)
    mc_cases: tuple[tuple[int, int, int, str, int], ...] = field(
        default=(
            (32, 4, 2, "overlap", 8),
            (32, 4, 2, "random", 8),
            (32, 4, 2, "clause", 8),
            (64, 4, 4, "random", 16),
            (24, 2, 2, "random", 4),
            (16, 2, 2, "overlap", 2),
            (32, 2, 2, "structured_2_4", 4),
        )
    )
    r_min_problems: tuple[tuple[int, int, int], ...] = tuple((4 * c, 4, 2) for c in (2, 4, 8, 16, 32))
    root: str | None = None  # folder of the sweep files (default: the sweeps shipped with fpe_train)
    # wall seconds of the report after its training (Monte Carlo, statistics, figures, PDF), measured on the
    # 2-core machine of docs/performance.md (the slower of its hosts); ``report --plan`` adds it to the ETA (None:
    # unknown)
    report_seconds: float | None = None


PRESETS = {
    "quick": Preset(
        name="quick",
        sweeps=(
            SweepChoice("case_study"),
            SweepChoice("fig3a"),
            SweepChoice("fig3c"),
            SweepChoice("table_a1_a2"),
            SweepChoice("fig5_vision", keep=(("task", ("digits",)), ("alpha", (2, 4)))),
            SweepChoice("fig6ad_alpha"),
            SweepChoice("fig6b_split_timing"),
            SweepChoice("table_a3_depth"),
            SweepChoice("table_a5_2_4"),
            SweepChoice("rewiring"),
        ),
    ),
    "paper": Preset(
        name="paper",
        sweeps=tuple(SweepChoice(n, size="paper") for n in PAPER_SWEEPS),
        mc_trials=20000,
        report_seconds=36.0,
    ),
}


def get_preset(name: str) -> Preset:
    """The named preset; unknown name -> one-line ValueError."""
    if name not in PRESETS:
        raise ValueError(f"preset={name!r}: must be one of {', '.join(PRESETS)}")
    return PRESETS[name]


def _kept(config, keep) -> bool:
    return all(getattr(config, f) in allowed for f, allowed in keep)


def load_sweeps(preset: Preset) -> list:
    """The preset's sweeps, loaded with ``fpe_train.sweeps.sweep.load_sweep`` and reduced as the preset says."""
    out = []
    for choice in preset.sweeps:
        path = Path(preset.root) / f"{choice.name}.toml" if preset.root else Path(find_sweep(choice.name))
        if not path.exists():
            raise ValueError(f"preset={preset.name!r}: sweep file {path} does not exist")
        sweep = load_sweep(path, size=choice.size)
        configs = tuple(
            dataclasses.replace(c, **dict(choice.overrides)) for c in sweep.configs if _kept(c, choice.keep)
        )
        out.append(dataclasses.replace(sweep, configs=configs))
    return out
