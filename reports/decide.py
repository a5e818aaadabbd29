"""``fpe-theory report --decide``: train exactly the trials that the plan from power says decide the open claims.

A fixed-n design. The plan (``reports.compute.decide_plan.plan_claims``, what ``claims --plan`` prints) is
computed once, from the rows the store holds before any planned trial is trained, and written to
``<out>/decide_plan.json`` before the first trial. A rerun that finds that file reuses it instead of planning
again from rows that include the new trials, so the sample sizes never depend on the results they produce
(no peeking) and the ledger's error rates stay those it states. Delete the file to plan afresh.

Every planned claim names its configurations and the trials each must reach (``PlannedClaim.targets``); a
configuration chosen by two claims gets the larger count. They are trained like any sweep (trial t of a config
has its own seed stream, so raising a config's trial count only adds the missing trials; a killed run resumes).
Claims that are undecidable at the budget, or need more configurations rather than more trials, are printed and
not run.

>>> merged_targets([])
{}
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fpe_train.sweeps.eta import duration
from fpe_train.sweeps.executors import make_executor
from fpe_train.sweeps.store import ResultsStore, config_hash
from fpe_train.sweeps.store import check_store as check_header
from fpe_train.sweeps.sweep import pending_trials, run_sweep
from reports import presets
from reports._claims_cli import source_kind

PLAN_FILE = "decide_plan.json"
PLAN_FORMAT = 1


@dataclass(frozen=True)
class Decision:
    """The fixed plan and what it trains: ``sweeps`` hold the chosen configs with their target trial counts."""

    plan_path: Path
    reused: bool  # True: read from an earlier run's plan file (not planned again)
    preset: str
    store: str
    planned_at: str
    rows: int  # finished (config, trial) pairs the plan was made from
    planned: tuple  # PlannedClaim, every claim the plan lists (planned or not)
    sweeps: tuple  # fpe_train.sweeps.sweep.Sweep, configs with trials = their target

    @property
    def eta_seconds(self) -> float:
        """The plan's ETA summed over its planned claims (NaN when the plan had no timed rows)."""
        etas = [p.eta_seconds for p in self.planned if p.status == "planned"]
        return float(sum(etas)) if etas and all(math.isfinite(e) for e in etas) else math.nan


@dataclass(frozen=True)
class Trained:
    """What the run added: trials trained (and failed) now, trials already stored, wall seconds."""

    done: int
    failed: int
    skipped: int
    seconds: float
    configs: int


def check_store(preset, store_path: Path) -> None:
    """One-line ValueError unless ``store_path`` is a results store holding every sweep of ``preset`` (at its
    size) with finished rows: the plan is computed from those rows, and nothing is trained into a store that has
    none (run the plain report first)."""
    where = f"store={str(store_path)!r}"
    first = f"run `fpe-theory report --preset {preset.name} --store {store_path}` first"
    kind = source_kind(str(store_path))
    if kind == "missing":
        raise ValueError(f"{where}: no such results store; --decide plans from stored rows: {first}")
    if kind == "export":
        raise ValueError(f"{where}: this is a results export; --decide trains into a store (SQLite)")
    check_header(store_path)
    wanted = [(c.name, c.size) for c in preset.sweeps]
    with ResultsStore(store_path, create=False, readonly=True) as store:
        known = {(s, z) for s, z, _, _ in store.sweeps()}
        done = {st.sweep: st.done for st in store.status() if (st.sweep, st.size) in set(wanted)}
    lacking = [f"{s} ({z})" for s, z in wanted if (s, z) not in known or not done.get(s)]
    if lacking:
        raise ValueError(
            f"{where}: holds no rows of the preset {preset.name!r}'s sweeps {', '.join(lacking)}; "
            f"--decide plans from stored rows: {first}"
        )


def prepare(preset, out: Path, store_path: Path) -> Decision:
    """Check the store, then read ``out/decide_plan.json`` or plan from the stored rows and write it.

    Bad input (a store without the preset's sweeps, a plan file made for another preset or store, or one that
    cannot be read) is a one-line ValueError raised before anything is written.
    """
    check_store(preset, store_path)
    plan_path = out / PLAN_FILE
    if plan_path.exists():
        head, planned = read_plan(plan_path, preset.name, store_path)
        reused = True
    else:
        head, planned = _plan_now(preset, store_path)
        reused = False
    sweeps = target_sweeps(preset, planned, plan_path)
    if not reused:
        write_plan(plan_path, head, planned)
    return Decision(
        plan_path, reused, preset.name, head["store"], head["planned_at"], head["rows"], tuple(planned), tuple(sweeps)
    )


def _plan_now(preset, store_path: Path) -> tuple[dict, list]:
    from reports.build import load_frame  # keeps pandas, scipy, statsmodels, sympy, tqdm out until used
    from reports.compute.decide_plan import plan_claims  # keeps pandas, scipy, statsmodels out until used
    from reports.compute.ledger import ledger  # keeps pandas, scipy, statsmodels out until used

    frame = load_frame(store_path)
    planned = plan_claims(ledger(frame, preset), preset, frame)
    done = frame[frame["status"] == "done"] if "status" in frame else frame
    head = dict(
        preset=preset.name,
        store=_real(store_path),
        planned_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        rows=int(len(done[["config_hash", "trial"]].drop_duplicates())) if len(done) else 0,
    )
    return head, planned


def _real(path: Path) -> str:
    return os.path.realpath(path)


def write_plan(path: Path, head: dict, planned) -> None:
    """``decide_plan.json``: the plan and what it was made from, written atomically (a temporary file renamed)."""
    from reports.compute.decide_plan import BUDGET  # keeps pandas, scipy, statsmodels out until used

    data = {"format": PLAN_FORMAT, **head, "budget": BUDGET, "claims": [p.as_dict() for p in planned]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def read_plan(path: Path, preset: str, store_path: Path) -> tuple[dict, list]:
    """(header, [PlannedClaim]) of a plan file made for ``preset`` and ``store_path``; one-line ValueError else."""
    from reports.compute.decide_plan import PlannedClaim  # keeps pandas, scipy, statsmodels out until used

    again = f"delete {path} to plan again"
    try:
        data = json.loads(path.read_text())
        if data.get("format") != PLAN_FORMAT:
            raise ValueError(f"format={data.get('format')!r}, not {PLAN_FORMAT}")
        head = {k: data[k] for k in ("preset", "store", "planned_at", "rows")}
        names = {f.name for f in dataclasses.fields(PlannedClaim)}
        planned = [PlannedClaim(**_claim_fields(c, names)) for c in data["claims"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a readable decide plan ({exc}); {again}") from None
    if head["preset"] != preset:
        raise ValueError(f"{path}: planned for preset {head['preset']!r}, not {preset!r}; {again}")
    if head["store"] != _real(store_path):
        raise ValueError(f"{path}: planned for store {head['store']!r}, not {str(store_path)!r}; {again}")
    return head, planned


def _claim_fields(d: dict, names: set) -> dict:
    """A stored claim back to PlannedClaim's fields: lists to tuples, None to inf (n_needed) or NaN."""
    out = {}
    for k, v in d.items():
        if k not in names:
            continue
        if k == "targets":
            v = tuple((str(s), str(h), int(n)) for s, h, n in v)
        elif isinstance(v, list):
            v = tuple(v)
        elif v is None and k in ("n_needed", "effect", "eta_seconds"):
            v = math.inf if k == "n_needed" else math.nan
        out[k] = v
    return out


def merged_targets(planned) -> dict[str, tuple[str, int]]:
    """config hash -> (sweep, trials) over the planned claims; a config chosen by two claims gets the larger."""
    out: dict[str, tuple[str, int]] = {}
    for p in planned:
        if p.status != "planned":
            continue
        for sweep, h, n in p.targets:
            if h not in out or n > out[h][1]:
                out[h] = (out[h][0] if h in out else sweep, n)
    return out


def target_sweeps(preset, planned, plan_path: Path) -> list:
    """The preset's sweeps reduced to the planned configs, each with ``trials`` = its target, in preset order."""
    targets = merged_targets(planned)
    out, found = [], set()
    for s in presets.load_sweeps(preset):
        configs = []
        for c in s.configs:
            h = config_hash(c)
            if h in targets and targets[h][0] == s.name and h not in found:
                found.add(h)
                configs.append(dataclasses.replace(c, trials=targets[h][1]))
        if configs:
            out.append(dataclasses.replace(s, configs=tuple(configs)))
    lost = sorted(set(targets) - found)
    if lost:
        sweep, _ = targets[lost[0]]
        raise ValueError(
            f"{plan_path}: config {lost[0][:12]} of sweep {sweep} is not in the preset {preset.name!r} "
            f"(its sweep files changed since the plan); delete {plan_path} to plan again"
        )
    return out


def train(decision: Decision, store_path: Path, workers: int | None = None, progress: bool = True) -> Trained:
    """Train what the targets ask and the store lacks (one executor for every sweep; resumable)."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    sweeps = list(decision.sweeps)
    configs = sum(len(s.configs) for s in sweeps)
    if not sweeps:
        return Trained(0, 0, 0, 0.0, 0)
    workers = workers or os.cpu_count() or 1
    with ResultsStore(store_path, create=False) as store:
        total = pending_trials(sweeps, store)
        if not total:
            done = [run_sweep(s, store, executor="serial", progress=False) for s in sweeps]
        else:
            ex = make_executor(
                "local" if workers > 1 else "serial", workers=workers if workers > 1 else None, threads=1
            )
            try:
                with tqdm(
                    total=total,
                    unit="trial",
                    desc="decide",
                    file=sys.stderr,
                    position=0,
                    disable=not progress,
                    dynamic_ncols=True,
                ) as overall:
                    done = [run_sweep(s, store, executor=ex, progress=progress, overall=overall) for s in sweeps]
            finally:
                ex.close()
    return Trained(
        sum(r.done for r in done),
        sum(r.failed for r in done),
        sum(r.skipped for r in done),
        time.perf_counter() - t0,
        configs,
    )


def describe(decision: Decision) -> str:
    """The plan as text (``format_plan``) and where it comes from."""
    from reports.compute.decide_plan import format_plan  # keeps pandas, scipy, statsmodels out until used

    if decision.reused:
        origin = (
            f"plan read from {decision.plan_path}: fixed at {decision.planned_at} from {decision.rows} "
            f"stored trials, before the planned ones (delete it to plan again)"
        )
    else:
        origin = f"plan made from {decision.rows} stored trials, written to {decision.plan_path}"
    runs = [p for p in decision.planned if p.status == "planned"]
    skipped = len(decision.planned) - len(runs)
    tail = f"{len(runs)} claims planned" + (f"; {skipped} listed and not run" if skipped else "")
    return f"{format_plan(list(decision.planned))}\n{origin}; {tail}"


def summary_line(decision: Decision, trained: Trained) -> str:
    eta = decision.eta_seconds
    beside = f" (the plan's ETA {duration(eta)})" if math.isfinite(eta) else ""
    failed = f", {trained.failed} failed" if trained.failed else ""
    return (
        f"decide: {trained.configs} configs to their planned trials: trained {trained.done}{failed}, "
        f"{trained.skipped} already stored, in {trained.seconds:.1f} s{beside}"
    )


def as_json(decision: Decision, trained: Trained) -> dict:
    """The decide step for ``report --json``."""
    return dict(
        plan_file=str(decision.plan_path),
        plan_reused=decision.reused,
        planned_at=decision.planned_at,
        planned_from_trials=decision.rows,
        plan=[p.as_dict() for p in decision.planned],
        configs=trained.configs,
        trained=trained.done,
        failed=trained.failed,
        already_stored=trained.skipped,
        seconds=trained.seconds,
        eta_seconds=decision.eta_seconds if math.isfinite(decision.eta_seconds) else None,
    )
