"""What configs must share to train in one batch (``schedule_key``) or to read one dataset (``data_key``), and
which path trains a config (``path_of``: the compiled CPU kernel, the compiled deep epoch or torch).

Both are plain tuples of config fields, so the batch planner (``fpe_train.engine.batch``), the CPU kernel's
runner and the task loader agree on them without importing one another.

>>> from fpe_train.engine.config import TrainConfig
>>> schedule_key(TrainConfig(r=4)) == schedule_key(TrainConfig(r=8))  # widths differ only in shape
True
>>> data_key(TrainConfig(r=4), trial=3) == data_key(TrainConfig(r=8), trial=3)
True
"""

from __future__ import annotations

import os

UNSUPPORTED_SPLITS = ("dropconnect",)  # masks redrawn during training: the torch path
# The kernel's first-layer products are hand-written up to these many weights (a dense model) or unmasked weights
# (a masked one), through BLAS above (the measured crossovers, docs/performance.md); the plan counts FLOPs so.
HAND_MAX_DENSE, HAND_MAX_MASKED = 5120, 2560


def cuda_present() -> bool:
    """Whether a CUDA GPU is usable; answered without torch where no NVIDIA driver is installed."""
    if not (os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidia0")):
        return False
    import torch  # keeps torch out where there is a driver to ask only

    return bool(torch.cuda.is_available())


def on_kernel(config) -> bool:
    """Whether the compiled CPU kernel trains ``config``: one hidden layer, fixed masks, on the CPU."""
    return (
        config.depth == 1
        and config.rewire_every == 0
        and not set(config.splits) & set(UNSUPPORTED_SPLITS)
        and (config.device == "cpu" or (config.device == "auto" and not cuda_present()))
    )


def on_deep_kernel(config) -> bool:
    """Whether a config's epochs run compiled on the CPU inside the torch path: more than one hidden layer,
    fixed masks, on the CPU (the one-hidden-layer case is :func:`on_kernel`'s)."""
    return (
        config.depth > 1
        and config.rewire_every == 0
        and not set(config.splits) & set(UNSUPPORTED_SPLITS)
        and (config.device == "cpu" or (config.device == "auto" and not cuda_present()))
    )


def path_of(config) -> str:
    """Which path trains ``config``: ``kernel`` (:func:`on_kernel`), ``deep`` (:func:`on_deep_kernel`) or
    ``torch`` (CUDA, masks that change while training)."""
    return "kernel" if on_kernel(config) else "deep" if on_deep_kernel(config) else "torch"


def schedule_key(config) -> tuple:
    """Fields that must agree for configs to step together: the steps (epochs, warm-up, batch size, n_train),
    the task data (task, file, n_test, master seed; the Boolean m and k may differ: inputs are padded),
    the depth, the device and the curve interval."""
    return (
        config.task,
        config.epochs,
        config.warmup_epochs,
        config.batch_size,
        config.n_train,
        config.n_test,
        config.depth,
        config.device,
        config.curve_every,
        config.data_path,
        config.seed,
    )


def data_key(config, trial: int | None = None) -> tuple:
    """What a trial's dataset depends on: the Boolean data on (n_train, n_test, m, k, seed), a vision set on
    (task, data_path, n_train, n_test, seed), and, with ``config.data_per_trial``, the trial. Models with equal
    keys share one dataset (trial t of configs that differ only in r, alpha or the splits read one sample)."""
    if config.task == "boolean":
        key = ("boolean", config.n_train, config.n_test, config.m, config.k, config.seed)
    else:
        key = (config.task, config.data_path, config.n_train, config.n_test, config.seed)
    return (*key, int(trial)) if trial is not None and config.data_per_trial else key
