"""Run configs as the paper does (3.1, A3): dense warm-up, split, fine-tune; many configs in one batch.

For every (config, trial) of a batch (``run_batch``; ``run_config`` is a batch of one config):

1. a dense model (r neurons) is initialised from the trial's own random stream and trained ``warmup_epochs``;
2. it is forked: the dense model continues unchanged (same tensors, same Adam state), and each split expands
   a copy of its warm-up weights (``fpe_train.fpe.expansion.expand_mlp``, Algorithm A1 with the alternating
   rule of A.7, masks from the trial's split random stream); the FPE models start a fresh Adam; with
   ``dense_fresh`` a second copy of the dense model continues with a fresh Adam too (variant ``dense_fresh``);
3. all of them train ``epochs`` more epochs; the dense model and its forks read the same minibatches (their
   trial's data order), so every comparison is paired; the dense baseline trains warmup + epochs in total;
4. one flat row per (trial, variant) with the fields of ``ROW_FIELDS`` (docs/interfaces.md): ``dense``,
   ``dense_warmup`` (the dense model at the split, with ``record_warmup``, on by default), ``dense_fresh``,
   then the splits.

Seeds (docs/training.md): trial t of a config draws everything model-specific (initial weights, data order,
split masks, resampling/rewiring) from ``numpy.random.SeedSequence(entropy=seed_entropy(config),
spawn_key=(t, stream, ...))``, where ``seed_entropy`` hashes the training fields of the config (not
``trials``, ``device`` or the evaluation-only fields). So a (config, trial) gives the same row alone, inside
any batch, with any trial count, on any executor; configs that differ (in alpha, say) get different trials.
Data (``data_per_trial``, on by default): trial t draws its own training and test sample of the task law
(``fpe_train.engine.keys.data_key``: the Boolean data depends on (n_train, n_test, m, k, seed, t)), shared by
trial t of every config with those values; with ``data_per_trial=False`` every trial reads one dataset.

>>> from fpe_train.engine.config import TrainConfig
>>> rows = run_config(TrainConfig(clauses=2, k=4, r=2, splits=("random",), trials=2, epochs=1,
...                               warmup_epochs=1, n_train=200, n_test=100, device="cpu"))
>>> [(r["trial"], r["variant"]) for r in rows]
[(0, 'dense'), (0, 'dense_warmup'), (0, 'random'), (1, 'dense'), (1, 'dense_warmup'), (1, 'random')]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fpe_train.engine import cpu
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.draws import seed_entropy
from fpe_train.engine.rows import ROW_FIELDS, BatchResult

__all__ = ["ROW_FIELDS", "BatchResult", "run_batch", "run_config", "seed_entropy"]


def run_batch(
    jobs: Sequence[tuple[TrainConfig, Sequence[int]]],
    progress: Callable[[int, int], None] | None = None,
    on_error: str = "raise",
    path: str = "auto",
) -> BatchResult:
    """Train the given trials of configs that share a schedule as one batch; a :class:`BatchResult`.

    ``jobs``: ``[(config, trials)]``. Rows of a trial are ordered dense, dense_warmup, dense_fresh, then the
    config's splits. A trial whose loss stops being finite raises ValueError (``on_error="raise"``, at the end
    of that epoch) or lands in ``failed`` with its message (``on_error="record"``; the other models of the
    batch are not affected). ``progress(epochs_done, epochs_total)`` after every epoch. ``seconds`` of a row
    is the batch's wall time divided by its number of rows.

    ``path``: ``auto`` trains on the compiled CPU kernel (``fpe_train.engine.cpu``) the configs it supports
    (one hidden layer, CPU, fixed masks) and on torch (``fpe_train.engine.torch_batch``) everything else;
    ``torch`` forces the torch path.
    """
    if path not in ("auto", "torch"):
        raise ValueError(f"path={path!r}: must be auto or torch")
    if path == "auto":
        return cpu.run_any(jobs, progress, on_error)
    from fpe_train.engine import torch_batch  # keeps torch out until used

    return torch_batch.run_batch(jobs, progress, on_error)


def run_config(
    config: TrainConfig, progress: Callable[[int, int], None] | None = None, path: str = "auto"
) -> list[dict]:
    """Train every trial of ``config`` (dense + each split, shared warm-up); one row per (trial, variant).

    A batch of one config (``run_batch``); rows are ordered by trial, then variant: dense, dense_warmup
    (with ``config.record_warmup``), then ``config.splits``. Same config, same rows (up to ``seconds``), and
    trial t's rows do not depend on ``config.trials``.
    """
    (by_trial,) = run_batch([(config, range(config.trials))], progress, path=path).rows
    return [r for t in sorted(by_trial) for r in by_trial[t]]
