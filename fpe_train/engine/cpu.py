"""The CPU path of the engine: one-hidden-layer batches trained by the compiled kernel, without torch.

``run_batch`` here has the contract of ``fpe_train.engine.run.run_batch`` (rows per item and trial, the same
protocol: dense warm-up, fork into the dense continuation, which keeps its Adam state, and one FPE model per
split with a fresh Adam, fine-tune, one row per (trial, variant)) for the configs :func:`supports` accepts:
``depth == 1``, on the CPU, fixed masks (no ``dropconnect`` split, ``rewire_every == 0``). Everything else
goes to the torch path; :func:`run_any` picks the path.

Models are ragged (each at its own shape, ``fpe_train.engine.kernel``), so a model's numbers do not depend
on which other models share its batch. Initial weights, masks and data order come from
``fpe_train.engine.draws`` as on the torch path. Parallel over models: ``threads.kernel_threads()`` threads
(capped by the executors' ``threads``), each running the GIL-free kernel on its share of the models with a
single-threaded BLAS.

Which compiled kernel (:func:`compiled`): on one thread the prebuilt extension (``fpe_train.engine.aot``) where
it matches this source and CPU, so that a process that only trains never imports numba (its first use cost
about 0.4 s per process); else, and on more threads (the extension holds the GIL), numba's JIT of
``fpe_train.engine.kernel``. The two are the same code: the same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from fpe_train.engine import aot, draws
from fpe_train.engine.datasets import dataset_name
from fpe_train.engine.draws import SPLIT_NAMES, STREAM_INIT, STREAM_SPLIT, order_key, trial_rng
from fpe_train.engine.keys import UNSUPPORTED_SPLITS, cuda_present, on_kernel, schedule_key  # noqa: F401 - interface
from fpe_train.engine.measure import measure
from fpe_train.engine.rows import BatchResult, collect, divergence_message
from fpe_train.engine.tasks import load_datasets, task_clauses
from fpe_train.engine.threads import kernel_threads


def supports(configs: Sequence) -> bool:
    """Whether the compiled CPU kernel trains these configs (``keys.on_kernel``)."""
    return all(on_kernel(c) for c in configs)


def run_any(jobs, progress=None, on_error: str = "raise") -> BatchResult:
    """``run_batch`` of ``jobs`` [(config, trials)]: the configs :func:`supports` accepts on the kernel, the others
    on the torch path (two sub-batches, one after the other), so a config takes the same path in any batch."""
    t0 = time.perf_counter()
    jobs = list(jobs)
    ours = [supports([c]) for c, _ in jobs]
    rows: list = [{} for _ in jobs]
    failed: list = [{} for _ in jobs]
    for kernel_side in (True, False):
        at = [i for i, k in enumerate(ours) if k == kernel_side]
        if not at:
            continue
        if kernel_side:
            got = run_batch([jobs[i] for i in at], progress, on_error)
        else:
            from fpe_train.engine.torch_batch import run_batch as run_torch  # keeps torch out until used

            got = run_torch([jobs[i] for i in at], progress, on_error)
        for j, i in enumerate(at):
            rows[i], failed[i] = got.rows[j], got.failed[j]
    return BatchResult(rows, failed, time.perf_counter() - t0)


# ---------------------------------------------------------------- data and models as flat buffers


@dataclass
class _Data:
    """Each distinct dataset once, flat: rows of dataset d start at ``X[x_off[d]]`` (its own width)."""

    X_train: np.ndarray
    x_off: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    xt_off: np.ndarray
    y_test: np.ndarray
    n_train: int
    n_test: int
    n_out: int
    index: list[int]  # dataset of each trial
    n_in: list[int]


def _flat_data(trials) -> _Data:
    tasks, index = load_datasets(trials)

    def flat(part: int):
        arrays = [np.ascontiguousarray(t[part], dtype=np.float32).reshape(-1) for t in tasks]
        return np.concatenate(arrays), np.cumsum([0] + [a.size for a in arrays[:-1]]).astype(np.int64)

    X_train, x_off = flat(0)
    X_test, xt_off = flat(2)
    labels = [np.concatenate([np.asarray(t[p], np.float32) for t in tasks]) for p in (1, 3)]
    t0 = tasks[0]
    return _Data(
        X_train,
        x_off,
        labels[0],
        X_test,
        xt_off,
        labels[1],
        len(t0[1]),
        len(t0[3]),
        t0[4],
        index,
        [tasks[i][0].shape[1] for i in index],
    )


class _Models:
    """Models of one phase as flat buffers (``kernel`` layout), with their Adam state and hyperparameters."""

    def __init__(self, blocks: list[tuple], trial: list[int], ds: list[int], configs: list) -> None:
        self.n_in = np.array([b[0].shape[1] for b in blocks], dtype=np.int64)
        self.h = np.array([b[0].shape[0] for b in blocks], dtype=np.int64)
        self.n_out = int(blocks[0][2].shape[0])
        sizes = [b[0].size + b[1].size + b[2].size + b[3].size for b in blocks]
        self.p_off = np.cumsum([0] + sizes[:-1]).astype(np.int64)
        self.P = np.concatenate([np.concatenate([b[0].ravel(), b[1], b[2].ravel(), b[3]]) for b in blocks])
        self.P = self.P.astype(np.float32)
        masks = [
            np.concatenate([b[4].ravel(), np.ones(b[1].size, bool), b[5].ravel(), np.ones(b[3].size, bool)])
            for b in blocks
        ]
        self.Mk = np.concatenate(masks).astype(np.float32)  # W1 and W2 masked (A1 prunes both), biases free
        self.M2 = [b[5] for b in blocks]
        self.A1, self.A2 = np.zeros_like(self.P), np.zeros_like(self.P)
        self.steps = np.zeros(len(blocks), dtype=np.int64)
        self.trial = np.array(trial, dtype=np.int64)  # each model's trial: its row of the permutations
        self.ds = np.array(ds, dtype=np.int64)
        self.lr, self.l1, self.l2 = (np.array([getattr(c, f) for c in configs], np.float64) for f in ("lr", "l1", "l2"))
        self.sums = np.zeros(len(blocks))
        self.size = sizes

    def __len__(self) -> int:
        return len(self.h)

    def block(self, e: int) -> tuple[np.ndarray, ...]:
        """Model e's (W1, b1, W2, b2) views at its shape."""
        o, ni, h, no = self.p_off[e], self.n_in[e], self.h[e], self.n_out
        P = self.P
        W1 = P[o : o + h * ni].reshape(h, ni)
        b1 = P[o + h * ni : o + h * ni + h]
        W2 = P[o + h * ni + h : o + h * ni + h + no * h].reshape(no, h)
        return W1, b1, W2, P[o + h * ni + h + no * h : o + self.size[e]]

    def mask1(self, e: int) -> np.ndarray:
        o, ni, h = self.p_off[e], self.n_in[e], self.h[e]
        return self.Mk[o : o + h * ni].reshape(h, ni) > 0

    def nonzero(self, e: int) -> int:
        return int(self.mask1(e).sum() + self.M2[e].sum())


def _shares(models: _Models, threads: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per thread, the (order, bounds) of its trials' models (a trial's models together), balanced by arithmetic:
    the heaviest trial first into the lightest share."""
    cost = models.n_in * models.h + models.h * models.n_out
    trials = np.unique(models.trial)
    models_of_trial = {t: np.flatnonzero(models.trial == t) for t in trials.tolist()}
    load, shares = np.zeros(threads), [[] for _ in range(threads)]
    for t in sorted(models_of_trial, key=lambda t: -cost[models_of_trial[t]].sum()):
        w = int(np.argmin(load))  # the thread with the least work so far
        shares[w].append(t)
        load[w] += cost[models_of_trial[t]].sum()
    out = []
    for share in shares:
        if share:
            models_of = [models_of_trial[t] for t in sorted(share)]
            bounds = np.cumsum([0] + [len(m) for m in models_of]).astype(np.int64)
            out.append((np.concatenate(models_of).astype(np.int64), bounds))
    return out


def compiled(threads: int = 1):
    """The kernel's entry points (``train_epoch``, ``permutations``, ``correct``): the prebuilt extension on one
    thread where it matches (``aot.load``), else numba's JIT (``fpe_train.engine.kernel``)."""
    built = aot.load() if threads == 1 else None
    if built is not None:
        return built
    from fpe_train.engine import kernel  # keeps numba out where the prebuilt extension serves

    return kernel


class _Trainer:
    """Epochs of one phase: permutations, the kernel over every share of models, divergence, hooks."""

    def __init__(self, models: _Models, data: _Data, keys: np.ndarray, batch_size: int, pool, kernel) -> None:
        self.m, self.data, self.keys, self.B, self.pool, self.kernel = models, data, keys, batch_size, pool, kernel
        self.perms = np.empty((len(keys), data.n_train), dtype=np.int64)
        self.shares = _shares(models, pool._max_workers if pool is not None else 1)
        self.diverged: dict[int, int] = {}

    def _run(self, share: tuple[np.ndarray, np.ndarray]) -> None:
        m, d = self.m, self.data
        self.kernel.train_epoch(
            *share,
            m.P,
            m.Mk,
            m.A1,
            m.A2,
            m.steps,
            m.n_in,
            m.h,
            m.p_off,
            m.trial,
            m.ds,
            m.n_out,
            d.X_train,
            d.x_off,
            d.y_train,
            d.n_train,
            self.perms,
            self.B,
            m.lr,
            m.l1,
            m.l2,
            m.sums,
        )

    def epochs(self, first: int, count: int, on_epoch: Callable[[int], None]) -> None:
        for epoch in range(first, first + count):
            self.kernel.permutations(self.keys, epoch, self.perms)
            self.m.sums[:] = 0
            if self.pool is None or len(self.shares) == 1:
                for share in self.shares:
                    self._run(share)
            else:
                list(self.pool.map(self._run, self.shares))
            for e in np.flatnonzero(~np.isfinite(self.m.sums)):
                self.diverged.setdefault(int(e), epoch)
            on_epoch(epoch)


def accuracy(models: _Models, X: np.ndarray, x_off: np.ndarray, y: np.ndarray, n: int, kernel) -> np.ndarray:
    """Fraction of correct predictions of every model on its dataset's ``n`` rows: (E,) float64 (``kernel``:
    :func:`compiled`)."""
    hits = np.zeros(len(models), dtype=np.int64)
    kernel.correct(
        np.arange(len(models), dtype=np.int64),
        models.P,
        models.n_in,
        models.h,
        models.p_off,
        models.ds,
        models.n_out,
        X,
        x_off,
        y,
        n,
        hits,
    )
    return hits / n


# ---------------------------------------------------------------- the batch


def _check_schedule(configs) -> None:
    if len({schedule_key(c) for c in configs}) != 1:
        raise ValueError(
            f"configs: {len({schedule_key(c) for c in configs})} different schedules in one batch; "
            "batch them with batch_configs()"
        )


def run_batch(jobs, progress: Callable[[int, int], None] | None = None, on_error: str = "raise"):
    """The contract of ``fpe_train.engine.run.run_batch``, on the compiled kernel (configs :func:`supports`)."""
    t0 = time.perf_counter()
    jobs = [(c, tuple(int(t) for t in trials)) for c, trials in jobs]
    if not any(trials for _, trials in jobs):
        return BatchResult([{} for _ in jobs], [{} for _ in jobs], time.perf_counter() - t0)
    _check_schedule([c for c, _ in jobs])
    threads = kernel_threads()
    kernel = compiled(threads)
    if kernel.__name__ == f"fpe_train.engine.{aot.NAME}":
        import scipy.linalg.cython_blas  # noqa: F401 - keeps scipy.linalg out until a batch trains

        # (the extension's np.dot loads this BLAS on its first call; loaded now, the limit below covers it)
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) if threads > 1 else _null() as pool:
        rows, curves, diverged = _train(jobs, progress, on_error, pool, kernel)
    return collect(jobs, rows, lambda i, v, t: _curve(curves, i, v, t), diverged, time.perf_counter() - t0)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _train(jobs, progress, on_error, pool, kernel):
    c0 = jobs[0][0]
    all_trials = [(i, c, t) for i, (c, trials) in enumerate(jobs) for t in trials]
    data = _flat_data([(c, t) for _, c, t in all_trials])
    entropy = [draws.seed_entropy(c) for c, _ in jobs]
    keys = np.array([order_key(c, t, entropy[i]) for i, c, t in all_trials], dtype=np.uint64)
    blocks = []
    for s, (i, c, t) in enumerate(all_trials):
        (W1, W2), (b1, b2) = draws.init_layers(
            [data.n_in[s], c.r, data.n_out], trial_rng(c, t, STREAM_INIT, 0, entropy[i])
        )
        blocks.append((W1, b1, W2, b2, np.ones(W1.shape, bool), np.ones(W2.shape, bool)))
    S = len(all_trials)
    warm = _Models(blocks, list(range(S)), [data.index[s] for s in range(S)], [c for _, c, _ in all_trials])
    total = c0.warmup_epochs + c0.epochs
    curves: dict[tuple, list[float]] = {}

    def hook(models: _Models, labels: list) -> Callable[[int], None]:
        def on_epoch(epoch: int) -> None:
            if on_error == "raise" and trainer.diverged:
                e = min(trainer.diverged)
                raise ValueError(divergence_message(labels[e], trainer.diverged[e]))
            if c0.curve_every and epoch % c0.curve_every == 0:
                acc = accuracy(models, data.X_test, data.xt_off, data.y_test, data.n_test, kernel)
                for label, a in zip(labels, acc.tolist(), strict=True):
                    curves.setdefault(label, []).append(a)
            if progress is not None:
                progress(epoch, total)

        return on_epoch

    warm_labels = [(i, "dense", t) for i, _, t in all_trials]
    trainer = _Trainer(warm, data, keys, c0.batch_size, pool, kernel)
    trainer.epochs(1, c0.warmup_epochs, hook(warm, warm_labels))
    rows = {}
    if any(c.record_warmup for _, c, _ in all_trials):
        got = _rows(warm, warm_labels, all_trials, data, [s for s in range(S)], kernel)
        rows.update(
            {
                (i, "dense_warmup", t): r | {"variant": "dense_warmup"}
                for (i, _, t), r in got.items()
                if jobs[i][0].record_warmup
            }
        )
    diverged = {warm_labels[e][::2]: (warm_labels[e], ep) for e, ep in trainer.diverged.items()}
    fine, labels, owner = _fork(warm, all_trials, entropy)
    trainer = _Trainer(fine, data, keys, c0.batch_size, pool, kernel)
    trainer.epochs(c0.warmup_epochs + 1, c0.epochs, hook(fine, labels))
    rows.update(_rows(fine, labels, all_trials, data, owner, kernel))
    for e, ep in trainer.diverged.items():
        diverged.setdefault(labels[e][::2], (labels[e], ep))
    n_warm = c0.warmup_epochs // c0.curve_every if c0.curve_every else 0
    return rows, (curves, n_warm, c0.curve_every), diverged


def _fork(warm: _Models, all_trials, entropy) -> tuple[_Models, list, list[int]]:
    """Dense continuations (same weights, Adam state and step count) and each split's FPE models (fresh Adam)."""
    blocks, labels, trial, configs, dense_at, owner = [], [], [], [], [], []
    for s, (i, c, t) in enumerate(all_trials):
        W1, b1, W2, b2 = (x.copy() for x in warm.block(s))
        dense_at.append(len(blocks))
        blocks.append((W1, b1, W2, b2, warm.mask1(s), warm.M2[s]))
        labels.append((i, "dense", t))
        if c.dense_fresh:  # the same weights, a fresh Adam: the asymmetry the forks have
            blocks.append((W1.copy(), b1.copy(), W2.copy(), b2.copy(), warm.mask1(s), warm.M2[s]))
            labels.append((i, "dense_fresh", t))
        for split in c.splits:
            rng = trial_rng(c, t, STREAM_SPLIT, SPLIT_NAMES.index(split), entropy[i])
            (V1, V2), (a1, a2), (K1, K2) = draws.expand_model([W1, W2], [b1, b2], c.alpha, split, task_clauses(c), rng)
            blocks.append((V1, a1, V2, a2, K1, K2))
            labels.append((i, split, t))
        n_models = len(c.variants)  # dense, dense_fresh, the splits
        trial += [s] * n_models
        configs += [c] * n_models
        owner += [s] * n_models
    fine = _Models(blocks, trial, [warm.ds[s] for s in trial], configs)
    for s, e in enumerate(dense_at):  # the dense continuation keeps its Adam state
        src, dst = (
            slice(warm.p_off[s], warm.p_off[s] + warm.size[s]),
            slice(fine.p_off[e], fine.p_off[e] + fine.size[e]),
        )
        fine.A1[dst], fine.A2[dst] = warm.A1[src], warm.A2[src]
        fine.steps[e] = warm.steps[s]
    return fine, labels, owner


def _rows(models: _Models, labels: list, all_trials, data: _Data, owner: list[int], kernel) -> dict[tuple, dict]:
    test = accuracy(models, data.X_test, data.xt_off, data.y_test, data.n_test, kernel)
    train = accuracy(models, data.X_train, data.x_off, data.y_train, data.n_train, kernel)
    out = {}
    for e, label in enumerate(labels):
        job, variant, trial = label
        c = all_trials[owner[e]][1]
        W1 = np.array(models.block(e)[0], dtype=np.float32)  # (h, n_in), exactly 0 where masked
        row = {
            "trial": trial,
            "seed": c.seed,
            "variant": variant,
            "test_accuracy": float(test[e]),
            "train_accuracy": float(train[e]),
            "nonzero_params": models.nonzero(e),
        }
        row.update(measure(W1, models.mask1(e), task_clauses(c), c))
        row.update(device="cpu", dataset=dataset_name(c), n_train_used=data.n_train, n_test_used=data.n_test)
        out[label] = row
    return out


def _curve(curves, item: int, variant: str, trial: int) -> list[float] | None:
    points, n_warm, every = curves
    if not every or variant == "dense_warmup":
        return None
    dense = points.get((item, "dense", trial), [])
    if variant == "dense":
        return dense
    return dense[:n_warm] + points.get((item, variant, trial), [])
