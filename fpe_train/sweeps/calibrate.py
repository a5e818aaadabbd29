"""How fast this machine trains: a cost model of a batch, timed on a fixed suite of small runs.

The model, path by path (``BatchCounts.path``: the compiled CPU kernel of one-hidden-layer nets, the compiled
epoch of deeper nets, torch), each batch on its path's terms (``PATH_TERMS``; ``BatchCounts.terms`` counts
them)::

    seconds = sum over the path's terms of  coefficient x term

- ``kernel``: per config, per trial (its data and models set up), per Boolean input generated (test sets of
  10,000 samples per trial), per sample evaluated (the accuracies and measurements at the end), per
  model-step (every model steps on its own), per model-sample (what a step costs per row of its minibatch
  whatever the width: the loss, the row passes), the same two for a multiclass model (softmax
  cross-entropy) and its hidden units times rows (its passes over the hidden layer, timed at alpha = 8 as
  fig5's widest splits), and three FLOP rates: an FPE first layer in the hand-written masked products, the rest
  with one logit (BCE), each timed at the paper grid's widest inputs (m = 128, 10,000 samples), so that the
  minibatches' gathers are in the rate, and with classes (softmax through BLAS), timed at the vision
  sweeps' minibatch of 100;
- ``deep``: per config, per trial, per sample evaluated, per model-step and model-sample, the same two per
  hidden layer beyond the first (LayerNorm), a FLOP rate, timed on digits at Table A3's minibatch of 100
  (the small layers of those nets run far below a GEMM's rate: a Boolean run at width 64 gave an ETA of a
  third of Table A3's time);
- ``torch``: per config, per model, per batch step (launches), per model-step and model-sample, per
  model-step of a model whose masks change (DropConnect redraws them every step), per rewiring event, per
  deeper layer, a FLOP rate, timed at the shape of the paper's torch-path Boolean runs (m = 32, r = 8,
  DropConnect, minibatch 500).

Each term's run sits where the paper's sweeps do: per-step costs timed at a minibatch of 8 were charged to
minibatches of 100 and 500, and the ETA of the paper preset came out at two thirds of its wall time.

One cost model for all paths (the calibration before this one) put fig3c's ETA 1.4x over its measured time
and Table A3's at a quarter of it, because a FLOP on the kernel and a step on torch cost different things.

What makes it survive a busy machine:

- **the suite is fixed** (``SUITE``: 29 short runs, each dominated by one term of its path), so the fit never
  depends on which sweeps are planned: the same batch gets the same seconds from ``sweep plan`` and from
  ``report --plan`` (timing a plan's own batches made the fit, and the ETA, depend on the plan);
- **repeated short timings, robust statistic**: every run of the suite is timed ``repeats`` times,
  interleaved, in CPU seconds of this process (``time.process_time``; wall time on CUDA or with more than
  one thread), and the smallest is kept: other jobs on the machine add wall time, not CPU time; how far the
  repeats of a run lay apart (``repeat_spread``) is kept too, and the plan says so where the machine's own
  speed was changing (a host whose cache other tenants share: a median 1.5x between repeats);
- **rates the hardware can reach**: a float32 GEMM is timed first (:func:`peak_flop_rate`, the best of a
  few 1024^3 products, at the calibration's thread count; on CUDA the GPU's); the fitted FLOP rate is
  ``1 / (1 / peak + x)`` with x >= 0, so it is never above the peak nor infinite;
- **a fit that cannot go degenerate**: non-negative least squares of the *relative* errors (each run
  counts alike, whatever its length), on a suite whose design matrix has full rank.

The calibration runs whatever ``fpe_train.engine.run.run_batch`` runs (the engine's own path, on
``device``), and records what its ETA assumes: the cores here, the threads per worker, the load average
seen while it ran (:meth:`Calibration.assumes`).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass

from fpe_train.engine.config import TrainConfig
from fpe_train.sweeps.executors import _init_worker, cap_threads
from fpe_train.sweeps.plan import TERM_NAMES, BatchCounts, config_counts

PATH_TERMS = {  # the terms (``BatchCounts.terms``) each path's seconds are fitted on
    "kernel": (
        "configs",
        "trials",
        "data",
        "evals",
        "model_steps",
        "model_samples",
        "multi_steps",
        "multi_samples",
        "multi_units",
        "flops",
        "flops_masked",
        "flops_multi",
    ),
    "deep": ("configs", "trials", "evals", "model_steps", "model_samples", "layer_steps", "layer_samples", "flops"),
    "torch": (
        "configs",
        "models",
        "steps",
        "model_steps",
        "model_samples",
        "dynamic_steps",
        "rewires",
        "layer_steps",
        "flops",
    ),
}
FLOP_TERMS = ("flops", "flops_masked", "flops_multi")  # seconds per FLOP: at least 1 / peak
FIXED_TERMS = ("configs", "trials", "models", "data", "evals")  # paid once per batch, whatever its epochs
EPOCH_TERMS = tuple(n for n in TERM_NAMES if n not in FIXED_TERMS)  # grow with the epochs
ROUNDS = 3  # passes over the per-epoch pairs (``_one_by_one``)
LONGER = 3  # the suite's per-epoch runs are timed again at this many times their epochs
FALLBACK = {"kernel": ("deep", "torch"), "deep": ("torch", "kernel"), "torch": ("deep", "kernel")}
SPLITS3 = ("random", "clause", "overlap")
DROP = ("dropconnect",)
REWIRE = dict(rewire_every=10**6)  # masks may change: the torch path (never at these lengths)
_TINY = dict(clauses=2, k=2, r=2, n_test=32)
_DIGITS = dict(task="digits", n_train=1000, n_test=100)
_NARROW = dict(clauses=2, k=2, r=1, n_test=32, batch_size=500)  # m = 4, one hidden unit: the cost per sample
_WIDE = dict(clauses=32, k=4, n_train=10000, n_test=32)  # m = 128 and n_train as the paper's Boolean grid
SUITE = (  # (path, the term it isolates, TrainConfig fields): each run dominated by one term of its path
    ("kernel", "configs", dict(_TINY, trials=1, warmup_epochs=1, epochs=1, n_train=64, batch_size=64)),
    ("kernel", "trials", dict(_TINY, trials=32, warmup_epochs=1, epochs=1, n_train=64, batch_size=64)),
    ("kernel", "data", dict(_TINY, clauses=32, k=4, trials=4, warmup_epochs=1, epochs=1, n_train=256, n_test=8000)),
    ("kernel", "evals", dict(_TINY, splits=SPLITS3, trials=8, warmup_epochs=1, epochs=1, n_train=256, n_test=30000)),
    ("kernel", "model_steps", dict(_TINY, trials=8, warmup_epochs=8, epochs=8, n_train=1600, batch_size=8)),
    ("kernel", "model_samples", dict(_NARROW, trials=4, warmup_epochs=2, epochs=2, n_train=20000)),
    ("kernel", "flops", dict(_WIDE, r=32, trials=4, warmup_epochs=2, epochs=2)),
    ("kernel", "flops_masked", dict(_WIDE, r=16, trials=4, warmup_epochs=1, epochs=6)),
    ("kernel", "multi_steps", dict(_DIGITS, r=4, trials=8, warmup_epochs=2, epochs=2, batch_size=4)),
    ("kernel", "multi_samples", dict(_DIGITS, r=1, trials=8, warmup_epochs=4, epochs=4, batch_size=100)),
    ("kernel", "flops_multi", dict(_DIGITS, r=64, trials=4, warmup_epochs=4, epochs=4, batch_size=100)),
    # many hidden units with classes, eight inputs each (alpha = 8: 256 units), as fig5's widest splits
    ("kernel", "multi_units", dict(_DIGITS, r=32, alpha=8, trials=2, warmup_epochs=1, epochs=4, batch_size=100)),
    ("deep", "configs", dict(_TINY, depth=2, trials=1, warmup_epochs=1, epochs=1, n_train=64, batch_size=64)),
    ("deep", "trials", dict(_TINY, depth=2, trials=24, warmup_epochs=1, epochs=1, n_train=64, batch_size=64)),
    ("deep", "evals", dict(_TINY, depth=2, trials=4, warmup_epochs=1, epochs=1, n_train=256, n_test=8000)),
    ("deep", "model_steps", dict(_TINY, depth=2, trials=6, warmup_epochs=1, epochs=1, n_train=800, batch_size=8)),
    ("deep", "model_samples", dict(_DIGITS, r=1, depth=2, trials=8, warmup_epochs=4, epochs=4, batch_size=100)),
    ("deep", "layer_steps", dict(_TINY, depth=8, trials=6, warmup_epochs=1, epochs=1, n_train=800, batch_size=8)),
    ("deep", "layer_samples", dict(_DIGITS, r=1, depth=8, trials=4, warmup_epochs=3, epochs=3, batch_size=100)),
    ("deep", "flops", dict(_DIGITS, r=16, depth=4, trials=4, warmup_epochs=2, epochs=2, batch_size=100)),
    ("torch", "configs", dict(_TINY, splits=DROP, trials=1, warmup_epochs=1, epochs=1, n_train=64, batch_size=64)),
    ("torch", "models", dict(_TINY, splits=DROP, trials=32, warmup_epochs=1, epochs=1, n_train=64, batch_size=64)),
    ("torch", "steps", dict(_TINY, **REWIRE, trials=1, warmup_epochs=3, epochs=3, n_train=800, batch_size=8)),
    (
        "torch",
        "model_steps",
        dict(_TINY, **REWIRE, splits=SPLITS3, trials=8, warmup_epochs=2, epochs=2, n_train=400, batch_size=8),
    ),
    (
        "torch",
        "model_samples",
        dict(_NARROW, **REWIRE, splits=SPLITS3, trials=4, warmup_epochs=1, epochs=1, n_train=4000),
    ),
    (
        "torch",
        "dynamic_steps",
        dict(_TINY, splits=DROP, trials=4, warmup_epochs=2, epochs=2, n_train=400, batch_size=8),
    ),
    ("torch", "rewires", dict(_TINY, rewire_every=1, trials=2, warmup_epochs=1, epochs=4, n_train=256, batch_size=8)),
    (
        "torch",
        "layer_steps",
        dict(_TINY, **REWIRE, depth=6, trials=2, warmup_epochs=2, epochs=2, n_train=400, batch_size=8),
    ),
    (  # the shape of the paper's torch-path Boolean runs (controls: m = 32, r = 8, minibatch 500)
        "torch",
        "flops",
        dict(clauses=8, k=4, r=8, splits=("random", *DROP), trials=4, warmup_epochs=2, epochs=2, n_train=10000),
    ),
)
REPEATS = 3
UNSTEADY = 1.25  # a median repeat spread from which the plan says the machine's speed was changing


def repeat_spread(timings: list[list[float]]) -> float:
    """The median over runs of a run's slowest repeat over its fastest (1.0: every repeat alike; runs with one
    repeat or a zero time left out). On a steady machine a few percent; on a host whose speed moves from minute
    to minute (other tenants of its cache) 1.5x and more, and no statistic of a minute of timings then pins a
    half-hour run."""
    ratios = [max(t) / min(t) for t in timings if len(t) > 1 and min(t) > 0]
    return statistics.median(ratios) if ratios else 1.0


GEMM_N = 1024  # the peak's product: (n x n) @ (n x n), float32


@dataclass(frozen=True)
class Calibration:
    """The fitted cost model (module docstring) and what it assumes.

    ``coefficients[path][term]``: seconds per unit of each term of ``PATH_TERMS[path]`` (per FLOP for the
    FLOP terms). ``peak_flop_rate``: float32 GEMM FLOP/s of one thread here (0: not measured); no FLOP rate
    exceeds ``peak_flop_rate x threads`` when a peak was measured. ``load``: the 1-minute load average at the
    start and the end of the calibration; ``cores``: the CPUs here; ``clock``: ``cpu`` (CPU seconds of the
    process) or ``wall``.
    """

    device: str
    threads: int
    coefficients: dict
    seconds: float = 0.0  # wall time the calibration took
    source: str = "calibration"  # or "store" (fitted to a store's own run times)
    peak_flop_rate: float = 0.0
    cores: int = 1
    load: tuple[float, float] = (0.0, 0.0)
    clock: str = "cpu"
    repeats: int = REPEATS
    neighbour: float = 1.0  # CPU seconds of a run beside another worker's over alone (``beside_a_neighbour``)
    worker_start: float = 0.0  # wall seconds from a worker's spawn to its first run (``NeighbourRun``); 0: not timed
    spread: float = 1.0  # a run's slowest repeat over its fastest, the median over the suite (``repeat_spread``)

    def _coef(self, path: str) -> dict:
        """The path's coefficients; a path this calibration never timed borrows the nearest one's."""
        for p in (path, *FALLBACK[path]):
            if self.coefficients.get(p):
                return self.coefficients[p]
        return {}

    def batch_seconds(self, batch: BatchCounts) -> float:
        coef, terms = self._coef(batch.path), batch.terms()
        return sum(c * terms[name] for name, c in coef.items())

    def flop_rate(self, path: str = "kernel", term: str = "flops") -> float:
        """FLOP/s of a path's FLOP term (inf: no FLOP-bound part seen)."""
        c = self._coef(path).get(term, 0.0)
        return 1.0 / c if c > 0 else math.inf

    def assumes(self, workers: int) -> str:
        """What an ETA from this calibration takes for granted, in one sentence."""
        share = "one core to itself" if workers <= self.cores else f"{self.cores}/{workers} of a core"
        clock = "CPU seconds" if self.clock == "cpu" else "wall seconds"
        who = "the worker gets" if workers == 1 else f"each of {workers} workers gets"
        return (
            f"{who} {share} ({self.cores} cores here), "
            f"{self.threads} thread{'s' * (self.threads != 1)} each"
            + (f", each {self.neighbour:.2f}x slower beside another (measured)" if workers > 1 else "")
            + (f", {self.worker_start:.1f} s to start a worker (measured)" if self.worker_start else "")
            + f"; rates in {clock}, best of {self.repeats}; "
            f"load average {self.load[0]:.1f} -> {self.load[1]:.1f} while timing"
            + (
                f"; a run's repeats differed by {self.spread:.2f}x (median over the suite): this machine's speed "
                "was changing while it was timed, and the ETA can be off by as much"
                if self.spread >= UNSTEADY
                else ""
            )
        )

    def describe(self) -> str:
        """One line: the FLOP rate of the first path timed beside the GEMM peak, then every path's terms."""
        first = next((p for p in PATH_TERMS if self.coefficients.get(p)), "kernel")
        rate = f"{self.flop_rate(first) / 1e9:.1f} GFLOP/s"
        if self.peak_flop_rate:
            rate += f" (GEMM peak {self.peak_flop_rate * self.threads / 1e9:.1f})"
        paths = "; ".join(f"{p}: {_describe_path(c)}" for p, c in self.coefficients.items() if c)
        return (
            f"{self.device}, {self.threads} thread{'s' * (self.threads != 1)}: {rate} on the {first} path; "
            f"{paths} ({self.source}, {self.seconds:.1f} s)"
        )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["load"] = list(self.load)
        d["flop_rates"] = {  # None: no FLOP-bound part seen
            p: {t: (None if math.isinf(r) else r) for t in FLOP_TERMS if t in c for r in [self.flop_rate(p, t)]}
            for p, c in self.coefficients.items()
        }
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["load"] = tuple(kw.get("load", (0.0, 0.0)))
        return cls(**kw)


def _describe_path(coef: dict) -> str:
    parts = []
    for name, c in coef.items():
        if name in FLOP_TERMS:
            what = {"flops": "", "flops_masked": " (masked)", "flops_multi": " (classes)"}[name]
            parts.append(f"{'inf' if c <= 0 else f'{1 / c / 1e9:.1f}'} GFLOP/s{what}")
        elif c:
            parts.append(f"{c * UNIT[name][0]:.3g} {UNIT[name][1]}")
    return ", ".join(parts)


UNIT = {  # how describe() prints a term's coefficient: (factor, unit)
    "model_samples": (1e9, "ns per model-sample"),
    "multi_samples": (1e9, "ns per model-sample with classes"),
    "multi_units": (1e9, "ns per hidden unit and sample with classes"),
    "layer_samples": (1e9, "ns per model-sample and deeper layer"),
    "configs": (1.0, "s per config"),
    "trials": (1e3, "ms per trial"),
    "models": (1e3, "ms per model"),
    "steps": (1e6, "us per step"),
    "model_steps": (1e6, "us per model-step"),
    "layer_steps": (1e6, "us per model-step and deeper layer"),
    "dynamic_steps": (1e6, "us per model-step of changing masks"),
    "rewires": (1e3, "ms per rewiring"),
    "multi_steps": (1e6, "us per model-step with classes"),
    "data": (1e9, "ns per generated input"),
    "evals": (1e6, "us per evaluated sample"),
}


def fit(
    samples: list[tuple[BatchCounts, float]],
    device: str,
    threads: int,
    source: str,
    peak: float = 0.0,
    longer: list[tuple[BatchCounts, float, BatchCounts, float, str]] = (),
) -> Calibration:
    """Non-negative least squares of the relative errors of ``samples`` = [(batch, seconds)], path by path
    (each batch on the terms of its path, ``PATH_TERMS``).

    ``longer`` = [(batch, seconds, the same batch at more epochs, its seconds, the term it isolates)]: the
    per-epoch terms (``EPOCH_TERMS``) are then taken from the differences of each pair first, where the fixed
    terms cancel, one term per pair in order (:func:`_one_by_one`), and the fixed terms fitted to what the
    samples leave (a short run cannot tell a fixed cost from a per-epoch one, and the paper's runs are long:
    hundreds of epochs). ``peak`` (FLOP/s, 0: none): each FLOP term is at least
    flops / peak, so no rate exceeds it.
    """
    if not samples:
        raise ValueError("samples=[]: nothing timed to fit an ETA to")
    by_path: dict[str, list[tuple[BatchCounts, float]]] = {}
    for batch, seconds in samples:
        by_path.setdefault(batch.path, []).append((batch, seconds))
    coefficients = {}
    for p in (p for p in PATH_TERMS if p in by_path):
        pairs = [x for x in longer if x[0].path == p]
        coefficients[p] = _fit_path(PATH_TERMS[p], by_path[p], peak, pairs)
    return Calibration(
        device, threads, coefficients, source=source, peak_flop_rate=peak / max(threads, 1) if peak else 0.0
    )


def _fit_path(names, samples, peak: float, pairs=()) -> dict[str, float]:
    """One path's coefficients: all at once from ``samples``, or, with ``pairs``, per-epoch terms first."""
    import numpy as np

    if not pairs:
        return _nnls(names, [b.terms() for b, _ in samples], [s for _, s in samples], peak)
    per_epoch = [n for n in names if n in EPOCH_TERMS]
    fixed = [n for n in names if n not in EPOCH_TERMS]
    epoch_coef = _one_by_one(per_epoch, pairs, peak)
    rest = [s - sum(epoch_coef[n] * b.terms()[n] for n in per_epoch) for b, s in samples]
    fixed_coef = _nnls(fixed, [b.terms() for b, _ in samples], np.maximum(rest, 0.0), 0.0) if fixed else {}
    return {n: (epoch_coef | fixed_coef)[n] for n in names}


def _one_by_one(names, pairs, peak: float, rounds: int = ROUNDS) -> dict[str, float]:
    """Per-epoch coefficients, one per pair of runs in the suite's order: each pair's own term is what its
    extra epochs cost beyond the terms already known (the ones not known yet at their floor: 1 / peak for
    FLOPs, else 0). A least-squares fit of all of them at once traded one term against another from one
    calibration to the next (the costs are not exactly linear in the terms), and moved the ETA with them; one
    term per run measures each where its run is, the same way every time. ``rounds`` passes: each later pass
    takes the other terms at the previous pass's values, so a term timed after a run it also shares in (the
    per-sample cost of a per-step run's eight rows) is no longer charged to that run's own term."""
    inv_peak = 1.0 / peak if peak > 0 else 0.0
    coef: dict[str, float] = {}
    for _ in range(rounds):
        for short, s_short, long_, s_long, term in pairs:
            if term not in names:
                continue
            d = {n: long_.terms()[n] - short.terms()[n] for n in names}
            known = sum((coef[n] if n in coef else inv_peak * (n in FLOP_TERMS)) * d[n] for n in names if n != term)
            own = max(s_long - s_short - known, 0.0) / d[term] if d[term] > 0 else 0.0
            coef[term] = max(own, inv_peak) if term in FLOP_TERMS else own
    return {n: coef.get(n, inv_peak if n in FLOP_TERMS else 0.0) for n in names}


def _nnls(names, rows: list[dict], seconds, peak: float) -> dict[str, float]:
    """Non-negative least squares of relative errors, ``seconds ~ sum coefficient x row[name]``; each FLOP
    coefficient at least 1 / ``peak``."""
    import numpy as np
    from scipy.optimize import nnls

    A = np.array([[r[n] for n in names] for r in rows], dtype=float)  # (runs, terms)
    y = np.asarray(seconds, dtype=float)
    flop = np.array([n in FLOP_TERMS for n in names])
    inv_peak = 1.0 / peak if peak > 0 else 0.0
    floor = A[:, flop].sum(axis=1) * inv_peak  # the seconds the FLOPs take at the peak
    weight = 1.0 / np.maximum(y, 1e-9)  # relative errors: a 0.05 s run counts like a 5 s run
    Aw = A * weight[:, None]
    scale = Aw.max(axis=0)
    scale[scale == 0] = 1.0
    x, _ = nnls(Aw / scale, np.maximum(y - floor, 0.0) * weight)
    x = x / scale + flop * inv_peak
    return {n: float(v) for n, v in zip(names, x, strict=True)}


def resolve_plan_device(device: str) -> str:
    """``auto`` -> cuda when a GPU is here, else cpu; ``cuda`` without one -> one-line ValueError."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device={device!r}: must be auto, cpu or cuda")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda': no CUDA GPU is available here, so no GPU ETA can be timed; use --device cpu")
    return "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)


def peak_flop_rate(device: str = "cpu", n: int = GEMM_N, repeats: int = 5) -> float:
    """FLOP/s of the best of ``repeats`` float32 products (n x n) @ (n x n) at the current thread count
    (2 n^3 FLOPs each; CPU seconds on the CPU, wall seconds with a synchronised GPU)."""
    import torch

    dev = torch.device(device)
    a = torch.rand(n, n, device=dev)
    b = torch.rand(n, n, device=dev)
    clock = time.process_time if dev.type == "cpu" else time.perf_counter
    best = math.inf
    for _ in range(repeats + 1):  # the first product warms the library up
        t0 = clock()
        torch.mm(a, b)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, clock() - t0)
    return 2.0 * n**3 / max(best, 1e-9)


def _suite(device: str, longer: int = 1) -> list[BatchCounts | None]:
    """The suite's batches; with ``longer`` > 1, its per-epoch runs at ``longer`` x their epochs (None for the
    runs of a fixed term)."""
    out = []
    for _, term, kw in SUITE:
        if longer > 1 and term not in EPOCH_TERMS:
            out.append(None)
            continue
        kw = {**kw, "warmup_epochs": kw["warmup_epochs"] * longer, "epochs": kw["epochs"] * longer}
        out.append(BatchCounts((config_counts(_suite_config(kw, device)),), (kw["trials"],)))
    return out


def _suite_config(fields: dict, device: str) -> TrainConfig:
    return TrainConfig(**{"splits": ("random",), **fields, "device": device, "seed": 0})


def _timer(device: str, threads: int):
    """(clock, name): CPU seconds of this process for one CPU thread, else wall seconds."""
    if device == "cpu" and threads == 1:
        return time.process_time, "cpu"
    return time.perf_counter, "wall"


def _run(batch: BatchCounts) -> None:
    from fpe_train.engine.run import run_batch  # the engine's own path, whatever it is

    run_batch([(c.config, range(t)) for c, t in batch.jobs])


_CACHE: dict[tuple[str, int], Calibration] = {}
NEIGHBOUR_RUN = "flops_masked"  # the suite's run timed beside a copy of itself (the Boolean grid's kind of work)
ALTERNATIONS = 5  # windows alone / beside the other process, alternating (``beside_a_neighbour``)


def _neighbour(jobs, ready, go, busy, stop, parent: int) -> None:
    """Another process, started like a sweep's worker: after a first run of ``jobs`` (``ready``), runs them over
    and over while ``go`` is set (``busy`` says it is between runs of them), until ``stop``."""
    from fpe_train.engine.run import run_batch

    _init_worker(1, parent)
    run_batch(jobs)  # the first run loads what it needs
    ready.set()
    while not stop.is_set():
        if go.wait(0.05):
            busy.set()
            run_batch(jobs)
        else:
            busy.clear()


@dataclass(frozen=True)
class NeighbourRun:
    """What :func:`neighbour_run` measured: ``ratios``, the batch's CPU seconds beside the other process over
    alone, window pair by window pair ([] when the other process could not start); ``ready``, the wall seconds
    from starting the other process to the end of its first run of the batch (spawn, imports, the compiled
    kernel, the run itself; NaN when it never got there)."""

    ratios: list[float]
    ready: float = math.nan

    def slowdown(self) -> float:
        """What a worker loses to a worker on the next core (shared cache and memory bandwidth, a shared
        physical core under the hypervisor): the median ratio, bounded to [1, 2]; 1 when nothing was measured.
        (Measured once per window, the ratio swung from 1.0 to 1.7 between calibrations here; two processes of
        one fig3a batch each ran 7-12 % slower than one alone.)"""
        return min(2.0, max(1.0, statistics.median(self.ratios))) if self.ratios else 1.0

    def start(self, run_seconds: float) -> float:
        """Seconds a worker takes to start before its first batch: ``ready`` less the batch's own
        ``run_seconds`` (timed alone), at least 0; 0 when the other process never got ready."""
        return max(0.0, self.ready - run_seconds) if math.isfinite(self.ready) else 0.0


def beside_a_neighbour(batch: BatchCounts, clock, alternations: int = ALTERNATIONS, best_of: int = 2) -> float:
    """:meth:`NeighbourRun.slowdown` of a :func:`neighbour_run` of ``batch``."""
    return neighbour_run(batch, clock, alternations, best_of).slowdown()


def _while_alive(event, process, seconds: float = 60.0) -> bool:
    """Wait up to ``seconds`` for ``event``, giving up as soon as ``process`` has died."""
    deadline = time.monotonic() + seconds
    while not event.wait(0.05):
        if not process.is_alive() or time.monotonic() > deadline:
            return False
    return True


def neighbour_run(batch: BatchCounts, clock, alternations: int = ALTERNATIONS, best_of: int = 2) -> NeighbourRun:
    """``batch``'s CPU seconds while another process (started like a sweep's worker) runs the same batch, over
    its seconds alone, in ``alternations`` pairs of windows (each the best of ``best_of`` runs) taken one after
    the other, so that the machine's own drift from minute to minute cancels; and the wall time the other
    process took to start and run the batch once, while this one waited."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, busy, stop = ctx.Event(), ctx.Event(), ctx.Event(), ctx.Event()
    jobs = [(c.config, range(t)) for c, t in batch.jobs]
    other = ctx.Process(target=_neighbour, args=(jobs, ready, go, busy, stop, os.getpid()), daemon=True)

    def window() -> float:
        best = math.inf
        for _ in range(best_of):
            start = clock()
            _run(batch)
            best = min(best, clock() - start)
        return best

    ratios, to_ready = [], math.nan
    try:
        spawned = time.perf_counter()
        other.start()
        if _while_alive(ready, other):  # its start (imports, data, the compiled kernel) stays out of the windows
            to_ready = time.perf_counter() - spawned
        else:
            alternations = 0
        for _ in range(alternations):
            go.clear()
            deadline = time.monotonic() + 30
            while busy.is_set() and time.monotonic() < deadline:  # the other process finishes its run
                time.sleep(0.01)
            alone = window()
            go.set()
            if not _while_alive(busy, other):
                break
            ratios.append(window() / alone)
    except (OSError, RuntimeError):  # no process could start here: nothing measured
        ratios = []
    finally:
        stop.set()
        go.set()
        if other.pid is not None:
            other.join(10)
            if other.is_alive():
                other.terminate()
    return NeighbourRun(ratios, to_ready)


def calibrate(device: str = "cpu", threads: int = 1, repeats: int = REPEATS, fresh: bool = False) -> Calibration:
    """Time the suite here (a few seconds) and fit :class:`Calibration`; kept for the life of the process
    (``fresh=True`` times again), so every plan of one process uses one calibration."""
    device = resolve_plan_device(device)
    if not fresh and (device, threads) in _CACHE:
        return _CACHE[(device, threads)]
    import torch

    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    before = torch.get_num_threads()
    cap_threads(threads)
    clock, name = _timer(device, threads)
    try:
        peak = peak_flop_rate(device)
        batches, longer = _suite(device), _suite(device, LONGER)
        for i in {path: i for i, (path, _, _) in reversed(list(enumerate(SUITE)))}.values():
            _run(batches[i])  # first-use costs (allocator, imports, compiled kernels) stay out of the timings
        runs = [*batches, *(b for b in longer if b is not None)]
        timings = [[] for _ in runs]
        for _ in range(repeats):  # interleaved: a burst of load hits one repeat of each run, not every repeat
            for i, b in enumerate(runs):
                start = clock()
                _run(b)
                if device == "cuda":
                    torch.cuda.synchronize()
                timings[i].append(clock() - start)
        best = [min(t, default=math.inf) for t in timings]
        neighbour, start = 1.0, 0.0
        if device == "cpu" and threads == 1 and (os.cpu_count() or 1) > 1:
            i = [term for _, term, _ in SUITE].index(NEIGHBOUR_RUN)
            other = neighbour_run(batches[i], clock)
            neighbour, start = other.slowdown(), other.start(best[i])
    finally:
        cap_threads(before)
    short, long_ = best[: len(batches)], iter(best[len(batches) :])
    terms = [term for _, term, _ in SUITE]
    pairs = [
        (b, s, lb, next(long_), t) for b, s, lb, t in zip(batches, short, longer, terms, strict=True) if lb is not None
    ]
    cal = fit(list(zip(batches, short, strict=True)), device, threads, f"suite of {len(runs)} runs", peak, pairs)
    cal = dataclasses.replace(
        cal,
        neighbour=neighbour,
        worker_start=start,
        spread=repeat_spread(timings),
        seconds=time.perf_counter() - t0,
        cores=os.cpu_count() or 1,
        load=(load0, os.getloadavg()[0]),
        clock=name,
        repeats=repeats,
    )
    _CACHE[(device, threads)] = cal
    return cal
