"""What configs must share to train in one batch (``schedule_key``) or to read one dataset (``data_key``).

Both are plain tuples of config fields, so the batch planner (``fpe_train.engine.batch``), the CPU kernel's
runner and the task loader agree on them without importing one another.

>>> from fpe_train.engine.config import TrainConfig
>>> schedule_key(TrainConfig(r=4)) == schedule_key(TrainConfig(r=8))  # widths differ only in shape
True
>>> data_key(TrainConfig(r=4), trial=3) == data_key(TrainConfig(r=8), trial=3)
True
"""

from __future__ import annotations


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
