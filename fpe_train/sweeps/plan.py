"""A plan before the work: what a sweep will train, how much arithmetic that is, and how long it takes here.

Counts, per sweep (nothing is trained):

- ``configs``, ``trials`` (the sum of ``config.trials``), ``models`` = trials x variants (dense + splits);
- ``model_epochs``: the epochs trained, summed over models: trials x (warmup_epochs + epochs) for the
  dense models plus trials x splits x epochs for the FPE models (the warm-up is trained once, on the
  dense models, and shared by every fork);
- ``batches``: the configs trained as one batch (``fpe_train.engine.batch.plan_batches``: by schedule,
  shape bucket and memory; where the engine has no such grouping, one config per batch, as
  ``run_config`` trains them).

FLOPs (fp32, forward + backward of the batched MLP; biases counted like weights)::

    train = 6 x P x n_train      per model and epoch  (forward 2 P per sample, backward 4 P)
    eval  = 2 x P x (n_train + n_test) per model once, plus 2 x P x n_test per curve point (curve_every)

``P = sum over layers of out x (in + 1)`` of the shape the engine computes: masked entries are
multiplied too (``W * M`` is a dense tensor), so an FPE model of alpha x r neurons costs its full
width. The dense models train warmup + epochs; each FPE variant trains ``epochs`` after the shared
warm-up, which is computed once (on the dense models). A batch of several configs is padded to their
largest shape, so its FLOPs are those of the padded models; the multi-config engine trains every
variant after the split as one batch at the FPE shape, the dense continuation included. DropConnect
resampling and rewiring are not counted (a few elementwise passes per step).

Memory of a batch (bytes, an estimate from shapes; the dense and FPE groups are both alive after the
split)::

    sum over groups of  4 x (4 E P + E W + 4 E B H + 2 E H min(n_eval, 4096))  +  E W   (bool masks)
                     +  4 x (n_train + n_test) x (n_in + 1)                       (data on the device)

with E the group's models, W its weight entries, B the minibatch, H the hidden widths plus the
outputs: parameters, gradients and Adam's two moments, the masked weights, activations and their
gradients, the evaluation chunk of ``accuracy``.

ETA: :func:`calibrate` times the engine on this machine (a few seconds: three tiny configs, then a few
of the plan's own batches at 1 + 1 epochs, as ``run_batch`` trains them) and fits, by non-negative
least squares, ``seconds = c x configs + s x steps x groups + flops / rate``:
a fixed cost per config (data, metrics, rows), a cost per optimiser step of each group (kernel
launches, what dominates tiny models) and a FLOP rate. A sweep's wall time is the largest-first
schedule of its batches on ``workers`` processes; sweeps run one after another.

>>> from fpe_train.engine.config import TrainConfig
>>> c = config_plan(TrainConfig(clauses=2, k=4, r=2, alpha=2, splits=("random",), trials=3, epochs=2,
...                             warmup_epochs=1, n_train=100, n_test=50))
>>> (c.models, c.model_epochs, c.dense_sizes, c.fpe_sizes)
(6, 15, (8, 2, 1), (8, 4, 1))
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass

from fpe_train.engine.config import TrainConfig

BYTES = 4  # fp32
EVAL_CHUNK = 4096  # rows per forward pass in fpe_train.engine.train.accuracy
DIGITS = (1797, 64, 10)  # scikit-learn's digits: samples, features, classes
TEST_FRACTION = 0.2  # as fpe_train.engine.datasets (pooled data split 80/20)


# ---------------------------------------------------------------- shapes and counts


def task_shape(config: TrainConfig) -> tuple[int, int, int, int]:
    """``(n_in, n_out, n_train, n_test)`` of a config's data, from sizes and file headers (no data read).

    Boolean: m inputs, one logit. digits: 64 inputs, 10 classes, 1797 samples split 80/20. mnist1d:
    40 inputs, 10 classes, 4000/1000. fashion_mnist: the IDX headers (784 inputs, 10 classes).
    embeddings: the array headers and the labels. ``n_train``/``n_test`` cap the sizes, as the loader does.
    """
    if config.task == "boolean":
        return config.m, 1, config.n_train, config.n_test
    if config.task == "digits":
        n, n_in, n_out = DIGITS
        test = max(1, round(TEST_FRACTION * n))
        return n_in, n_out, min(config.n_train, n - test), min(config.n_test, test)
    if config.task == "mnist1d":
        return 40, 10, min(config.n_train, 4000), min(config.n_test, 1000)
    from fpe_train.engine import datasets

    datasets.check_dataset(config)  # one-line ValueError for a missing or malformed file
    if config.task == "fashion_mnist":
        paths = datasets._idx_paths(config.data_path)
        head = {key: datasets._idx_header(p) for key, p in paths.items()}
        n_in = math.prod(head["X_train"][1:])
        return n_in, 10, min(config.n_train, head["X_train"][0]), min(config.n_test, head["X_test"][0])
    X_tr, y_tr, X_te, y_te, n_out = datasets.load_dataset(config)  # embeddings: a user file, read once
    return X_tr.shape[1], int(n_out), len(y_tr), len(y_te)


def layer_params(sizes) -> int:
    """P = sum of out x (in + 1) over the layers of an MLP with widths ``sizes``."""
    return sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:], strict=False))


def layer_weights(sizes) -> int:
    """Weight entries (no biases): sum of out x in."""
    return sum(o * i for i, o in zip(sizes[:-1], sizes[1:], strict=False))


def fpe_sizes(dense_sizes, alpha: int) -> tuple[int, ...]:
    """Widths after FPE with the alternating rule of A.7: hidden layers 0, 2, 4, ... widened alpha-fold."""
    from fpe_train.fpe.names import expanded_layers

    widened = set(expanded_layers(len(dense_sizes) - 1))
    return tuple(s * alpha if j - 1 in widened else s for j, s in enumerate(dense_sizes))


@dataclass(frozen=True)
class ConfigPlan:
    """One config's counts (see the module docstring for the formulas)."""

    config: TrainConfig
    n_in: int
    n_out: int
    n_train: int
    n_test: int
    dense_sizes: tuple[int, ...]
    fpe_sizes: tuple[int, ...]

    @property
    def fpe_models(self) -> int:
        return self.config.trials * len(self.config.splits)

    @property
    def models(self) -> int:
        return self.config.trials * len(self.config.variants)

    @property
    def model_epochs(self) -> int:
        """Epochs trained, summed over models: dense warmup + epochs, each FPE model its epochs (shared warm-up)."""
        return self.config.trials * self.config.total_epochs + self.fpe_models * self.config.epochs

    @property
    def steps(self) -> int:
        """Optimiser steps of each group: epochs x ceil(n_train / batch_size)."""
        return self.config.total_epochs * -(-self.n_train // self.config.batch_size)

    @property
    def groups(self) -> int:
        """Groups stepping side by side after the split: dense, partition-like splits, dropconnect."""
        s = self.config.splits
        return 1 + any(x != "dropconnect" for x in s) + ("dropconnect" in s)

    @property
    def curve_points(self) -> int:
        every = self.config.curve_every
        return self.config.total_epochs // every if every else 0

    @property
    def flops(self) -> float:
        """FLOPs of this config trained alone, dense and FPE models at their own shapes."""
        return _flops([(self, self.config.trials)], self.dense_sizes, self.fpe_sizes)


def config_plan(config: TrainConfig) -> ConfigPlan:
    """The counts of one config (reads at most file headers)."""
    n_in, n_out, n_train, n_test = task_shape(config)
    dense = (n_in, *([config.r] * config.depth), n_out)
    return ConfigPlan(config, n_in, n_out, n_train, n_test, dense, fpe_sizes(dense, config.alpha))


def _flops(members, dense_sizes, fpe_sizes, shared: bool = False) -> float:
    """Training + evaluation FLOPs of ``members`` = [(ConfigPlan, trials)] at the given (padded) shapes.

    ``shared``: after the split every variant, the dense continuation included, is one batch at the
    FPE shape (the multi-config engine); otherwise the dense models keep their own shape.
    """
    Pd, Pf = layer_params(dense_sizes), layer_params(fpe_sizes)
    total = 0.0
    for c, trials in members:
        cfg, n_eval = c.config, c.n_train + c.n_test
        fpe_models = trials * len(cfg.splits)
        P_cont = Pf if shared else Pd  # the dense continuation after the split
        total += 6.0 * c.n_train * (Pd * trials * cfg.warmup_epochs + P_cont * trials * cfg.epochs)
        total += 6.0 * c.n_train * Pf * fpe_models * cfg.epochs
        total += 2.0 * n_eval * (P_cont * trials + Pd * trials * cfg.record_warmup + Pf * fpe_models)
        total += 2.0 * c.n_test * c.curve_points * (P_cont * trials + Pf * fpe_models)
    return total


def _padded(shapes) -> tuple[int, ...]:
    return tuple(max(col) for col in zip(*shapes, strict=True))


@dataclass(frozen=True)
class BatchPlan:
    """Configs (``members``, ``trials`` of each) trained as one batch, shapes padded to the largest member.

    ``shared``: the engine trains every variant of the batch as one padded batch after the split
    (``fpe_train.engine.batch``); otherwise each config alone, dense and FPE as separate groups.
    """

    members: tuple[ConfigPlan, ...]
    trials: tuple[int, ...]
    shared: bool = False

    @property
    def pairs(self) -> list[tuple[ConfigPlan, int]]:
        return list(zip(self.members, self.trials, strict=True))

    @property
    def same_depth(self) -> bool:
        return len({len(m.dense_sizes) for m in self.members}) == 1

    @property
    def steps(self) -> int:
        return max(m.steps for m in self.members)

    @property
    def groups(self) -> int:
        return max(m.groups for m in self.members)

    @property
    def models(self) -> int:
        return sum(t * len(m.config.variants) for m, t in self.pairs)

    def _shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        ms = self.members
        if self.same_depth:
            return _padded([m.dense_sizes for m in ms]), _padded([m.fpe_sizes for m in ms])
        return max((m.dense_sizes for m in ms), key=sum), max((m.fpe_sizes for m in ms), key=sum)

    @property
    def flops(self) -> float:
        if not self.same_depth:
            return sum(_flops([(m, t)], m.dense_sizes, m.fpe_sizes, self.shared) for m, t in self.pairs)
        return _flops(self.pairs, *self._shapes(), self.shared)

    @property
    def memory_bytes(self) -> int:
        """Peak memory estimate of the batch (module docstring), at the padded shapes."""
        dense, fpe = self._shapes()
        n_eval = max(m.n_train + m.n_test for m in self.members)
        B = max(min(m.config.batch_size, m.n_train) for m in self.members)
        E_dense = sum(self.trials)
        E_fpe = sum(t * len(m.config.splits) for m, t in self.pairs)
        groups = ((E_dense + E_fpe, fpe),) if self.shared else ((E_dense, dense), (E_fpe, fpe))
        total = 0
        for E, sizes in groups:
            P, W, H = layer_params(sizes), layer_weights(sizes), sum(sizes[1:])
            total += BYTES * (4 * E * P + E * W + 4 * E * B * H + 2 * E * H * min(n_eval, EVAL_CHUNK)) + E * W
        return int(total + BYTES * sum((m.n_train + m.n_test) * (m.n_in + 1) for m in self.members))


def group_batches(configs, device: str = "cpu", workers: int = 1) -> tuple[list[list[tuple]], bool]:
    """The engine's batches ``[[(config, n_trials)]]`` and whether it trains configs together.

    From ``fpe_train.engine.batch.plan_batches`` (schedule, shape bucket, memory, at least ``workers``
    batches where trials allow), as a sweep run groups them; where the engine has no such grouping, one
    config per batch with all its trials, as ``run_config`` trains them.
    """
    try:
        from fpe_train.engine.batch import plan_batches
    except ImportError:
        return [[(c, c.trials)] for c in configs], False
    batches = plan_batches([(c, range(c.trials)) for c in configs], device, min_batches=workers)
    return [[(c, len(t)) for c, t in b] for b in batches], True


@dataclass(frozen=True)
class SweepPlan:
    """A sweep's configs and batches with their counts."""

    name: str
    size: str
    configs: tuple[ConfigPlan, ...]
    batches: tuple[BatchPlan, ...]

    @property
    def trials(self) -> int:
        return sum(c.config.trials for c in self.configs)

    @property
    def models(self) -> int:
        return sum(c.models for c in self.configs)

    @property
    def model_epochs(self) -> int:
        return sum(c.model_epochs for c in self.configs)

    @property
    def flops(self) -> float:
        return sum(b.flops for b in self.batches)

    @property
    def memory_bytes(self) -> int:
        """The largest batch's memory estimate."""
        return max((b.memory_bytes for b in self.batches), default=0)


def plan_sweep(sweep, device: str = "cpu", workers: int = 1) -> SweepPlan:
    """Counts of a loaded ``Sweep`` (``fpe_train.sweeps.sweep.load_sweep``) run by ``workers``; trains nothing."""
    by_config = {c: config_plan(c) for c in sweep.configs}
    grouped, shared = group_batches(sweep.configs, device, workers)
    batches = tuple(BatchPlan(tuple(by_config[c] for c, _ in b), tuple(t for _, t in b), shared) for b in grouped)
    return SweepPlan(sweep.name, sweep.size, tuple(by_config.values()), batches)


# ---------------------------------------------------------------- calibration and ETA

CALIBRATION = (  # (what it measures, TrainConfig fields); all boolean, one split
    ("fixed", dict(clauses=2, k=2, r=2, trials=1, warmup_epochs=1, epochs=1, n_train=64, n_test=32, batch_size=32)),
    ("steps", dict(clauses=2, k=2, r=2, trials=1, warmup_epochs=8, epochs=8, n_train=1600, n_test=32, batch_size=16)),
    ("flops", dict(clauses=16, k=4, r=64, trials=8, warmup_epochs=2, epochs=2, n_train=4000, n_test=500,
                   batch_size=500)),
)  # fmt: skip


@dataclass(frozen=True)
class Calibration:
    """``seconds = per_config x configs + per_model x models + per_step x steps x groups + flops / flop_rate``.

    ``per_model``: what every model costs once whatever its epochs (the split's expansion, the end's
    measurements); without it a short calibration run books that cost as FLOPs and the ETA of long runs
    errs long.
    """

    device: str
    threads: int
    per_config: float  # seconds
    per_step: float  # seconds per optimiser step of one group
    flop_rate: float  # FLOP/s
    seconds: float = 0.0  # wall time the calibration took
    source: str = "calibration"  # or "store" (fitted to a store's own run times)
    startup: float = 0.0  # first-use costs of a fresh process (allocator, lazy imports), paid once per run
    per_model: float = 0.0  # seconds per model, once (expansion at the split, measurements at the end)

    def batch_seconds(self, batch: BatchPlan) -> float:
        return (
            self.per_config * len(batch.members)
            + self.per_model * batch.models
            + self.per_step * batch.steps * batch.groups
            + batch.flops / self.flop_rate
        )

    def describe(self) -> str:
        rate = "FLOPs not limiting" if math.isinf(self.flop_rate) else f"{self.flop_rate / 1e9:.1f} GFLOP/s"
        return (
            f"{self.device}, {self.threads} thread{'s' * (self.threads != 1)}: {rate}, "
            f"{self.per_step * 1e3:.3f} ms per step, {self.per_config:.3f} s per config, {self.per_model * 1e3:.1f} ms "
            f"per model, {self.startup:.1f} s to start "
            f"({self.source}, {self.seconds:.1f} s)"
        )

    def to_dict(self) -> dict:
        rate = None if math.isinf(self.flop_rate) else self.flop_rate  # None: no FLOP-bound part was seen
        return dict(device=self.device, threads=self.threads, per_config_s=self.per_config,
                    per_step_s=self.per_step, flop_rate=rate, seconds=self.seconds,
                    source=self.source, startup_s=self.startup, per_model_s=self.per_model)  # fmt: skip


def fit(samples: list[tuple[BatchPlan, float]], device: str, threads: int, source: str) -> Calibration:
    """Non-negative least squares of measured seconds on (configs, models, steps x groups, flops) per batch."""
    import numpy as np
    from scipy.optimize import nnls

    if not samples:
        raise ValueError("samples=[]: nothing timed to fit an ETA to")
    A = np.array([[len(b.members), b.models, b.steps * b.groups, b.flops] for b, _ in samples], dtype=float)
    y = np.array([s for _, s in samples], dtype=float)
    scale = A.max(axis=0)
    scale[scale == 0] = 1.0
    x, _ = nnls(A / scale, y)
    x = x / scale
    rate = 1.0 / x[3] if x[3] > 0 else math.inf  # the timings show no FLOP-bound part
    return Calibration(device, threads, float(x[0]), float(x[2]), float(rate), source=source, per_model=float(x[1]))


def resolve_plan_device(device: str) -> str:
    """``auto`` -> cuda when a GPU is here, else cpu; ``cuda`` without one -> one-line ValueError."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device={device!r}: must be auto, cpu or cuda")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda': no CUDA GPU is available here, so no GPU ETA can be timed; use --device cpu")
    return "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)


def _reduced(config: TrainConfig, device: str, epochs: int = 1) -> TrainConfig:
    """The config at ``epochs`` + ``epochs`` epochs on ``device`` (same shapes, data and steps per epoch)."""
    return dataclasses.replace(config, warmup_epochs=epochs, epochs=epochs, curve_every=0, device=device)


def _representatives(plans, k: int) -> list[BatchPlan]:
    """Up to ``k`` batches of the plans spread over FLOPs per step (smallest, quantiles, largest)."""
    batches = sorted({id(b): b for p in plans for b in p.batches}.values(), key=lambda b: b.flops / max(b.steps, 1))
    if len(batches) <= k:
        return batches
    if k <= 1:
        return batches[-1:][:k]  # the largest per step
    return [batches[round(i * (len(batches) - 1) / (k - 1))] for i in range(k)]


def _run(items: list[tuple[TrainConfig, int]], shared: bool) -> None:
    """Train ``items`` = [(config, trials)] as the engine would: one batch (``run_batch``) or config by config."""
    if shared:
        from fpe_train.engine.run import run_batch

        run_batch([(c, range(t)) for c, t in items])
        return
    from fpe_train.engine.run import run_config

    for c, t in items:
        run_config(dataclasses.replace(c, trials=t))


def _time(items: list[tuple[TrainConfig, int]], shared: bool, device: str) -> tuple[BatchPlan, float]:
    import torch

    if any(c.task != "boolean" for c, _ in items):  # untimed: the datasets' first load (files, caches)
        _run([(dataclasses.replace(c, warmup_epochs=0, epochs=0), t) for c, t in items], shared)
    start = time.perf_counter()
    _run(items, shared)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return BatchPlan(tuple(config_plan(c) for c, _ in items), tuple(t for _, t in items), shared), seconds


def calibrate(device: str = "cpu", threads: int = 1, plans=(), samples_from_plan: int = 4,
              budget_seconds: float = 12.0) -> Calibration:  # fmt: skip
    """Time the engine here and fit :class:`Calibration` (a few seconds).

    Timed: the three tiny ``CALIBRATION`` configs (after one untimed run), then up to
    ``samples_from_plan`` batches of ``plans`` at 1 + 1 and at 3 + 3 epochs (same configs, shapes, data,
    trials and steps per epoch as the real run, trained as one batch as the engine will; skipped once
    ``budget_seconds`` are spent). The two epoch counts separate what a model costs once from what each
    epoch costs.
    """
    import torch

    device = resolve_plan_device(device)
    _, shared = group_batches([], device)
    t0 = time.perf_counter()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        tiny = [TrainConfig(splits=("random",), device=device, seed=0, **kw) for _, kw in CALIBRATION]
        first = time.perf_counter()
        _run([(tiny[0], tiny[0].trials)], shared)  # first-use costs (allocator, lazy imports), then timed again
        first = time.perf_counter() - first
        jobs = [[(c, c.trials)] for c in tiny]
        jobs += [
            [(_reduced(m.config, device, epochs), t) for m, t in b.pairs]
            for b in _representatives(plans, samples_from_plan)
            for epochs in (1, 3)
        ]
        samples = []
        for items in jobs:
            if len(samples) >= len(CALIBRATION) and time.perf_counter() - t0 > budget_seconds:
                break
            samples.append(_time(items, shared, device))
    finally:
        torch.set_num_threads(before)
    cal = fit(samples, device, threads, f"calibration of {len(samples)} timed batches")
    startup = max(0.0, first - samples[0][1])
    return Calibration(**{**cal.__dict__, "seconds": time.perf_counter() - t0, "startup": startup})


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of jobs run largest first, each on the first free of ``workers`` processes."""
    import heapq

    free = [0.0] * max(1, min(workers, len(seconds) or 1))
    for s in sorted(seconds, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)


def sweep_eta(plan: SweepPlan, cal: Calibration, workers: int) -> float:
    return makespan([cal.batch_seconds(b) for b in plan.batches], workers)


def default_workers(device: str) -> int:
    """Processes a run uses: one per core on the CPU (the local executor), one driving a GPU."""
    return 1 if device == "cuda" else os.cpu_count() or 1


# ---------------------------------------------------------------- output


def plan_dict(plans: list[SweepPlan], cal: Calibration | None, workers: int, to_train=None) -> dict:
    """The plan as plain JSON-able data (what ``--json`` prints).

    ``to_train``: per sweep, the plan of what it will train when the sweeps run in this order into one store
    (:func:`unshared`); the ETA is of those (a config an earlier sweep trained costs nothing again).
    """
    rows = []
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
        )
        if cal is not None:
            row["eta_seconds"] = sweep_eta(q, cal, workers)
        rows.append(row)  # fmt: skip
    keys = ("configs", "trials", "batches", "models", "model_epochs", "flops")
    total = {k: sum(r[k] for r in rows) for k in keys}
    total["max_batch_memory_bytes"] = max((r["max_batch_memory_bytes"] for r in rows), default=0)
    if cal is not None:
        total["eta_seconds"] = cal.startup + sum(r["eta_seconds"] for r in rows)
    return dict(sweeps=rows, total=total, distinct=distinct_counts(plans), workers=workers,
                calibration=cal.to_dict() if cal else None,
                flops_formula="6 x P x n_train per model-epoch + 2 x P x (n_train + n_test) evaluation, "
                              "P = sum out x (in + 1) at the computed (padded, unmasked) shape")  # fmt: skip


def unshared(sweeps) -> list:
    """Each sweep with only the configs (and trials) no earlier sweep of the list holds: what it trains when
    the sweeps run one after another into one store (trials are keyed by config hash without ``trials``)."""
    from fpe_train.sweeps.store import config_hash

    seen: dict[str, int] = {}
    out = []
    for s in sweeps:
        fresh = []
        for c in s.configs:
            h, before = config_hash(c), seen.get(config_hash(c), 0)
            if c.trials > before:  # trials before..c.trials-1 are new; plan them as that many trials
                fresh.append(dataclasses.replace(c, trials=c.trials - before))
                seen[h] = c.trials
        out.append(dataclasses.replace(s, configs=tuple(fresh)))
    return out


def distinct_counts(plans) -> dict:
    """Configs and trials counted once where sweeps share a config (it trains once, for every sweep).

    The total row of a plan sums the sweeps, so it is an upper bound when they share configs.
    """
    from fpe_train.sweeps.store import config_hash

    trials: dict[str, int] = {}
    for p in plans:
        for c in (cp.config for cp in p.configs):
            h = config_hash(c)
            trials[h] = max(trials.get(h, 0), c.trials)
    return {"configs": len(trials), "trials": sum(trials.values())}


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
    """The plan as a table, one line per sweep and a total."""
    cal, workers = data["calibration"], data["workers"]
    eta = f"ETA ({workers} worker{'s' * (workers != 1)})"
    head = (f"{'sweep':<20}{'size':<7}{'configs':>8}{'trials':>8}{'batches':>8}{'model-epochs':>14}"
            f"{'TFLOP':>9}{'max batch mem':>15}" + (f"{eta:>18}" if cal else ""))  # fmt: skip
    lines = [head]
    for r in [*data["sweeps"], {**data["total"], "sweep": "total", "size": ""}]:
        mem = _bytes(r["max_batch_memory_bytes"])
        line = (f"{r['sweep']:<20}{r['size']:<7}{r['configs']:>8}{r['trials']:>8}{r['batches']:>8}"
                f"{r['model_epochs']:>14,}{r['flops'] / 1e12:>9.3f}{mem:>15}")  # fmt: skip
        lines.append(line + (f"{duration(r['eta_seconds']):>18}" if cal else ""))
    if cal:
        rate = math.inf if cal["flop_rate"] is None else cal["flop_rate"]
        c = Calibration(cal["device"], cal["threads"], cal["per_config_s"], cal["per_step_s"], rate,
                        cal["seconds"], cal["source"], cal["startup_s"], cal.get("per_model_s", 0.0))  # fmt: skip
        lines.append(f"calibration: {c.describe()}")
    d = data.get("distinct")
    if d and (d["configs"], d["trials"]) != (data["total"]["configs"], data["total"]["trials"]):
        lines.append(
            f"distinct: {d['configs']} configs, {d['trials']} trials (sweeps share configs, which "
            "train once: the total row is an upper bound)"
        )
    lines.append(f"FLOPs: {data['flops_formula']}")
    return "\n".join(lines)


# ---------------------------------------------------------------- what the commands call


def plan_report(sweeps, device: str = "cpu", workers: int | None = None, threads: int = 1,
                calibrate_eta: bool = True) -> dict:  # fmt: skip
    """The plan of loaded sweeps as :func:`plan_dict` data: counts, and an ETA timed here on ``device``."""
    dev = resolve_plan_device(device)
    workers = workers or default_workers(dev)
    plans = [plan_sweep(s, dev, workers) for s in sweeps]
    to_train = [plan_sweep(s, dev, workers) for s in unshared(sweeps)]
    cal = calibrate(dev, threads, plans) if calibrate_eta else None
    return plan_dict(plans, cal, workers, to_train)


def _stored_configs(store) -> tuple[dict[str, TrainConfig], dict[tuple[str, str], list[TrainConfig]]]:
    """(hash -> config, (sweep, size) -> its configs with their trial counts) from the store's tables."""
    import json

    c = store._conn
    configs = {
        h: TrainConfig.from_dict(json.loads(cfg)) for h, cfg in c.execute("SELECT config_hash, config FROM configs")
    }
    members: dict[tuple[str, str], list[TrainConfig]] = {}
    query = "SELECT sweep, size, config_hash, trials FROM sweeps ORDER BY sweep, size, position"
    for sweep, size, h, trials in c.execute(query):
        members.setdefault((sweep, size), []).append(dataclasses.replace(configs[h], trials=int(trials)))
    return configs, members


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
        plan = BatchPlan((config_plan(configs[h]),), (int(rows["trial"].nunique()),))
        samples.append((plan, float(rows["seconds"].astype(float).sum())))
    if not samples:
        return None
    devices = sorted({str(d) for d in done["device"].dropna()})
    return fit(samples, ",".join(devices) or "unknown", 1, f"store, {len(samples)} configs timed")


def remaining(store, sweeps=None) -> dict[tuple[str, str], float | None]:
    """(sweep, size) -> estimated seconds of one worker for its pending trials (None: nothing timed yet).

    Pending: neither done nor failed. The time of a config's pending trials comes from
    :func:`store_calibration`: the speed of the runs stored so far.
    """
    from fpe_train.sweeps.store import config_hash

    stored, members = _stored_configs(store)
    groups = {(s.name, s.size): list(s.configs) for s in sweeps} if sweeps else members
    cal = store_calibration(store.frame(), stored)
    out = {}
    for key, configs in groups.items():
        status = store.trial_status(config_hash(c) for c in configs)
        pending = [(c, sum((config_hash(c), t) not in status for t in range(c.trials))) for c in configs]
        pending = [(c, n) for c, n in pending if n]
        if not pending:
            out[key] = 0.0
        elif cal is None:
            out[key] = None
        else:
            out[key] = sum(cal.batch_seconds(BatchPlan((config_plan(c),), (n,))) for c, n in pending)
    return out
