"""How fast this machine trains: a cost model of a batch, timed on a fixed suite of small runs.

The model (``fpe_train.sweeps.plan`` counts each term of a batch)::

    seconds = per_config x configs + per_model x models + per_step x steps + per_deep_step x deep_steps
              + flops / flop_rate

a fixed cost per config (data, rows), a cost per model once (expansion at the split, measurements at the
end), a cost per optimiser step of the batch (what dominates tiny models), a cost per step of each hidden
layer beyond the first (LayerNorm and the general path of deeper networks) and a FLOP rate.

What makes it survive a busy machine:

- **the suite is fixed** (``SUITE``: six Boolean runs, each dominated by one term), so the fit never
  depends on which sweeps are planned: the same batch gets the same seconds from ``sweep plan`` and from
  ``report --plan`` (timing a plan's own batches made the fit, and the ETA, depend on the plan);
- **repeated short timings, robust statistic**: every run of the suite is timed ``repeats`` times,
  interleaved, in CPU seconds of this process (``time.process_time``; wall time on CUDA or with more than
  one thread), and the smallest is kept: other jobs on the machine add wall time, not CPU time;
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
import os
import time
from dataclasses import dataclass

from fpe_train.engine.config import TrainConfig
from fpe_train.sweeps.executors import cap_threads
from fpe_train.sweeps.plan import BatchCounts, config_counts

SUITE = (  # (the term it isolates, TrainConfig fields); all Boolean, one split, as run_batch trains them
    ("config", dict(clauses=2, k=2, r=2, trials=1, warmup_epochs=1, epochs=1, n_train=64, n_test=32, batch_size=64)),
    ("steps", dict(clauses=2, k=2, r=2, trials=1, warmup_epochs=6, epochs=6, n_train=1600, n_test=32, batch_size=16)),
    (
        "models",
        dict(clauses=8, k=4, r=8, trials=24, warmup_epochs=1, epochs=1, n_train=500, n_test=500, batch_size=500),
    ),
    (
        "flops",
        dict(clauses=16, k=4, r=64, trials=8, warmup_epochs=2, epochs=2, n_train=4000, n_test=500, batch_size=500),
    ),
    (
        "flops-wide",
        dict(clauses=32, k=4, r=32, trials=4, warmup_epochs=1, epochs=1, n_train=10000, n_test=500, batch_size=500),
    ),
    (
        "deep",
        dict(
            clauses=4, k=4, r=8, depth=4, trials=4, warmup_epochs=2, epochs=2, n_train=2000, n_test=200, batch_size=100
        ),
    ),
)
REPEATS = 3
GEMM_N = 1024  # the peak's product: (n x n) @ (n x n), float32


@dataclass(frozen=True)
class Calibration:
    """The fitted cost model (module docstring) and what it assumes.

    ``peak_flop_rate``: float32 GEMM FLOP/s of one thread here (0: not measured); ``flop_rate`` never exceeds
    ``peak_flop_rate x threads`` when a peak was measured. ``load``: the 1-minute load average at the start
    and the end of the calibration; ``cores``: the CPUs here; ``clock``: ``cpu`` (CPU seconds of the
    process) or ``wall``.
    """

    device: str
    threads: int
    per_config: float  # seconds
    per_step: float  # seconds per optimiser step of a batch
    flop_rate: float  # FLOP/s
    seconds: float = 0.0  # wall time the calibration took
    source: str = "calibration"  # or "store" (fitted to a store's own run times)
    per_model: float = 0.0  # seconds per model, once (expansion at the split, measurements at the end)
    per_deep_step: float = 0.0  # seconds per step and hidden layer beyond the first
    peak_flop_rate: float = 0.0
    cores: int = 1
    load: tuple[float, float] = (0.0, 0.0)
    clock: str = "cpu"
    repeats: int = REPEATS

    def batch_seconds(self, batch: BatchCounts) -> float:
        return (
            self.per_config * len(batch.configs)
            + self.per_model * batch.models
            + self.per_step * batch.steps
            + self.per_deep_step * batch.deep_steps
            + batch.flops / self.flop_rate
        )

    def assumes(self, workers: int) -> str:
        """What an ETA from this calibration takes for granted, in one sentence."""
        share = "one core to itself" if workers <= self.cores else f"{self.cores}/{workers} of a core"
        clock = "CPU seconds" if self.clock == "cpu" else "wall seconds"
        who = "the worker gets" if workers == 1 else f"each of {workers} workers gets"
        return (
            f"{who} {share} ({self.cores} cores here), "
            f"{self.threads} thread{'s' * (self.threads != 1)} each; rates in {clock}, best of {self.repeats}; "
            f"load average {self.load[0]:.1f} -> {self.load[1]:.1f} while timing"
        )

    def describe(self) -> str:
        rate = f"{self.flop_rate / 1e9:.1f} GFLOP/s"
        if self.peak_flop_rate:
            rate += f" (GEMM peak {self.peak_flop_rate * self.threads / 1e9:.1f})"
        return (
            f"{self.device}, {self.threads} thread{'s' * (self.threads != 1)}: {rate}, "
            f"{self.per_step * 1e3:.3f} ms per step (+{self.per_deep_step * 1e3:.3f} per deeper layer), "
            f"{self.per_config:.3f} s per config, {self.per_model * 1e3:.1f} ms per model "
            f"({self.source}, {self.seconds:.1f} s)"
        )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["flop_rate"] = None if math.isinf(self.flop_rate) else self.flop_rate  # None: no FLOP-bound part seen
        d["load"] = list(self.load)
        timed = ("per_config", "per_step", "per_model", "per_deep_step")
        return {(f"{k}_s" if k in timed else k): v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k[:-2] if k.endswith("_s") and k[:-2] in names else k: v for k, v in d.items()}
        kw["flop_rate"] = math.inf if kw.get("flop_rate") is None else kw["flop_rate"]
        kw["load"] = tuple(kw.get("load", (0.0, 0.0)))
        return cls(**{k: v for k, v in kw.items() if k in names})


def _terms(batch: BatchCounts) -> list[float]:
    return [len(batch.configs), batch.models, batch.steps, batch.deep_steps, batch.flops]


def fit(
    samples: list[tuple[BatchCounts, float]], device: str, threads: int, source: str, peak: float = 0.0
) -> Calibration:
    """Non-negative least squares of the relative errors of ``samples`` = [(batch, seconds)].

    ``peak`` (FLOP/s, 0: none): the FLOP term is at least flops / peak, so the rate never exceeds it.
    """
    import numpy as np
    from scipy.optimize import nnls

    if not samples:
        raise ValueError("samples=[]: nothing timed to fit an ETA to")
    A = np.array([_terms(b) for b, _ in samples], dtype=float)
    y = np.array([s for _, s in samples], dtype=float)
    floor = A[:, 4] / peak if peak > 0 else np.zeros(len(y))
    weight = 1.0 / np.maximum(y, 1e-9)  # relative errors: a 0.05 s run counts like a 5 s run
    Aw = A * weight[:, None]
    scale = Aw.max(axis=0)
    scale[scale == 0] = 1.0
    x, _ = nnls(Aw / scale, np.maximum(y - floor, 0.0) * weight)
    x = x / scale
    inverse = (1.0 / peak if peak > 0 else 0.0) + x[4]  # seconds per FLOP
    rate = 1.0 / inverse if inverse > 0 else math.inf
    return Calibration(
        device,
        threads,
        float(x[0]),
        float(x[2]),
        float(rate),
        source=source,
        per_model=float(x[1]),
        per_deep_step=float(x[3]),
        peak_flop_rate=peak / max(threads, 1) if peak else 0.0,
    )


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


def _suite(device: str) -> list[BatchCounts]:
    return [
        BatchCounts((config_counts(TrainConfig(splits=("random",), device=device, seed=0, **kw)),), (kw["trials"],))
        for _, kw in SUITE
    ]


def _timer(device: str, threads: int):
    """(clock, name): CPU seconds of this process for one CPU thread, else wall seconds."""
    if device == "cpu" and threads == 1:
        return time.process_time, "cpu"
    return time.perf_counter, "wall"


def _run(batch: BatchCounts) -> None:
    from fpe_train.engine.run import run_batch  # the engine's own path, whatever it is

    run_batch([(c.config, range(t)) for c, t in batch.jobs])


_CACHE: dict[tuple[str, int], Calibration] = {}


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
        batches = _suite(device)
        _run(batches[0])  # first-use costs (allocator, lazy imports, compiled kernels) stay out of the timings
        best = [math.inf] * len(batches)
        for _ in range(repeats):  # interleaved: a burst of load hits one repeat of each run, not every repeat
            for i, b in enumerate(batches):
                start = clock()
                _run(b)
                if device == "cuda":
                    torch.cuda.synchronize()
                best[i] = min(best[i], clock() - start)
    finally:
        cap_threads(before)
    cal = fit(list(zip(batches, best, strict=True)), device, threads, f"suite of {len(batches)} runs", peak)
    cal = dataclasses.replace(
        cal,
        seconds=time.perf_counter() - t0,
        cores=os.cpu_count() or 1,
        load=(load0, os.getloadavg()[0]),
        clock=name,
        repeats=repeats,
    )
    _CACHE[(device, threads)] = cal
    return cal
