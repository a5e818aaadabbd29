"""The ETA of a plan and the plan as printed (``sweep plan``, ``report --plan``), and the remaining time of a
store's pending trials (``sweep status``).

A sweep's wall time is the largest-first schedule of its batches (``Calibration.batch_seconds`` each) on
``workers`` processes, stretched by workers / cores where there are more workers than cores and by what a
worker loses to another one beside it (``Calibration.neighbour``, measured by the calibration), after the
workers' start (``Calibration.worker_start``: spawn, imports, the compiled kernel; the workers start side by
side): once per ``sweep run`` (its own process pool), once per ``report`` of two or more workers (one pool for
every sweep), never in one process; sweeps run one after another, each training only what no earlier sweep of
the list trained (``plan.unshared``).
``sweep plan`` and ``report --plan`` both go through :func:`plan_report`, with one calibration per process
(``calibrate.calibrate``), so the same work gets the same figure.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import os

from fpe_train.engine.config import TrainConfig
from fpe_train.sweeps.calibrate import UNSTEADY, Calibration, calibrate, fit, resolve_plan_device
from fpe_train.sweeps.plan import BatchCounts, SweepPlan, config_counts, distinct_counts, plan_sweep, unshared
from fpe_train.sweeps.store import config_hash

FLOPS_FORMULA = (
    "6 x P x n_train per model-epoch + 2 x P x (n_train + n_test) evaluation, "
    "P = sum out x (in + 1) at the computed shape (torch: padded, masked weights included; "
    "the CPU kernel: each model's own, an FPE first layer at m r weights up to 2,560)"
)


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of jobs run largest first, each on the first free of ``workers`` processes."""
    free = [0.0] * max(1, min(workers, len(seconds) or 1))
    for s in sorted(seconds, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)


STARTS = ("sweep", "once", "none")  # when workers start: per sweep run, once for the list, never (one process)


def sweep_eta(plan: SweepPlan, cal: Calibration, workers: int, start: bool = False) -> float:
    """Seconds of ``plan`` on ``workers`` processes: the schedule of its batches, stretched by workers / cores
    when the workers outnumber the cores, and by what a worker loses to the one beside it
    (``Calibration.neighbour``) when there is more than one; with ``start``, after the workers' start
    (``Calibration.worker_start``) when there is anything to train."""
    stretch = 1.0
    if cal.source != "store":  # a store's times were taken with the workers it ran
        stretch = max(1.0, workers * cal.threads / max(cal.cores, 1)) * (cal.neighbour if workers > 1 else 1.0)
    starting = cal.worker_start if start and plan.batches else 0.0
    return makespan([cal.batch_seconds(b) for b in plan.batches], workers) * stretch + starting


def default_workers(device: str) -> int:
    """Processes a run uses: one per core on the CPU (the local executor), one driving a GPU."""
    return 1 if device == "cuda" else os.cpu_count() or 1


def plan_dict(plans: list[SweepPlan], cal: Calibration | None, workers: int, to_train=None, starts="sweep") -> dict:
    """The plan as plain JSON-able data (what ``--json`` prints).

    ``to_train``: per sweep, the plan of what it will train when the sweeps run in this order into one store
    (``plan.unshared``); ``eta_seconds`` is of those (a config an earlier sweep trained costs nothing again),
    ``eta_alone_seconds`` of the sweep run alone (what ``sweep plan`` of that one sweep says). ``starts``
    (``STARTS``): when the workers start, ``sweep`` (each ``sweep run`` starts its own pool), ``once`` (one pool
    for the whole list, as ``report``), ``none`` (the trials run in the calling process).
    """
    if starts not in STARTS:
        raise ValueError(f"starts={starts!r}: must be one of {', '.join(STARTS)}")
    rows = []
    started = False
    for p, q in zip(plans, to_train or plans, strict=True):
        row = dict(
            sweep=p.name,
            size=p.size,
            configs=len(p.configs),
            trials=p.trials,
            batches=len(p.batches),
            models=p.models,
            model_epochs=p.model_epochs,
            flops=p.flops,
            max_batch_memory_bytes=p.memory_bytes,
            trials_to_train=q.trials,
        )
        if cal is not None:
            row["eta_seconds"] = sweep_eta(q, cal, workers, starts == "sweep" or (starts == "once" and not started))
            row["eta_alone_seconds"] = sweep_eta(p, cal, workers, starts != "none")
            started = started or bool(q.batches)
        rows.append(row)
    keys = ("configs", "trials", "batches", "models", "model_epochs", "flops")
    total = {k: sum(r[k] for r in rows) for k in keys}
    total["max_batch_memory_bytes"] = max((r["max_batch_memory_bytes"] for r in rows), default=0)
    if cal is not None:
        total["eta_seconds"] = sum(r["eta_seconds"] for r in rows)
        # the same work at the pace of the calibration's slower repeats (``Calibration.spread``): the ETA is timed
        # from the fastest, and a host whose speed moves from minute to minute runs a half hour at a mix of both
        total["eta_slow_seconds"] = total["eta_seconds"] * cal.spread
    return dict(
        sweeps=rows,
        total=total,
        distinct=distinct_counts(plans),
        workers=workers,
        calibration=cal.to_dict() if cal else None,
        assumes=cal.assumes(workers) if cal else None,
        flops_formula=FLOPS_FORMULA,
    )


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def format_plan(data: dict) -> str:
    """The plan as a table, one line per sweep and a total, then what the ETA assumes."""
    cal, workers = data["calibration"], data["workers"]
    eta = f"ETA ({workers} worker{'s' * (workers != 1)})"
    head = (
        f"{'sweep':<20}{'size':<7}{'configs':>8}{'trials':>8}{'batches':>8}{'model-epochs':>14}"
        f"{'TFLOP':>9}{'max batch mem':>15}" + (f"{eta:>18}" if cal else "")
    )
    lines = [head]
    for r in [*data["sweeps"], {**data["total"], "sweep": "total", "size": ""}]:
        mem = _bytes(r["max_batch_memory_bytes"])
        line = (
            f"{r['sweep']:<20}{r['size']:<7}{r['configs']:>8}{r['trials']:>8}{r['batches']:>8}"
            f"{r['model_epochs']:>14,}{r['flops'] / 1e12:>9.3f}{mem:>15}"
        )
        lines.append(line + (f"{duration(r['eta_seconds']):>18}" if cal else ""))
    if cal:
        lines.append(f"calibration: {Calibration.from_dict(cal).describe()}")
        lines.append(f"the ETA assumes: {data['assumes']}")
        spread = cal.get("spread", 1.0)
        if spread >= UNSTEADY:
            slow = duration(data["total"]["eta_slow_seconds"])
            lines.append(f"at the pace of the slower repeats (x{spread:.2f}): {slow} (if the run sees only those)")
        shared = [r["sweep"] for r in data["sweeps"] if r.get("trials_to_train", r["trials"]) < r["trials"]]
        if shared:
            lines.append(
                f"{', '.join(shared)}: only what no earlier sweep trains is timed (alone: "
                + ", ".join(duration(r["eta_alone_seconds"]) for r in data["sweeps"] if r["sweep"] in shared)
                + ")"
            )
    d = data.get("distinct")
    if d and (d["configs"], d["trials"]) != (data["total"]["configs"], data["total"]["trials"]):
        lines.append(
            f"distinct: {d['configs']} configs, {d['trials']} trials (sweeps share configs, which "
            "train once: the total row is an upper bound)"
        )
    lines.append(f"FLOPs: {data['flops_formula']}")
    return "\n".join(lines)


def plan_report(
    sweeps,
    device: str = "cpu",
    workers: int | None = None,
    threads: int = 1,
    calibrate_eta: bool = True,
    starts: str = "sweep",
) -> dict:
    """The plan of loaded sweeps as :func:`plan_dict` data: counts, and an ETA timed here on ``device``."""
    dev = resolve_plan_device(device)
    workers = workers or default_workers(dev)
    plans = [plan_sweep(s, dev, workers) for s in sweeps]
    to_train = [plan_sweep(s, dev, workers) for s in unshared(sweeps)]
    cal = calibrate(dev, threads) if calibrate_eta else None
    return plan_dict(plans, cal, workers, to_train, starts)


# ---------------------------------------------------------------- the remaining time of a store


def _stored_configs(store) -> tuple[dict[str, TrainConfig], dict[tuple[str, str], list[TrainConfig]]]:
    """(hash -> config, (sweep, size) -> its configs with their trial counts) from the store's tables."""
    c = store._conn
    configs = {
        h: TrainConfig.from_dict(json.loads(cfg)) for h, cfg in c.execute("SELECT config_hash, config FROM configs")
    }
    by_sweep: dict[tuple[str, str], list[TrainConfig]] = {}
    query = "SELECT sweep, size, config_hash, trials FROM sweeps ORDER BY sweep, size, position"
    for sweep, size, h, trials in c.execute(query):
        by_sweep.setdefault((sweep, size), []).append(dataclasses.replace(configs[h], trials=int(trials)))
    return configs, by_sweep


def store_calibration(frame, configs: dict[str, TrainConfig]) -> Calibration | None:
    """:class:`Calibration` fitted to a store's own run times (None when no trial is done yet).

    A row's ``seconds`` is its batch's wall time divided by the batch's rows, so the sum over a config's
    done rows is that config's share of the time, for the trials it holds.
    """
    if not len(frame):
        return None
    done = frame[(frame["status"] == "done") & frame["seconds"].notna() & frame["config_hash"].isin(configs)]
    samples = []
    for h, rows in done.groupby("config_hash"):
        counts = BatchCounts((config_counts(configs[h]),), (int(rows["trial"].nunique()),))
        samples.append((counts, float(rows["seconds"].astype(float).sum())))
    if not samples:
        return None
    devices = sorted({str(d) for d in done["device"].dropna()})
    return fit(samples, ",".join(devices) or "unknown", 1, "store")


def remaining(store, sweeps=None) -> dict[tuple[str, str], float | None]:
    """(sweep, size) -> estimated seconds of one worker for its pending trials (None: nothing timed yet).

    Pending: neither done nor failed. The time of a config's pending trials comes from
    :func:`store_calibration`: the speed of the runs stored so far.
    """
    stored, by_sweep = _stored_configs(store)
    if sweeps:
        by_sweep = {(s.name, s.size): list(s.configs) for s in sweeps}
    cal = store_calibration(store.frame(), stored)
    out = {}
    for key, configs in by_sweep.items():
        status = store.trial_status(config_hash(c) for c in configs)
        pending = [(c, sum((config_hash(c), t) not in status for t in range(c.trials))) for c in configs]
        pending = [(c, n) for c, n in pending if n]
        if not pending:
            out[key] = 0.0
        elif cal is None:
            out[key] = None
        else:
            out[key] = sum(cal.batch_seconds(BatchCounts((config_counts(c),), (n,))) for c, n in pending)
    return out
