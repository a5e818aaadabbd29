"""Experiments planned from power: for every claim of the paper that is undecided or hangs on a constant,
the comparison that decides it, the effect it is powered for, the trials per configuration that give 80 %
power, which configurations get them, and the planner's cost (model-epochs; an ETA from the stored run
times when the rows carry them). Plain data: ``fpe-theory claims --plan`` prints it.

Claims whose unit is the configuration (grid means, trends) are not decided by more trials of the same
configurations: the entry says how many configurations 80 % power needs instead. A claim that needs more
than ``BUDGET`` units is "undecidable at this budget", with the number.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from fpe_train.sweeps.eta import duration, store_calibration
from fpe_train.sweeps.plan import BatchCounts, config_counts
from fpe_train.sweeps.store import config_hash
from reports import presets
from reports.compute.verdict_axes import ROBUST

BUDGET = 10_000  # trials per configuration (or configurations) beyond which a claim is not planned


@dataclass(frozen=True)
class PlannedClaim:
    """What would decide one claim, and what it costs."""

    id: str
    claim: str
    direction: str
    robustness: str
    comparison: str
    effect: float  # powered for, in ``unit``
    unit: str
    effect_source: str
    per: str  # what n counts: trials, configs, ...
    n_now: int
    n_needed: float
    status: str  # planned | more configurations | undecidable at this budget | decided
    sweeps: tuple[str, ...] = ()
    configs: int = 0
    trials_per_config: int = 0
    extra_trials: int = 0
    model_epochs: int = 0
    eta_seconds: float = math.nan
    targets: tuple[tuple[str, str, int], ...] = ()  # (sweep, config hash, trials to reach): what a run trains

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _wanted(verdicts) -> list:
    return [
        v
        for v in verdicts
        if v.in_paper and v.kind == "test" and (v.direction == "undecided" or v.robustness not in (ROBUST, "--"))
    ]


def _target(v) -> tuple[float, str, float]:
    """(effect, its source, units needed): at the constant's most demanding plausible value when the verdict
    hangs on it (so the planned run decides it whatever that value), else the entry's own."""
    strict = v.plan.get("strictest")
    if v.robustness not in (ROBUST, "--") and strict:
        needed = math.inf if strict.get("needed") is None else float(strict["needed"])
        return strict["effect"], f"{strict['constant']} {strict['value']}", needed
    needed = v.n_needed if math.isfinite(v.n_needed) else math.inf
    return v.reference, v.reference_source, needed


def _status(v, needed: float) -> str:
    if not math.isfinite(needed) or needed > BUDGET:
        return f"undecidable at this budget (needs more than {BUDGET} {_per(v)})"
    if _per(v) == "configs":
        return f"more configurations: {int(needed)} needed, {v.n} stored (more trials do not decide it)"
    if needed <= v.n:
        return "powered at the stored n (the verdict hangs on the constant, not on trials)"
    return "planned"


def _per(v) -> str:
    return "configs" if v.n_of.startswith("configs") else "trials"


def decision_status(v) -> str:
    """What would decide one undecided or constant-dependent claim, in words (the plan's ``status``)."""
    needed = _target(v)[2]
    status = _status(v, needed)
    return (
        f"needs {int(needed)} {_per(v)} per configuration for 80 % power ({v.n} stored)"
        if status == "planned"
        else status
    )


def plan_claims(verdicts, preset, frame=None) -> list[PlannedClaim]:
    """One :class:`PlannedClaim` per claim of the paper that is undecided or not robust (see module docstring)."""
    configs_of = _preset_configs(preset)
    cal = _calibration(frame, configs_of)
    out = []
    for v in _wanted(verdicts):
        sweeps = tuple(v.plan.get("sweeps", ()))
        effect, source, needed = _target(v)
        status = _status(v, needed)
        base = dict(
            id=v.id,
            claim=v.claim,
            direction=v.direction,
            robustness=v.robustness,
            comparison=v.evidence,
            effect=effect,
            unit=v.unit,
            effect_source=source,
            per=_per(v),
            n_now=v.n,
            n_needed=needed,
            status=status,
            sweeps=sweeps,
        )
        if status != "planned":
            out.append(PlannedClaim(**base))
            continue
        need = int(needed)
        chosen = [c for s in sweeps for c in configs_of.get(s, []) if _kept(c, v.plan.get("only", {}))]
        chosen = list({id(c): c for c in chosen}.values())
        extra = [(c, max(0, need - _stored_trials(frame, c))) for c in chosen]
        epochs, eta = _cost(extra, cal)
        out.append(
            PlannedClaim(
                **base,
                configs=len(chosen),
                trials_per_config=need,
                extra_trials=sum(n for _, n in extra),
                model_epochs=epochs,
                eta_seconds=eta,
                targets=_targets(sweeps, configs_of, v.plan.get("only", {}), need),
            )
        )
    return out


def _targets(sweeps, configs_of, only: dict, need: int) -> tuple[tuple[str, str, int], ...]:
    """(sweep, config hash, ``need``) of each chosen config, once per hash (the first sweep that holds it)."""
    out = {}
    for s in sweeps:
        for c in configs_of.get(s, []):
            if _kept(c, only):
                out.setdefault(config_hash(c), (s, config_hash(c), need))
    return tuple(out.values())


def _kept(config, only: dict) -> bool:
    """A config matches ``only`` = {field: value or [values]} (the plan's restriction, e.g. the smallest width)."""
    for name, want in only.items():
        values = want if isinstance(want, list) else [want]
        if getattr(config, name, None) not in values:
            return False
    return True


def _preset_configs(preset) -> dict[str, list]:
    try:
        return {s.name: list(s.configs) for s in presets.load_sweeps(preset)}
    except ValueError:
        return {}


def _stored_trials(frame, config) -> int:
    if frame is None or not len(frame):
        return 0
    rows = frame[frame["config_hash"] == config_hash(config)]
    return int(rows["trial"].nunique())


def _calibration(frame, configs_of):
    """The planner's calibration fitted to the rows' own run times (None without timed rows)."""
    if frame is None or "seconds" not in frame or "status" not in frame:
        return None

    configs = {config_hash(c): c for cs in configs_of.values() for c in cs}
    try:
        return store_calibration(frame, configs)
    except (ValueError, KeyError):
        return None


def _cost(extra, cal) -> tuple[int, float]:
    """(model-epochs, seconds on one worker) of ``extra`` = [(config, added trials)]."""
    epochs, seconds = 0, 0.0
    for c, n in extra:
        if n <= 0:
            continue
        counts = config_counts(dataclasses.replace(c, trials=n))
        epochs += counts.model_epochs
        if cal is not None:
            seconds += cal.batch_seconds(BatchCounts((counts,), (n,)))
    return epochs, (seconds if cal is not None else math.nan)


def format_plan(planned: list[PlannedClaim]) -> str:
    """Plain text: one block per claim."""
    if not planned:
        return "Every claim of the paper is decided and robust: nothing to plan."
    lines = []
    for p in planned:
        lines.append(f"{p.id:<4} {p.direction.upper()} ({p.robustness}): {p.claim}")
        effect = f"{p.effect:.3g} {p.unit}" if math.isfinite(p.effect) else "--"
        lines.append(f"     decided by: {p.comparison}; powered for {effect} ({p.effect_source})")
        lines.append(f"     n={p.n_now} {p.per} now, {_n(p.n_needed)} for 80 % power: {p.status}")
        if p.status == "planned":
            eta = duration(p.eta_seconds) if math.isfinite(p.eta_seconds) else "no timed rows"
            lines.append(
                f"     run: {p.trials_per_config} trials per config in {p.configs} configs of "
                f"{', '.join(p.sweeps)}; +{p.extra_trials} trials, {p.model_epochs} model-epochs, ETA {eta}"
            )
    return "\n".join(lines)


def _n(x: float) -> str:
    return str(int(x)) if math.isfinite(x) else "more than 10000"
