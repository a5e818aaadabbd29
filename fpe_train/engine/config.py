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
from dataclasses import dataclass, field

from fpe_theory.validate import check_int

TASKS = ("boolean", "digits", "mnist1d", "fashion_mnist", "embeddings")
SPLIT_NAMES = ("random", "clause", "gram", "structured_2_4", "overlap", "dropconnect")
DEVICES = ("auto", "cpu", "cuda")
FEATURES = ("clause_sum", "clause_mean", "literal")


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
    n_test: int = _f(2000, "test samples (boolean; drawn independently of the training set)")
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
    record_warmup: bool = _f(False, "also return rows 'dense_warmup': the dense models at the split (after warm-up)")
    data_path: str | None = _f(None, "user data file (task=embeddings), read by fpe_train.engine.datasets")
    curve_every: int = _f(0, "record every model's test accuracy every N epochs (row field test_curve; 0 = off)")

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r}: must be one of {', '.join(TASKS)}")
        for name, lo in (("clauses", 1), ("k", 1), ("r", 1), ("alpha", 2), ("trials", 1), ("epochs", 0),
                         ("warmup_epochs", 0), ("depth", 1), ("n_train", 2), ("n_test", 2), ("batch_size", 1),
                         ("seed", 0), ("rewire_every", 0)):  # fmt: skip
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=lo))
        splits = (self.splits,) if isinstance(self.splits, str) else tuple(self.splits)
        object.__setattr__(self, "splits", splits)
        for s in splits:
            if s not in SPLIT_NAMES:
                raise ValueError(f"split={s!r}: unknown split; known: {', '.join(SPLIT_NAMES)}")
        if len(set(splits)) != len(splits):
            raise ValueError(f"splits={splits!r}: names must not repeat")
        if "structured_2_4" in splits and self.alpha != 2:
            raise ValueError(f"split='structured_2_4' with alpha={self.alpha}: 2:4 sparsity needs alpha=2")
        if "clause" in splits and self.task != "boolean":
            raise ValueError(f"split='clause' with task={self.task!r}: needs clause structure (task=boolean)")
        if self.device not in DEVICES:
            raise ValueError(f"device={self.device!r}: must be one of {', '.join(DEVICES)}")
        if self.features not in FEATURES:
            raise ValueError(f"features={self.features!r}: must be one of {', '.join(FEATURES)}")
        for name in ("lr", "l1", "l2", "tau", "rewire_fraction"):
            x = float(getattr(self, name))
            if math.isnan(x) or x < 0:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be a number >= 0")
            object.__setattr__(self, name, x)
        if not 0 < self.lr <= 1e30:
            raise ValueError(f"lr={self.lr!r}: must lie in (0, 1e30]")
        if not self.tau <= 1:
            raise ValueError(f"tau={self.tau!r}: must lie in [0, 1]")
        if not 0 < self.rewire_fraction < 1:
            raise ValueError(f"rewire_fraction={self.rewire_fraction!r}: must lie in (0, 1)")
        if isinstance(self.curve_every, bool) or not isinstance(self.curve_every, int) or self.curve_every < 0:
            raise ValueError(f"curve_every={self.curve_every!r}: must be an integer >= 0")
        if not isinstance(self.record_warmup, bool):
            raise ValueError(f"record_warmup={self.record_warmup!r}: must be true or false")
        if self.task == "boolean" and self.m < 2:
            raise ValueError(f"m={self.m}: the boolean task needs m = clauses * k >= 2")

    @property
    def m(self) -> int:
        """m = clauses * k, Boolean literals (input width of the boolean task)."""
        return self.clauses * self.k

    @property
    def expanded_neurons(self) -> int:
        """alpha * r, the width of an expanded layer."""
        return self.alpha * self.r

    @property
    def variants(self) -> tuple[str, ...]:
        """``dense`` followed by each split name."""
        return ("dense", *self.splits)

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
        if "splits" in d and not isinstance(d["splits"], str):
            d["splits"] = tuple(d["splits"])
        return cls(**d)

    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name -> help text."""
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}
