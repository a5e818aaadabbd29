"""Run one TrainConfig as the paper does (3.1, A3): dense warm-up, split, fine-tune.

1. ``trials`` dense models (r neurons) are trained together for ``warmup_epochs``;
2. the batch is forked: the dense models continue unchanged (same tensors, same Adam state), and each split
   expands a copy of every trial's warm-up weights (``fpe_train.fpe.expansion.expand_mlp``, Algorithm A1 with
   the alternating rule of A.7); the FPE models start a fresh Adam;
3. all of them train ``epochs`` more epochs on the same minibatches (the dense baseline trains
   warmup + epochs in total, as every FPE model does);
4. one flat row per (trial, variant) with the fields of ``ROW_FIELDS`` (docs/interfaces.md).

>>> from fpe_train.engine.config import TrainConfig
>>> rows = run_config(TrainConfig(clauses=2, k=4, r=2, splits=("random",), trials=2, epochs=1,
...                               warmup_epochs=1, n_train=200, n_test=100, device="cpu"))
>>> [(r["trial"], r["variant"]) for r in rows]
[(0, 'dense'), (0, 'random'), (1, 'dense'), (1, 'random')]
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from fpe_train.engine.batched import BatchedMLP
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.train import Group, LoopSettings, accuracy, train_epochs
from fpe_train.fpe import metrics

ROW_FIELDS = (
    "trial", "seed", "variant", "test_accuracy", "train_accuracy", "nonzero_params", "capacity", "cosine",
    "abs_cosine",
    "mask_covered", "mask_all_covered", "mask_collisions", "learned_covered", "learned_all_covered",
    "learned_collisions", "seconds", "device", "test_curve",
)  # fmt: skip


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU -> ValueError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda': no CUDA GPU is available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device={name!r}: must be auto, cpu or cuda")
    return torch.device(name)


def load_task(config: TrainConfig):
    """(X_train, y_train, X_test, y_test, n_out, clauses) as numpy arrays; clauses None for vision tasks."""
    if config.task == "boolean":
        from fpe_theory.problem import clause_blocks
        from fpe_train.engine.data import boolean_splits

        tr, te = boolean_splits(config.n_train, config.n_test, config.m, config.k, config.seed)
        clauses = [list(c) for c in clause_blocks(config.m, config.k)]  # the theory's clause list
        return tr.X, tr.y, te.X, te.y, 1, clauses
    from fpe_train.engine.datasets import load_dataset

    X_train, y_train, X_test, y_test, n_classes = load_dataset(config)
    return X_train, y_train, X_test, y_test, int(n_classes), None


def expand_batch(warm: BatchedMLP, split: str, alpha: int, clauses, generator: torch.Generator) -> BatchedMLP:
    """Apply FPE (``expand_mlp``) to each model of ``warm`` and restack them into one batch."""
    from fpe_train.fpe.expansion import expand_mlp, widen_layernorm

    models = []
    for e in range(warm.E):
        ws = [(w[e] * m[e]).detach() for w, m in zip(warm.weights, warm.masks, strict=False)]
        bs = [b[e].detach() for b in warm.biases]
        new_w, new_b, masks = expand_mlp(ws, bs, alpha, split, clauses=clauses, generator=generator)
        masks = [
            torch.ones_like(w, dtype=torch.bool) if mk is None else mk for w, mk in zip(new_w, masks, strict=False)
        ]
        norms = []
        for j, (gamma, beta) in enumerate(warm.norms):
            gb = (gamma[e].detach(), beta[e].detach())
            norms.append(widen_layernorm(*gb, alpha) if new_w[j].shape[0] != ws[j].shape[0] else gb)
        one = lambda ts: [t.unsqueeze(0).clone() for t in ts]  # noqa: E731 - (1, ...) per tensor
        models.append(BatchedMLP(one(new_w), one(new_b), one(masks), [tuple(one(gb)) for gb in norms]))
    return BatchedMLP.stack(models)


def _check_splits(config: TrainConfig, n_in: int, clauses) -> None:
    from fpe_train.fpe.splits import check_split

    for s in config.splits:
        check_split(s, config.alpha, n_in, clauses)


def _fork(config: TrainConfig, dense: Group, clauses, generator: torch.Generator) -> list[Group]:
    """The dense group continues; partition/overlap splits form one group, dropconnect another."""
    from fpe_train.fpe.expansion import expanded_layers

    dynamic = expanded_layers(len(dense.net.weights))
    groups = [dense]
    for names, resample in ((tuple(s for s in config.splits if s != "dropconnect"), False),
                            (tuple(s for s in config.splits if s == "dropconnect"), True)):  # fmt: skip
        if not names:
            continue
        nets = [expand_batch(dense.net, s, config.alpha, clauses, generator) for s in names]
        labels = [(s, t) for s in names for t in range(config.trials)]
        rewire = 0 if resample else config.rewire_every
        groups.append(Group(BatchedMLP.stack(nets), labels, config.lr, dynamic_layers=dynamic, resample=resample,
                            rewire_every=rewire, rewire_fraction=config.rewire_fraction))  # fmt: skip
    return groups


def _rows_of_group(config: TrainConfig, g: Group, data, clauses, device: str) -> list[dict]:
    X_tr, y_tr, X_te, y_te = data
    test, train = accuracy(g.net, X_te, y_te), accuracy(g.net, X_tr, y_tr)
    nonzero = g.net.nonzero_params().cpu()
    W1 = (g.net.weights[0] * g.net.masks[0]).detach().cpu()  # (E, h', n_in)
    M1 = g.net.masks[0].cpu().numpy()
    features = config.features if clauses is not None else "literal"
    rows = []
    for e, (variant, trial) in enumerate(g.labels):
        row = {
            "trial": trial,
            "seed": config.seed,
            "variant": variant,
            "test_accuracy": float(test[e]),
            "train_accuracy": float(train[e]),
            "nonzero_params": int(nonzero[e]),
            "capacity": metrics.capacity(W1[e], clauses, features),
            "cosine": metrics.mean_cosine(W1[e]),
            "abs_cosine": metrics.mean_cosine(W1[e], absolute=True),
        }
        for prefix, support in (("mask", M1[e]), ("learned", metrics.learned_support(W1[e], config.tau))):
            cov = metrics.coverage(support, clauses) if clauses is not None else dict.fromkeys(
                ("covered", "all_covered", "collisions"))  # fmt: skip
            row.update({f"{prefix}_{key}": value for key, value in cov.items()})
        row["device"] = device
        rows.append(row)
    return rows


def check_budgets(rows: list[dict]) -> None:
    """Every variant of a trial must have the dense model's non-zero weight count (else RuntimeError)."""
    dense = {r["trial"]: r["nonzero_params"] for r in rows if r["variant"] == "dense"}
    for r in rows:
        if r["nonzero_params"] != dense[r["trial"]]:
            raise RuntimeError(f"nonzero_params={r['nonzero_params']} of variant={r['variant']} trial={r['trial']}: "
                               f"differs from dense={dense[r['trial']]}")  # fmt: skip


def _generators(seed: int) -> list[torch.Generator]:
    """Independent CPU generators for (init, batch order, split masks, resampling/rewiring) from ``seed``.

    Separate streams make the dense rows independent of which splits a config names.
    """
    states = [int(s.generate_state(1, np.uint64)[0] >> 1) for s in np.random.SeedSequence(seed).spawn(4)]
    return [torch.Generator().manual_seed(s) for s in states]


class Curves:
    """Test accuracy of every model every ``every`` epochs (Fig. 6b's training curves; 0 = off).

    Before the split only the dense models exist: every variant's curve starts with its trial's dense
    points up to the split (the variants are forks of those models), then continues with its own.
    ``of(variant, trial)`` lists the accuracies at epochs every, 2*every, ... (None when off).
    """

    def __init__(self, every: int, warmup_epochs: int, X_test: torch.Tensor, y_test: torch.Tensor) -> None:
        self.every, self.X, self.y = every, X_test, y_test
        self.n_warm = warmup_epochs // every if every else 0
        self.points: dict[tuple[str, int], list[float]] = {}

    def hook(self, groups: list[Group], tick: Callable[[int], None] | None) -> Callable[[int], None]:
        def on_epoch(epoch: int) -> None:
            if self.every and epoch % self.every == 0:
                for g in groups:
                    with torch.no_grad():
                        acc = accuracy(g.net, self.X, self.y).tolist()  # (E,)
                    for (variant, trial), a in zip(g.labels, acc, strict=True):
                        self.points.setdefault((variant, trial), []).append(a)
            if tick is not None:
                tick(epoch)

        return on_epoch

    def of(self, variant: str, trial: int) -> list[float] | None:
        if not self.every or variant == "dense_warmup":
            return None
        dense = self.points.get(("dense", trial), [])
        if variant == "dense":
            return dense
        return dense[: self.n_warm] + self.points.get((variant, trial), [])


def run_config(config: TrainConfig, progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Train every trial of ``config`` (dense + each split, shared warm-up); one row per (trial, variant).

    ``progress(epochs_done, epochs_total)`` is called after every epoch. Rows are ordered by trial, then
    variant: dense, dense_warmup (only with ``config.record_warmup``), then ``config.splits``.
    ``seconds`` is the run's wall time divided by the number of rows (all models train together).
    Same config, same rows (up to ``seconds``).
    """
    t0 = time.perf_counter()
    device = resolve_device(config.device)
    X_tr, y_tr, X_te, y_te, n_out, clauses = load_task(config)
    _check_splits(config, X_tr.shape[1], clauses)
    as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=device)  # noqa: E731
    data = (as_t(X_tr), as_t(y_tr), as_t(X_te), as_t(y_te))
    gen_init, gen_order, gen_split, gen_mask = _generators(config.seed)
    sizes = [X_tr.shape[1]] + [config.r] * config.depth + [n_out]
    net = BatchedMLP.init(config.trials, sizes, gen_init, layer_norm=config.depth > 1, device=device)
    dense = Group(net, [("dense", t) for t in range(config.trials)], config.lr)
    settings = LoopSettings(config.batch_size, config.l1, config.l2, gen_order, gen_mask)
    total = config.warmup_epochs + config.epochs
    tick = None if progress is None else (lambda epoch: progress(epoch, total))
    curves = Curves(config.curve_every, config.warmup_epochs, data[2], data[3])
    train_epochs([dense], data[0], data[1], config.warmup_epochs, settings, 1, curves.hook([dense], tick))
    rows = []
    if config.record_warmup:  # the compact model at the split (paper 3.1 may report this one)
        snapshot = Group(
            dense.net.select(list(range(config.trials))), [("dense_warmup", t) for t in range(config.trials)], config.lr
        )
        rows += _rows_of_group(config, snapshot, data, clauses, device.type)
    groups = _fork(config, dense, clauses, gen_split)
    train_epochs(groups, data[0], data[1], config.epochs, settings, config.warmup_epochs + 1, curves.hook(groups, tick))
    rows += [r for g in groups for r in _rows_of_group(config, g, data, clauses, device.type)]
    for r in rows:
        r["test_curve"] = curves.of(r["variant"], r["trial"])
    check_budgets(rows)
    order = {v: i for i, v in enumerate(("dense", "dense_warmup", *config.splits))}
    rows.sort(key=lambda r: (r["trial"], order[r["variant"]]))
    seconds = (time.perf_counter() - t0) / len(rows)
    for r in rows:
        r["seconds"] = seconds
    return [{f: r[f] for f in ROW_FIELDS} for r in rows]
