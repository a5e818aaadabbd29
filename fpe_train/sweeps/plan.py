"""A plan before the work: what a sweep will train and how much arithmetic and memory that is (nothing is
trained). How long it takes here: ``fpe_train.sweeps.calibrate`` (timing this machine) and
``fpe_train.sweeps.eta`` (the ETA and the printed plan).

Counts, per sweep:

- ``configs``, ``trials`` (the sum of ``config.trials``), ``models`` = trials x variants (dense, dense_fresh
  when asked, then the splits);
- ``model_epochs``: the epochs trained, summed over models: trials x (warmup_epochs + epochs) for the
  dense models plus trials x (splits + dense_fresh) x epochs for the models forked at the split (the
  warm-up is trained once, on the dense models, and shared by every fork);
- ``batches``: the configs trained as one batch, as a sweep run batches them
  (``fpe_train.engine.batch.batch_jobs``: by schedule, shape bucket and memory);
- ``steps`` of a batch: its optimiser steps, (warmup_epochs + epochs) x ceil(n_train / batch_size) (the
  warm-up batch, then the forked batch, each steps all its models at once); ``deep_steps``: steps x the
  hidden layers beyond the first.

FLOPs (fp32, forward + backward of the batched MLP; biases counted like weights)::

    train = 6 x P x n_train      per model and epoch  (forward 2 P per sample, backward 4 P)
    eval  = 2 x P x (n_train + n_test) per model once, plus 2 x P x n_test per curve point (curve_every)

``P = sum over layers of out x (in + 1)`` of the shape the engine computes: masked entries are
multiplied too (``W * M`` is a dense tensor), so an FPE model of alpha x r neurons costs its full
width. The warm-up trains the dense models at the dense shape; after the split the engine trains every
model of the batch, the dense continuation included, as one batch at the FPE shape. A batch of several
configs is padded to their largest shape, so its FLOPs are those of the padded models. DropConnect
resampling and rewiring are not counted (a few elementwise passes per step). On the compiled CPU kernel
(``ConfigCounts.kernel``) nothing is padded: every model at its own shape, the dense continuation at the
dense shape, and an FPE model's first layer trained over m r weights (at least its unmasked ones) up to
``keys.HAND_MAX_MASKED`` (the hand-written products skip masked weights; BLAS above multiplies them all).

Memory of a batch (bytes, an estimate from shapes; the warm-up and the forked live batch are both alive
at the split)::

    sum over live batches of  4 x (4 E P + E W + 4 E B H + 2 E H min(n_eval, 4096))  +  E W   (bool masks)
                     +  4 x (n_train + n_test) x (n_in + 1)                       (data on the device)

with E the live batch's models, W its weight entries, B the minibatch, H the hidden widths plus the
outputs: parameters, gradients and Adam's two moments, the masked weights, activations and their
gradients, the evaluation chunk of ``accuracy``.

>>> from fpe_train.engine.config import TrainConfig
>>> c = config_counts(TrainConfig(clauses=2, k=4, r=2, alpha=2, splits=("random",), trials=3, epochs=2,
...                             warmup_epochs=1, n_train=100, n_test=50))
>>> (c.models, c.model_epochs, c.dense_sizes, c.fpe_sizes)
(6, 15, (8, 2, 1), (8, 4, 1))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from fpe_train.engine.batch import batch_jobs
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.keys import HAND_MAX_MASKED, on_kernel, path_of
from fpe_train.fpe.names import expanded_layers
from fpe_train.sweeps.store import config_hash

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
    from fpe_train.engine import datasets  # keeps numpy out until used

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
    widened = set(expanded_layers(len(dense_sizes) - 1))
    return tuple(s * alpha if j - 1 in widened else s for j, s in enumerate(dense_sizes))


@dataclass(frozen=True)
class ConfigCounts:
    """One config's counts (see the module docstring for the formulas)."""

    config: TrainConfig
    n_in: int
    n_out: int
    n_train: int
    n_test: int
    dense_sizes: tuple[int, ...]
    fpe_sizes: tuple[int, ...]

    @property
    def forks(self) -> int:
        """Models started at the split from each trial's warm-up: the splits, and dense_fresh when asked."""
        return len(self.config.variants) - 1

    @property
    def models(self) -> int:
        return self.config.trials * len(self.config.variants)

    @property
    def model_epochs(self) -> int:
        """Epochs trained, summed over models: dense warmup + epochs, each fork its epochs (shared warm-up)."""
        return self.config.trials * (self.config.total_epochs + self.forks * self.config.epochs)

    @property
    def steps(self) -> int:
        """Optimiser steps of the batch: (warm-up + fine-tune epochs) x ceil(n_train / batch_size)."""
        return self.config.total_epochs * -(-self.n_train // self.config.batch_size)

    @property
    def curve_points(self) -> int:
        every = self.config.curve_every
        return self.config.total_epochs // every if every else 0

    @property
    def kernel(self) -> bool:
        """Trained by the compiled CPU kernel (``fpe_train.engine.keys.on_kernel``), which counts otherwise."""
        return on_kernel(self.config)

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_train // self.config.batch_size)

    @property
    def flops(self) -> float:
        """FLOPs of this config trained alone, dense and FPE models at their own shapes."""
        if self.kernel:
            return _kernel_flops(self, self.config.trials)
        return _flops([(self, self.config.trials)], self.dense_sizes, self.fpe_sizes)


def config_counts(config: TrainConfig) -> ConfigCounts:
    """The counts of one config (reads at most file headers)."""
    n_in, n_out, n_train, n_test = task_shape(config)
    dense = (n_in, *([config.r] * config.depth), n_out)
    return ConfigCounts(config, n_in, n_out, n_train, n_test, dense, fpe_sizes(dense, config.alpha))


def _flops(jobs, dense_sizes, fpe_sizes) -> float:
    """Training + evaluation FLOPs of ``jobs`` = [(ConfigCounts, trials)] at the given (padded) shapes: the
    warm-up at the dense shape, then every model (the dense continuation included) at the FPE shape."""
    Pd, Pf = layer_params(dense_sizes), layer_params(fpe_sizes)
    total = 0.0
    for c, trials in jobs:
        cfg, n_eval = c.config, c.n_train + c.n_test
        after = trials * (1 + c.forks)  # models after the split: the dense continuation and the forks
        total += 6.0 * c.n_train * (Pd * trials * cfg.warmup_epochs + Pf * after * cfg.epochs)
        total += 2.0 * n_eval * (Pf * after + Pd * trials * cfg.record_warmup)
        total += 2.0 * c.n_test * c.curve_points * Pf * after
    return total


def _kernel_flops(c: ConfigCounts, trials: int) -> float:
    """FLOPs of ``trials`` trials of one config on the CPU kernel: every model at its own shape (the dense
    continuation at the dense shape), an FPE model's first-layer products over m r weights (a split deals each
    parent's inputs among its children, none twice: an upper bound of the unmasked ones) where the kernel's
    hand-written products skip the masked ones (up to ``HAND_MAX_MASKED``; BLAS multiplies them all above);
    evaluation at full shapes."""
    cfg, n_eval = c.config, c.n_train + c.n_test
    Pd, Pf = layer_params(c.dense_sizes), layer_params(c.fpe_sizes)
    full, unmasked = c.fpe_sizes[0] * c.fpe_sizes[1], c.dense_sizes[0] * c.dense_sizes[1]
    Pf_train = Pf - full + (unmasked if unmasked <= HAND_MAX_MASKED else full)
    splits = len(cfg.splits)
    dense_after = 1 + c.forks - splits  # the dense continuation, and dense_fresh when asked
    total = 6.0 * c.n_train * trials * (Pd * cfg.warmup_epochs + (dense_after * Pd + splits * Pf_train) * cfg.epochs)
    evaluated = trials * (dense_after * Pd + splits * Pf)
    total += 2.0 * n_eval * (evaluated + Pd * trials * cfg.record_warmup)
    total += 2.0 * c.n_test * c.curve_points * evaluated
    return total


TERM_NAMES = (
    "configs",
    "trials",
    "models",
    "steps",
    "model_steps",
    "model_samples",
    "layer_steps",
    "layer_samples",
    "dynamic_steps",
    "rewires",
    "multi_steps",
    "multi_samples",
    "multi_units",
    "data",
    "reads",
    "evals",
    "flops",
    "flops_masked",
    "flops_multi",
)


def _hand_masked_flops(c: ConfigCounts, trials: int) -> float:
    """The training FLOPs of ``_kernel_flops`` that an FPE model's first layer spends in the kernel's
    hand-written masked products (m r unmasked weights up to ``HAND_MAX_MASKED``; 0 above, where BLAS runs)."""
    unmasked = c.dense_sizes[0] * c.dense_sizes[1]
    if unmasked > HAND_MAX_MASKED:
        return 0.0
    return 6.0 * c.n_train * trials * len(c.config.splits) * unmasked * c.config.epochs


def _padded(shapes) -> tuple[int, ...]:
    return tuple(max(col) for col in zip(*shapes, strict=True))


@dataclass(frozen=True)
class BatchCounts:
    """The counts of a batch: configs (``configs``, ``trials`` of each) trained as one batch, shapes padded to
    the largest config (``fpe_train.engine.run.run_batch``: the dense warm-up, then every variant as one batch)."""

    configs: tuple[ConfigCounts, ...]
    trials: tuple[int, ...]

    @property
    def jobs(self) -> list[tuple[ConfigCounts, int]]:
        """(config counts, trials) of each job of the batch."""
        return list(zip(self.configs, self.trials, strict=True))

    @property
    def same_depth(self) -> bool:
        return len({len(c.dense_sizes) for c in self.configs}) == 1

    @property
    def steps(self) -> int:
        return max(c.steps for c in self.configs)

    @property
    def models(self) -> int:
        return sum(t * len(c.config.variants) for c, t in self.jobs)

    @property
    def deep_steps(self) -> int:
        """Steps x hidden layers beyond the first (LayerNorm and one more layer each): 0 at depth 1."""
        return self.steps * max(c.config.depth - 1 for c in self.configs)

    @property
    def path(self) -> str:
        """The path that trains the batch (``keys.path_of``); a batch that mixes paths is on torch."""
        paths = {path_of(c.config) for c in self.configs}
        return paths.pop() if len(paths) == 1 else "torch"

    def terms(self) -> dict[str, float]:
        """What the cost model (``fpe_train.sweeps.calibrate``) multiplies by its coefficients: configs, trials,
        models, batch steps, model-steps (each model's optimiser steps), model-samples (each model's training
        samples: what grows with the minibatch, whatever the width), model-steps and model-samples x hidden layers
        beyond the first, model-steps of models whose masks are redrawn every step (DropConnect), rewiring events,
        Boolean data generated (samples x inputs: per trial with ``data_per_trial``), samples evaluated (each model on
        its training and test set at the end, and its test set per curve point), and FLOPs; on the kernel,
        also a multiclass model's hidden units times the rows they see (``multi_units``: what its passes over
        the hidden layer and its small BLAS products cost beyond their FLOPs, large for an FPE layer of many
        units with few inputs each), the inputs its minibatches gather (``reads``, once per trial and step), the
        model-steps of multiclass models (``multi_steps``: softmax cross-entropy through BLAS) and its FLOPs split
        three ways:
        an FPE first layer in the hand-written masked products (``flops_masked``), the rest with one logit
        (``flops``) or with classes (``flops_multi``)."""
        out = dict.fromkeys(TERM_NAMES, 0.0)
        out.update(configs=len(self.configs), trials=sum(self.trials), models=self.models, steps=self.steps)
        kernel = self.path == "kernel"
        for c, t in self.jobs:
            cfg = c.config
            model_epochs = t * (cfg.total_epochs + c.forks * cfg.epochs)
            model_steps = model_epochs * c.steps_per_epoch
            out["model_steps"] += model_steps
            samples = model_epochs * c.n_train  # rows of every model's minibatches
            out["model_samples"] += samples
            out["layer_steps"] += model_steps * (cfg.depth - 1)
            out["layer_samples"] += samples * (cfg.depth - 1)
            dynamic = "dropconnect" in cfg.splits  # its masks are redrawn every step
            out["dynamic_steps"] += t * dynamic * cfg.epochs * c.steps_per_epoch
            if cfg.rewire_every:  # each FPE model rewires every rewire_every of its steps
                out["rewires"] += t * len(cfg.splits) * (cfg.epochs * c.steps_per_epoch // cfg.rewire_every)
            if cfg.task == "boolean":
                out["data"] += (t if cfg.data_per_trial else 1) * (c.n_train + c.n_test) * c.n_in
            out["evals"] += t * len(cfg.variants) * (c.n_train + c.n_test + c.curve_points * c.n_test)
            if kernel:
                out["reads"] += t * cfg.total_epochs * c.n_train * c.n_in  # each trial's minibatches, gathered once
                out["multi_steps"] += model_steps * (c.n_out > 1)
                out["multi_samples"] += samples * (c.n_out > 1)
                fpe_epochs = t * len(cfg.splits) * cfg.epochs  # at the FPE width; the rest at the dense width
                hidden = (model_epochs - fpe_epochs) * c.dense_sizes[1] + fpe_epochs * c.fpe_sizes[1]
                out["multi_units"] += hidden * c.n_train * (c.n_out > 1)
                flops, masked = _kernel_flops(c, t), _hand_masked_flops(c, t)
                out["flops_multi" if c.n_out > 1 else "flops"] += flops - masked
                out["flops_masked"] += masked
        if not kernel:
            out["flops"] = self.flops
        return out

    def _shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        cs = self.configs
        if self.same_depth:
            return _padded([c.dense_sizes for c in cs]), _padded([c.fpe_sizes for c in cs])
        return max((c.dense_sizes for c in cs), key=sum), max((c.fpe_sizes for c in cs), key=sum)

    @property
    def flops(self) -> float:
        if all(c.kernel for c in self.configs):  # the kernel does not pad: the sum of its configs
            return sum(_kernel_flops(c, t) for c, t in self.jobs)
        if not self.same_depth:
            return sum(_flops([(c, t)], c.dense_sizes, c.fpe_sizes) for c, t in self.jobs)
        return _flops(self.jobs, *self._shapes())

    @property
    def memory_bytes(self) -> int:
        """Peak memory estimate of the batch (module docstring), at the padded shapes."""
        dense, fpe = self._shapes()
        n_eval = max(c.n_train + c.n_test for c in self.configs)
        B = max(min(c.config.batch_size, c.n_train) for c in self.configs)
        E_dense = sum(self.trials)
        E_after = sum(t * (1 + c.forks) for c, t in self.jobs)
        live = ((E_dense, dense), (E_after, fpe))  # the warm-up live batch and the forked one, both alive at the split
        total = 0
        for E, sizes in live:
            P, W, H = layer_params(sizes), layer_weights(sizes), sum(sizes[1:])
            total += BYTES * (4 * E * P + E * W + 4 * E * B * H + 2 * E * H * min(n_eval, EVAL_CHUNK)) + E * W
        return int(total + BYTES * sum((c.n_train + c.n_test) * (c.n_in + 1) for c in self.configs))


def count_batches(configs, device: str = "cpu", workers: int = 1) -> list[list[tuple]]:
    """The engine's batches ``[[(config, n_trials)]]``, as a sweep run batches them
    (``fpe_train.engine.batch.batch_jobs``: schedule, shape bucket, memory, at least ``workers`` batches
    where trials allow)."""
    batches = batch_jobs([(c, range(c.trials)) for c in configs], device, min_batches=workers)
    return [[(c, len(t)) for c, t in b] for b in batches]


@dataclass(frozen=True)
class SweepPlan:
    """A sweep's configs and batches with their counts."""

    name: str
    size: str
    configs: tuple[ConfigCounts, ...]
    batches: tuple[BatchCounts, ...]

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
    by_config = {c: config_counts(c) for c in sweep.configs}
    batched = count_batches(sweep.configs, device, workers)
    batches = tuple(BatchCounts(tuple(by_config[c] for c, _ in b), tuple(t for _, t in b)) for b in batched)
    return SweepPlan(sweep.name, sweep.size, tuple(by_config.values()), batches)


def unshared(sweeps) -> list:
    """Each sweep with only the configs (and trials) no earlier sweep of the list holds: what it trains when
    the sweeps run one after another into one store (trials are keyed by config hash without ``trials``)."""
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
    trials: dict[str, int] = {}
    for p in plans:
        for c in (cp.config for cp in p.configs):
            h = config_hash(c)
            trials[h] = max(trials.get(h, 0), c.trials)
    return {"configs": len(trials), "trials": sum(trials.values())}
