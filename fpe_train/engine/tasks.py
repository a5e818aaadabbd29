"""A trial's data, without torch: which dataset each (config, trial) reads, and the clause list of a task.

``load_task(config, trial)`` -> ``(X_train, y_train, X_test, y_test, n_out, clauses)`` numpy arrays (clauses
None for vision tasks); ``load_datasets([(config, trial)])`` loads each distinct dataset of a batch once
(``fpe_train.engine.keys.data_key``) and says which one each trial reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from fpe_theory.problem import clause_blocks
from fpe_train.engine.keys import data_key
from fpe_train.fpe.names import check_split


def load_task(config, trial: int | None = None):
    """(X_train, y_train, X_test, y_test, n_out, clauses) as numpy arrays; clauses None for vision tasks.

    ``trial``: that trial's own sample when ``config.data_per_trial`` (else, or None, the config's one dataset).
    """
    trial = trial if config.data_per_trial else None
    if config.task == "boolean":
        return (
            *_boolean(config.n_train, config.n_test, config.m, config.k, config.seed, trial),
            1,
            task_clauses(config),
        )
    from fpe_train.engine.datasets import load_dataset  # keeps numpy out until used

    X_train, y_train, X_test, y_test, n_classes = load_dataset(config, trial)
    return X_train, y_train, X_test, y_test, int(n_classes), None


_KEPT: dict[tuple, tuple] = {}  # Boolean datasets drawn in this process, the latest last (read-only arrays)
KEEP_BYTES = 64 << 20  # at most this much of them kept


def _boolean(n_train: int, n_test: int, m: int, k: int, seed: int, trial: int | None) -> tuple:
    """(X_train, y_train, X_test, y_test) of ``data.boolean_splits``, drawn once per process while they fit in
    ``KEEP_BYTES`` (a sweep's configs that differ in r, alpha or the splits read the same data, each its own
    batch); read-only, so that no reader can change another's data."""
    key = (n_train, n_test, m, k, seed, trial)
    if key in _KEPT:
        _KEPT[key] = _KEPT.pop(key)  # now the latest
        return _KEPT[key]
    from fpe_train.engine.data import boolean_splits  # keeps numpy out until used

    tr, te = boolean_splits(n_train, n_test, m, k, seed, trial)
    got = (tr.X, tr.y, te.X, te.y)
    for a in got:
        a.flags.writeable = False
    _KEPT[key] = got
    while sum(a.nbytes for kept in _KEPT.values() for a in kept) > KEEP_BYTES and len(_KEPT) > 1:
        del _KEPT[next(iter(_KEPT))]  # the least recently read
    return got


def task_clauses(config) -> list[list[int]] | None:
    """The theory's clause list of a Boolean config (None for vision tasks)."""
    if config.task != "boolean":
        return None

    return [list(c) for c in clause_blocks(config.m, config.k)]


def load_datasets(trials: Sequence[tuple]) -> tuple[list[tuple], list[int]]:
    """The distinct datasets of ``trials`` [(config, trial)] (``load_task`` tuples) and each trial's index."""
    keys, tasks, index = {}, [], []
    for c, t in trials:
        key = data_key(c, t)
        if key not in keys:
            keys[key] = len(tasks)
            tasks.append(load_task(c, t))
        index.append(keys[key])
        _check_splits(c, tasks[index[-1]][0].shape[1], tasks[index[-1]][5])
    n_outs = {t[4] for t in tasks}
    if len(n_outs) != 1:
        raise ValueError(f"n_out={sorted(n_outs)}: configs of one batch must have one output width")
    n_tr, n_te = {len(t[1]) for t in tasks}, {len(t[3]) for t in tasks}
    if len(n_tr) != 1 or len(n_te) != 1:
        raise ValueError(f"n_train={sorted(n_tr)}, n_test={sorted(n_te)}: configs of one batch need equal set sizes")
    return tasks, index


def _check_splits(config, n_in: int, clauses) -> None:
    for s in config.splits:
        check_split(s, config.alpha, n_in, clauses)
