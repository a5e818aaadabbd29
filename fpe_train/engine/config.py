"""One training experiment, one frozen config (docs/interfaces.md, docs/training.md).

``TrainConfig`` holds every choice of a run: the task, the network (r neurons, depth),
the expansion (alpha, splits), the schedule (warm-up epochs, fine-tune epochs) and the
optimiser (Adam, lr, batch, L1 on W1, L2 on all parameters; paper A.3.1 defaults).
Every field carries help text in its metadata; derived values are properties.

>>> c = TrainConfig(clauses=8, k=4, r=8, alpha=2, splits=("random", "clause"))
>>> (c.m, c.expanded_neurons, c.variants)
(32, 16, ('dense', 'random', 'clause'))
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field

from fpe_theory.families import check_structured_2_4_alpha
from fpe_theory.validate import check_int
from fpe_train.fpe.names import SPLIT_NAMES

TASKS = ("boolean", "digits", "mnist1d", "fashion_mnist", "embeddings")
DEVICES = ("auto", "cpu", "cuda")
FEATURES = ("clause_sum", "clause_mean", "literal")


# Integer fields: (minimum, and a ceiling far above any experiment of the paper that keeps
# a typo such as trials=1e12 from reaching an allocation).
INT_MINIMA = {
    "clauses": 1,
    "k": 1,
    "r": 1,
    "alpha": 2,
    "trials": 1,
    "epochs": 0,
    "warmup_epochs": 0,
    "depth": 1,
    "n_train": 2,
    "n_test": 2,
    "batch_size": 1,
    "seed": 0,
    "rewire_every": 0,
    "curve_every": 0,
}
INT_MAXIMA = {
    "clauses": 1 << 20,
    "k": 1 << 20,
    "r": 1 << 20,
    "alpha": 1 << 16,
    "trials": 100_000,
    "epochs": 10**8,
    "warmup_epochs": 10**8,
    "depth": 64,
    "n_train": 10**9,
    "n_test": 10**9,
    "batch_size": 10**9,
    "seed": 2**63 - 1,
    "rewire_every": 10**12,
    "curve_every": 10**8,
}
MAX_BYTES = 1 << 38  # 256 GiB: estimated memory of one config (data + parameters, gradients, Adam state)
MAX_FLOPS = 1e19  # estimated training arithmetic of one config (about 3 hours at 1 PFLOP/s)
INPUT_WIDTHS = {"digits": 64, "mnist1d": 40, "fashion_mnist": 784}  # embeddings: known once the file is read
N_CLASSES = {"digits": 10, "mnist1d": 10, "fashion_mnist": 10, "boolean": 2}


def _check_types(config) -> None:
    """Each field against its annotation: bool is not a number, a number is not a string, and so on."""
    for f in dataclasses.fields(config):
        value, kind = getattr(config, f.name), str(f.type)
        if kind == "int" or kind == "float":
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(
                    f"{f.name}={value!r}: must be a number" + (", not true/false" if isinstance(value, bool) else "")
                )
            if kind == "int" and f.name not in INT_MINIMA:
                object.__setattr__(config, f.name, check_int(f.name, value))
        elif kind == "bool" and not isinstance(value, bool):
            raise ValueError(f"{f.name}={value!r}: must be true or false")
        elif kind == "str" and not isinstance(value, str):
            raise ValueError(f"{f.name}={value!r}: must be a string")
        elif kind == "str | None" and value is not None:
            if not isinstance(value, (str, os.PathLike)):
                raise ValueError(f"{f.name}={value!r}: must be a path (a string)")
            object.__setattr__(config, f.name, os.fspath(value))
        elif kind == "tuple":
            items = (value,) if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
                raise ValueError(f"{f.name}={value!r}: must be a list of names (strings)")


def _check_widths(config) -> None:
    """What every split needs of the input width, refused here rather than in every trial."""
    width = config.m if config.task == "boolean" else INPUT_WIDTHS.get(config.task)
    if width is None:
        return
    where = f"m={width}" if config.task == "boolean" else f"{config.task} inputs={width}"
    if config.alpha > width:
        raise ValueError(f"alpha={config.alpha}: must be <= {where} (every child needs an input)")
    if "structured_2_4" in config.splits and width % 4:
        raise ValueError(f"split='structured_2_4' with {where}: needs a multiple of 4 inputs")
    if "clause" in config.splits and config.clauses < config.alpha:
        raise ValueError(
            f"alpha={config.alpha}: the clause split deals whole clauses, needs clauses={config.clauses} >= alpha"
        )


def _check_budget(config) -> None:
    """Refuse a config whose memory or arithmetic estimate is out of reach, before anything is allocated."""
    n_bytes, flops = config.cost_estimate
    if n_bytes > MAX_BYTES:
        raise ValueError(
            f"trials={config.trials}, r={config.r}, n_train={config.n_train}: needs about {n_bytes / 2**30:.3g} GiB "
            f"(data + {config.trials} x {len(config.variants)} models); the limit is {MAX_BYTES / 2**30:.0f} GiB"
        )
    if flops > MAX_FLOPS:
        raise ValueError(
            f"epochs={config.total_epochs}, n_train={config.n_train}, trials={config.trials}: about {flops:.3g} "
            f"floating-point operations; the limit is {MAX_FLOPS:.0e}"
        )


def _f(default, help: str, **kw):
    return field(default=default, metadata={"help": help}, **kw)


@dataclass(frozen=True)
class TrainConfig:
    """A training experiment: dense baseline vs FPE variants, ``trials`` models each."""

    task: str = _f("boolean", "boolean (DNF, Algorithm A2) or a vision task loaded by fpe_train.engine.datasets")
    clauses: int = _f(8, "C, number of disjoint clauses (boolean task)")
    k: int = _f(4, "literals per clause (boolean task); m = clauses * k")
    r: int = _f(8, "r, hidden neurons of the dense model (= FPE parents)")
    alpha: int = _f(2, "expansion factor: each parent becomes alpha children")
    splits: tuple = _f(("random", "clause"), "FPE split strategies (registry names of fpe_train.fpe.splits)")
    trials: int = _f(5, "independent models per variant (different init and masks)")
    epochs: int = _f(1000, "fine-tune epochs after the split (paper: N = 1000)")
    warmup_epochs: int = _f(1000, "dense epochs before the split (paper: W = 1000); dense trains warmup+epochs")
    depth: int = _f(1, "hidden layers (1 = section 2.1; >1 adds LayerNorm before each activation, A.7)")
    n_train: int = _f(10000, "training samples (boolean; the paper does not say; our choice)")
    n_test: int = _f(10000, "test samples (boolean; drawn independently of the training set)")
    batch_size: int = _f(500, "minibatch size B (paper A.3.1: 500)")
    lr: float = _f(1e-3, "Adam learning rate (paper A.3.1: 1e-3)")
    l1: float = _f(1e-7, "L1 penalty on the first layer's (masked) weights (paper: 1e-7)")
    l2: float = _f(1e-5, "L2 penalty (sum of squares) on all parameters (paper: 1e-5)")
    seed: int = _f(0, "master seed: data, initial weights, masks and batch order derive from it")
    device: str = _f("auto", "auto | cpu | cuda")
    tau: float = _f(0.1, "learned support: |w| >= tau * max|w| of that neuron")
    rewire_every: int = _f(0, "dynamic rewiring every T optimiser steps after the split (0 = fixed masks)")
    rewire_fraction: float = _f(0.1, "fraction of each model's active weights pruned and regrown per rewiring")
    features: str = _f("clause_sum", "feature vectors for capacity: clause_sum | clause_mean | literal")
    record_warmup: bool = _f(True, "also return rows 'dense_warmup': the dense models at the split (after warm-up)")
    dense_fresh: bool = _f(
        False,
        "also train and return 'dense_fresh': the dense model continued from the split "
        "with a fresh Adam, as the FPE forks start (measures the Adam-state asymmetry)",
    )
    data_path: str | None = _f(None, "user data file (task=embeddings), read by fpe_train.engine.datasets")
    curve_every: int = _f(0, "record every model's test accuracy every N epochs (row field test_curve; 0 = off)")
    data_per_trial: bool = _f(
        True,
        "each trial draws its own training and test sample (false: one dataset for every trial, the paper's protocol)",
    )

    def __post_init__(self) -> None:
        _check_types(self)
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r}: must be one of {', '.join(TASKS)}")
        for name, lo in INT_MINIMA.items():
            value = check_int(name, getattr(self, name), minimum=lo, maximum=INT_MAXIMA.get(name))
            object.__setattr__(self, name, value)
        splits = (self.splits,) if isinstance(self.splits, str) else tuple(self.splits)
        object.__setattr__(self, "splits", splits)
        if not splits:
            raise ValueError("splits=(): name at least one split (known: " + ", ".join(SPLIT_NAMES) + ")")
        for s in splits:
            if s not in SPLIT_NAMES:
                raise ValueError(f"split={s!r}: unknown split; known: {', '.join(SPLIT_NAMES)}")
        if len(set(splits)) != len(splits):
            raise ValueError(f"splits={splits!r}: names must not repeat")
        if "structured_2_4" in splits:
            check_structured_2_4_alpha(self.alpha)
        if "clause" in splits and self.task != "boolean":
            raise ValueError(f"split='clause' with task={self.task!r}: needs clause structure (task=boolean)")
        if self.device not in DEVICES:
            raise ValueError(f"device={self.device!r}: must be one of {', '.join(DEVICES)}")
        if self.features not in FEATURES:
            raise ValueError(f"features={self.features!r}: must be one of {', '.join(FEATURES)}")
        for name in ("lr", "l1", "l2", "tau", "rewire_fraction"):
            x = float(getattr(self, name))
            if not math.isfinite(x) or x < 0:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be a finite number >= 0")
            object.__setattr__(self, name, x)
        if not 0 < self.lr <= 1e30:
            raise ValueError(f"lr={self.lr!r}: must lie in (0, 1e30]")
        if not self.tau <= 1:
            raise ValueError(f"tau={self.tau!r}: must lie in [0, 1]")
        if not 0 < self.rewire_fraction < 1:
            raise ValueError(f"rewire_fraction={self.rewire_fraction!r}: must lie in (0, 1)")
        if self.task == "boolean" and self.m < 2:
            raise ValueError(f"m={self.m}: the boolean task needs m = clauses * k >= 2")
        if self.task == "boolean" and self.data_path is not None:
            raise ValueError(
                f"data_path={self.data_path!r}: task='boolean' generates its data; data_path is for fashion_mnist "
                "and embeddings"
            )
        _check_widths(self)
        _check_budget(self)

    @property
    def m(self) -> int:
        """m = clauses * k, Boolean literals (input width of the boolean task)."""
        return self.clauses * self.k

    @property
    def expanded_neurons(self) -> int:
        """alpha * r, the width of an expanded layer."""
        return self.alpha * self.r

    @property
    def cost_estimate(self) -> tuple[float, float]:
        """(bytes, flops): rough memory and training arithmetic of this config (what the limits check).

        Memory: float32 data (n_train + n_test) x inputs (once per trial with ``data_per_trial``), plus per
        model 5 floats per weight
        (weight, mask, gradient, two Adam moments) and one batch of activations. Arithmetic:
        6 flops per weight per sample per epoch (forward and backward).
        """
        width = self.m if self.task == "boolean" else INPUT_WIDTHS.get(self.task, 1024)
        h, n_out = self.alpha * self.r, N_CLASSES.get(self.task, 100)
        weights = h * width + (self.depth - 1) * h * h + h * n_out + self.r * width  # dense and expanded
        models = self.trials * (1 + len(self.splits))
        datasets = self.trials if self.data_per_trial else 1
        n_bytes = 4.0 * datasets * (self.n_train + self.n_test) * width + models * (
            20.0 * weights + 4.0 * self.batch_size * h * self.depth
        )
        flops = 6.0 * models * weights * float(self.n_train) * (self.warmup_epochs + self.epochs)
        return n_bytes, flops

    @property
    def variants(self) -> tuple[str, ...]:
        """The models trained per trial: ``dense``, ``dense_fresh`` (with ``dense_fresh``), then each split."""
        return ("dense", *(("dense_fresh",) if self.dense_fresh else ()), *self.splits)

    @property
    def total_epochs(self) -> int:
        """Epochs every model trains (dense: warm-up + continuation; FPE: warm-up + fine-tune)."""
        return self.warmup_epochs + self.epochs

    def run_name(self, variant: str = "dense", trial: int | None = None) -> str:
        """Deterministic name, e.g. ``boolean__c8__r8__alpha2__random__seed3``."""
        parts = [self.task, f"c{self.clauses}", f"r{self.r}", f"alpha{self.alpha}", variant, f"seed{self.seed}"]
        if trial is not None:
            parts.append(f"trial{trial}")
        return "__".join(parts)

    def to_dict(self) -> dict:
        """Plain-Python dict (tuples become lists), JSON-able."""
        d = dataclasses.asdict(self)
        d["splits"] = list(self.splits)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Build and validate from a dict; an unknown key raises ValueError naming it."""
        names = {f.name for f in dataclasses.fields(cls)}
        for key in d:
            if key not in names:
                raise ValueError(f"{key}={d[key]!r}: unknown TrainConfig field")
        d = dict(d)
        if isinstance(d.get("splits"), list):
            d["splits"] = tuple(d["splits"])
        return cls(**d)

    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name -> help text."""
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}
