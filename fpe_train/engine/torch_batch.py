"""The torch path of ``fpe_train.engine.run.run_batch``: CUDA, deeper networks (LayerNorm), DropConnect and
rewiring, every model of a batch padded to its largest shape (``BatchedMLP``, ``train.py``).

What a batch trains and in which order (warm-up, fork, fine-tune, rows) is described in
``fpe_train.engine.run``; the compiled CPU kernel (``fpe_train.engine.cpu``) keeps the same contract.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from fpe_train.engine import draws
from fpe_train.engine.config import SPLIT_NAMES, TrainConfig
from fpe_train.engine.datasets import dataset_name
from fpe_train.engine.draws import (
    STREAM_INIT,
    STREAM_MASK,
    STREAM_SPLIT,
    order_key,
    trial_rng,
    trial_seed,
)
from fpe_train.engine.keys import schedule_key
from fpe_train.engine.measure import measure
from fpe_train.engine.mlp import BatchedMLP
from fpe_train.engine.rows import BatchResult, collect, divergence_message
from fpe_train.engine.tasks import load_datasets, task_clauses
from fpe_train.engine.train import LiveBatch, _block, accuracy, train_epochs
from fpe_train.fpe.expansion import expand_mlp, expanded_layers, widen_layernorm

__all__ = ["resolve_device", "run_batch"]


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU -> ValueError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda': no CUDA GPU is available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device={name!r}: must be auto, cpu or cuda")
    return torch.device(name)


# ---------------------------------------------------------------- seeds (fpe_train.engine.draws)


def trial_generator(config: TrainConfig, trial: int, stream: int, sub: int = 0, entropy: int | None = None):
    """A CPU ``torch.Generator`` for one random stream of one trial (masks redrawn during training: DropConnect,
    rewiring): seeded from ``draws.trial_seed(config, trial, stream, sub)``."""
    ss = trial_seed(config, trial, stream, sub, entropy)
    return torch.Generator().manual_seed(int(ss.generate_state(1, np.uint64)[0] >> 1))


# ---------------------------------------------------------------- data


@dataclasses.dataclass
class _Data:
    """The distinct datasets of a batch, stacked and zero-padded to the widest input: ``X_train (D*n, m)``."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_train: int
    n_test: int
    n_out: int
    index: list[int]  # dataset of each trial
    n_in: list[int]  # input width of each trial


def _load(trials: Sequence[tuple[TrainConfig, int]], device: torch.device) -> _Data:
    tasks, index = load_datasets(trials)
    n_in = [tasks[i][0].shape[1] for i in index]
    m = max(n_in)

    def stack(part: int) -> torch.Tensor:
        arrays = [np.pad(np.asarray(t[part], np.float32), ((0, 0), (0, m - t[part].shape[1]))) for t in tasks]
        return torch.as_tensor(np.concatenate(arrays), device=device)

    def labels(part: int) -> torch.Tensor:
        return torch.as_tensor(np.concatenate([np.asarray(t[part], np.float32) for t in tasks]), device=device)

    t0 = tasks[0]
    return _Data(stack(0), labels(1), stack(2), labels(3), len(t0[1]), len(t0[3]), t0[4], index, n_in)


# ---------------------------------------------------------------- one model, padded into a batch


@dataclasses.dataclass
class _Model:
    """One model's real tensors: weights (out, in), biases, masks (bool), norms [(gamma, beta)]."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    masks: list[torch.Tensor]
    norms: list[tuple[torch.Tensor, torch.Tensor]]

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[1], *(w.shape[0] for w in self.weights)]


def _pad(t: torch.Tensor, shape) -> torch.Tensor:
    out = torch.zeros(shape, dtype=t.dtype, device=t.device)
    out[tuple(slice(0, s) for s in t.shape)] = t
    return out


def _assemble(models: list[_Model], layer_norm: bool, device: torch.device) -> BatchedMLP:
    """Pad every model to the largest size of each layer and stack them: one ``BatchedMLP``."""
    sizes = [max(m.sizes[j] for m in models) for j in range(len(models[0].sizes))]
    L = len(sizes) - 1
    cat = lambda ts: torch.stack(ts).to(device)  # noqa: E731
    weights = [cat([_pad(m.weights[j], (sizes[j + 1], sizes[j])) for m in models]) for j in range(L)]
    masks = [cat([_pad(m.masks[j], (sizes[j + 1], sizes[j])) for m in models]) for j in range(L)]
    biases = [cat([_pad(m.biases[j], (sizes[j + 1],)) for m in models]) for j in range(L)]
    norms, valid = [], []
    if layer_norm:
        norms = [
            tuple(cat([_pad(m.norms[j][i], (sizes[j + 1],)) for m in models]) for i in (0, 1)) for j in range(L - 1)
        ]
        if any(m.sizes != sizes for m in models):
            valid = [cat([torch.arange(sizes[j + 1]) < m.sizes[j + 1] for m in models]) for j in range(L - 1)]
    return BatchedMLP(weights, biases, masks, norms, valid).requires_grad_()


def _unpad(net: BatchedMLP, e: int, sizes: list[int]) -> _Model:
    L = len(sizes) - 1
    W = [net.weights[j][e, : sizes[j + 1], : sizes[j]].detach().cpu().clone() for j in range(L)]
    b = [net.biases[j][e, : sizes[j + 1]].detach().cpu().clone() for j in range(L)]
    M = [net.masks[j][e, : sizes[j + 1], : sizes[j]].cpu().clone() for j in range(L)]
    N = [tuple(t[e, : sizes[j + 1]].detach().cpu().clone() for t in net.norms[j]) for j in range(len(net.norms))]
    return _Model(W, b, M, N)


def _dense_model(config: TrainConfig, n_in: int, n_out: int, rng: np.random.Generator) -> _Model:
    """Initial weights drawn by ``draws.init_layers`` (numpy, the same numbers as the CPU kernel's)."""
    sizes = [n_in] + [config.r] * config.depth + [n_out]
    ws, bs = (list(map(torch.from_numpy, x)) for x in draws.init_layers(sizes, rng))
    norms = [(torch.ones(n), torch.zeros(n)) for n in sizes[1:-1]] if config.depth > 1 else []
    return _Model(ws, bs, [torch.ones_like(w, dtype=torch.bool) for w in ws], norms)


def _expand_np(model: _Model, split: str, alpha: int, clauses, rng: np.random.Generator) -> _Model:
    """FPE of one model with the masks of ``draws.expand_model`` (numpy, the same masks as the CPU kernel's)."""
    ws = [(w * m).numpy() for w, m in zip(model.weights, model.masks, strict=True)]
    new_w, new_b, masks = draws.expand_model(ws, [b.numpy() for b in model.biases], alpha, split, clauses, rng)
    norms = [
        tuple(map(torch.from_numpy, draws.widen_norm(g.numpy(), b.numpy(), alpha)))
        if new_w[j].shape[0] != ws[j].shape[0]
        else (g, b)
        for j, (g, b) in enumerate(model.norms)
    ]
    return _Model(
        [torch.from_numpy(w) for w in new_w],
        [torch.from_numpy(b) for b in new_b],
        [torch.from_numpy(m) for m in masks],
        norms,
    )


def _expand(model: _Model, split: str, alpha: int, clauses, gen: torch.Generator) -> _Model:
    ws = [w * m for w, m in zip(model.weights, model.masks, strict=True)]
    new_w, new_b, masks = expand_mlp(ws, model.biases, alpha, split, clauses=clauses, generator=gen)
    masks = [torch.ones_like(w, dtype=torch.bool) if mk is None else mk for w, mk in zip(new_w, masks, strict=True)]
    norms = [
        widen_layernorm(*gb, alpha) if new_w[j].shape[0] != ws[j].shape[0] else gb for j, gb in enumerate(model.norms)
    ]
    return _Model(new_w, new_b, masks, norms)


def expand_batch(warm: BatchedMLP, split: str, alpha: int, clauses, generator: torch.Generator) -> BatchedMLP:
    """Apply FPE (``expand_mlp``) to each model of ``warm`` (one generator, in model order) and restack them."""
    sizes = [warm.weights[0].shape[2], *(w.shape[1] for w in warm.weights)]
    models = [_expand(_unpad(warm, e, sizes), split, alpha, clauses, generator) for e in range(warm.E)]
    return _assemble(models, warm.layer_norm, warm.weights[0].device)


# ---------------------------------------------------------------- the batch


@dataclasses.dataclass
class _Trial:
    """One trial of the batch: its job (index in the batch's jobs), config, trial index and seed entropy."""

    job: int
    config: TrainConfig
    trial: int
    entropy: int


def _hyper(values: list[float], device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=device)


def _live_batch(
    models: list[_Model],
    labels: list,
    trials: list[_Trial],
    trial_of: list[int],
    order_keys,
    data,
    device,
    resample=(),
    rewire=(),
    mask_gens=(),
) -> LiveBatch:
    configs = [trials[s].config for s in trial_of]
    net = _assemble(models, configs[0].depth > 1, device)
    offset = torch.tensor([data.index[s] * data.n_train for s in range(len(trials))], dtype=torch.long)

    return LiveBatch(
        net=net,
        labels=labels,
        lr=_hyper([c.lr for c in configs], device),
        l1=_hyper([c.l1 for c in configs], device),
        l2=_hyper([c.l2 for c in configs], device),
        trial_of=torch.tensor(trial_of, dtype=torch.long),
        order_keys=order_keys,
        offset=offset,
        shapes=[m.sizes for m in models],
        dynamic_layers=expanded_layers(len(models[0].weights)),
        resample=list(resample),
        rewire=list(rewire),
        mask_gens=list(mask_gens),
    )


def _fork(warm: LiveBatch, trials: list[_Trial], data: _Data, device) -> tuple[LiveBatch, list]:
    """Dense continuations and every split's FPE models, one live batch; the dense Adam state carries over."""
    models, labels, trial_of, resample, rewire, gens, dense_at = [], [], [], [], [], [], []
    for s, tr in enumerate(trials):
        c = tr.config
        base = _unpad(warm.net, s, warm.shapes[s])
        dense_at.append(len(models))
        models.append(base)
        labels.append((tr.job, "dense", tr.trial))
        trial_of.append(s)
        gens.append(None)
        if c.dense_fresh:  # the same weights, a fresh Adam (not in dense_at): the asymmetry the forks have
            models.append(base)
            labels.append((tr.job, "dense_fresh", tr.trial))
            trial_of.append(s)
            gens.append(None)
        for split in c.splits:
            sub = SPLIT_NAMES.index(split)
            rng = trial_rng(c, tr.trial, STREAM_SPLIT, sub, tr.entropy)
            model = _expand_np(base, split, c.alpha, task_clauses(c), rng)
            models.append(_inverted(model) if split == "dropconnect" else model)
            labels.append((tr.job, split, tr.trial))
            trial_of.append(s)
            dynamic = split == "dropconnect" or c.rewire_every > 0
            gens.append(trial_generator(c, tr.trial, STREAM_MASK, sub, tr.entropy) if dynamic else None)
            if split == "dropconnect":
                resample.append(len(models) - 1)
            elif c.rewire_every:
                rewire.append((len(models) - 1, c.rewire_every, c.rewire_fraction))
    live = _live_batch(models, labels, trials, trial_of, warm.order_keys, data, device, resample, rewire, gens)
    _carry_adam(warm, live, dense_at)
    _dropconnect_rates(live)
    return live, labels


# ---------------------------------------------------------------- DropConnect (Wan et al. 2013)
# A DropConnect layer computes (M * W) / q while training, M redrawn every step with row i keeping a fraction
# q_i of its inputs (``splits.resample`` keeps each row's count, so E[M_ij] = q_i), and uses W itself at test
# time. The engine stores U = W / q (rows rescaled at the fork), so its usual ``U * M`` forward is the
# training-time layer; lr / q, l1 q and l2 q^2 on U give W the step Adam would give it (up to eps / q in
# place of eps); evaluation multiplies U by q and opens the mask (``_expectation``).


def _keep(mask: torch.Tensor) -> torch.Tensor:
    """Keep fraction q_i of every row of a mask (..., out, in): (..., out, 1) float32."""
    return mask.sum(dim=-1, keepdim=True).to(torch.float32) / mask.shape[-1]


def _inverted(model: _Model) -> _Model:
    """A DropConnect model as the engine stores it: the resampled layers' rows divided by their keep fraction."""
    weights = list(model.weights)
    for j in expanded_layers(len(weights)):
        q = _keep(model.masks[j])  # (out, 1)
        weights[j] = torch.where(q > 0, weights[j] / q.clamp_min(1e-30), weights[j])
    return dataclasses.replace(model, weights=weights)


def _dropconnect_rates(live: LiveBatch) -> None:
    """Per-entry lr, l1 and l2 of the stored (rescaled) rows of ``live.resample``'s models (see above)."""
    if not live.resample:
        return
    opt = live.optimizer
    opt.lr_scale = torch.ones_like(opt.flat)
    views = lambda t, j: t.split(opt.sizes)[j].view_as(opt.parameters()[j])  # noqa: E731
    for e in live.resample:
        for j in live.dynamic_layers:
            rows, cols = _block(live, e, j)
            q = _keep(live.net.masks[j][e, rows, cols])  # (out, 1)
            q = torch.where(q > 0, q, torch.ones_like(q))  # a row never active keeps its zeros
            views(opt.lr_scale, j)[e, rows, cols] = (1 / q).expand(-1, cols.stop)
            views(opt.l1, j)[e, rows, cols] *= q
            views(opt.l2x2, j)[e, rows, cols] *= q * q


@contextlib.contextmanager
def _expectation(live: LiveBatch):
    """Inside: every DropConnect model of ``live`` at its test-time weights (q U = W, mask open); restored after."""
    saved = []
    with torch.no_grad():
        for e in live.resample:
            for j in live.dynamic_layers:
                rows, cols = _block(live, e, j)
                w, m = live.net.weights[j], live.net.masks[j]
                saved.append((j, e, rows, cols, w[e, rows, cols].clone(), m[e, rows, cols].clone()))
                w[e, rows, cols] *= _keep(m[e, rows, cols]).to(w.dtype)
                m[e, rows, cols] = True
    try:
        yield
    finally:
        with torch.no_grad():
            for j, e, rows, cols, w, m in saved:
                live.net.weights[j][e, rows, cols] = w
                live.net.masks[j][e, rows, cols] = m


@torch.no_grad()
def _carry_adam(warm: LiveBatch, fine: LiveBatch, dense_at: list[int]) -> None:
    """Copy each dense model's Adam moments and step count into its continuation (same real block)."""
    for j in range(len(warm.net.parameters())):
        src, dst = warm.optimizer.state_views(j), fine.optimizer.state_views(j)
        for s, e in enumerate(dense_at):
            block = tuple(slice(0, n) for n in _real_shape(warm, s, j))
            for a, b in zip(src, dst, strict=True):
                b[(e, *block)] = a[(s, *block)]
    fine.optimizer.steps[torch.tensor(dense_at, device=fine.optimizer.steps.device)] = warm.optimizer.steps


def _real_shape(live: LiveBatch, e: int, j: int) -> tuple[int, ...]:
    """Real shape of parameter j (weights, biases, norms in ``parameters()`` order) of model e."""
    sizes, L = live.shapes[e], len(live.net.weights)
    if j < L:
        return sizes[j + 1], sizes[j]
    if j < 2 * L:
        return (sizes[j - L + 1],)
    return (sizes[(j - 2 * L) // 2 + 1],)


class Curves:
    """Test accuracy of every model every ``every`` epochs (Fig. 6b's training curves; 0 = off).

    Before the split only the dense models exist: every variant's curve starts with its trial's dense points
    up to the split (the variants are forks of those models), then continues with its own.
    """

    def __init__(self, every: int, warmup_epochs: int, data: _Data) -> None:
        self.every, self.data = every, data
        self.n_warm = warmup_epochs // every if every else 0
        self.points: dict[tuple, list[float]] = {}

    def hook(self, live: LiveBatch, labels: list, rows_of, tick: Callable[[int], None] | None) -> Callable[[int], None]:
        def on_epoch(epoch: int) -> None:
            if self.every and epoch % self.every == 0:
                with _expectation(live):
                    data = self.data
                    acc = accuracy(
                        live.net, data.X_test, data.y_test, rows_of(data.n_test), data.n_test, shapes=live.shapes
                    ).tolist()
                for label, a in zip(labels, acc, strict=True):
                    self.points.setdefault(label, []).append(a)
            if tick is not None:
                tick(epoch)

        return on_epoch

    def of(self, job: int, variant: str, trial: int) -> list[float] | None:
        if not self.every or variant == "dense_warmup":
            return None
        dense = self.points.get((job, "dense", trial), [])
        if variant == "dense":
            return dense
        return dense[: self.n_warm] + self.points.get((job, variant, trial), [])


def _rows(live: LiveBatch, labels: list, trial_at: dict, data: _Data, rows_of, device: str) -> dict[tuple, dict]:
    """Rows of every model of ``live``: (job, variant, trial) -> row (without seconds and test_curve)."""
    nonzero = live.net.nonzero_params().cpu()  # DropConnect: the budget of a training step (its current mask)
    M1s = [live.net.masks[0][e, : s[1], : s[0]].cpu().numpy() for e, s in enumerate(live.shapes)]
    with _expectation(live):  # DropConnect models at their test-time weights
        test = accuracy(live.net, data.X_test, data.y_test, rows_of(data.n_test), data.n_test, shapes=live.shapes)
        train = accuracy(live.net, data.X_train, data.y_train, rows_of(data.n_train), data.n_train, shapes=live.shapes)
        W1s = [
            (live.net.weights[0][e, : s[1], : s[0]] * live.net.masks[0][e, : s[1], : s[0]]).detach().cpu()
            for e, s in enumerate(live.shapes)
        ]  # (h, n_in) each
    out = {}
    for e, label in enumerate(labels):
        job, variant, trial = label
        c = trial_at[(job, trial)].config
        row = {
            "trial": trial,
            "seed": c.seed,
            "variant": variant,
            "test_accuracy": float(test[e]),
            "train_accuracy": float(train[e]),
            "nonzero_params": int(nonzero[e]),
        }
        row.update(measure(W1s[e], M1s[e], task_clauses(c), c))
        row["device"] = device
        row.update(dataset=dataset_name(c), n_train_used=data.n_train, n_test_used=data.n_test)  # as really used
        out[label] = row
    return out


def _check_schedule(configs: Sequence[TrainConfig]) -> None:
    keys = {schedule_key(c) for c in configs}
    if len(keys) != 1:
        raise ValueError(f"configs: {len(keys)} different schedules in one batch; batch them with batch_configs()")


def run_batch(
    jobs: Sequence[tuple[TrainConfig, Sequence[int]]],
    progress: Callable[[int, int], None] | None = None,
    on_error: str = "raise",
) -> BatchResult:
    """``fpe_train.engine.run.run_batch`` on the torch path, whatever the configs (the contract is there)."""
    t0 = time.perf_counter()
    jobs = [(c, tuple(int(t) for t in ts)) for c, ts in jobs]
    configs = [c for c, _ in jobs]
    if not any(ts for _, ts in jobs):
        return BatchResult([{} for _ in jobs], [{} for _ in jobs], time.perf_counter() - t0)
    _check_schedule(configs)
    c0 = configs[0]
    device = resolve_device(c0.device)
    data = _load([(c, t) for c, ts in jobs for t in ts], device)
    entropy = [draws.seed_entropy(c) for c in configs]
    trials = [_Trial(i, c, t, entropy[i]) for i, (c, ts) in enumerate(jobs) for t in ts]
    trial_at = {(tr.job, tr.trial): tr for tr in trials}
    order_keys = np.array([order_key(tr.config, tr.trial, tr.entropy) for tr in trials], dtype=np.uint64)
    inits = [trial_rng(tr.config, tr.trial, STREAM_INIT, 0, tr.entropy) for tr in trials]
    dense = [
        _dense_model(tr.config, data.n_in[s], data.n_out, rng)
        for s, (tr, rng) in enumerate(zip(trials, inits, strict=True))
    ]
    warm_labels = [(tr.job, "dense", tr.trial) for tr in trials]
    warm = _live_batch(dense, warm_labels, trials, list(range(len(trials))), order_keys, data, device)
    total = c0.warmup_epochs + c0.epochs
    tick = None if progress is None else (lambda epoch: progress(epoch, total))
    curves = Curves(c0.curve_every, c0.warmup_epochs, data)

    def rows_of(live: LiveBatch):
        offsets = torch.tensor([data.index[s] for s in live.trial_of.tolist()], dtype=torch.long)
        return lambda n: offsets * n

    def run(live: LiveBatch, labels, epochs: int, first: int, step0: int) -> int:
        hook = curves.hook(live, labels, rows_of(live), tick)

        def on_epoch(epoch: int) -> None:
            if on_error == "raise" and live.diverged:
                e = min(live.diverged)
                raise ValueError(divergence_message(labels[e], live.diverged[e]))
            hook(epoch)

        return train_epochs(
            live, data.X_train, data.y_train, data.n_train, epochs, c0.batch_size, first, on_epoch, step0
        )

    step = run(warm, warm_labels, c0.warmup_epochs, 1, 0)
    rows: dict[tuple, dict] = {}
    snap = [tr for tr in trials if tr.config.record_warmup]
    if snap:
        got = _rows(warm, warm_labels, trial_at, data, rows_of(warm), device.type)
        rows.update(
            {
                (i, "dense_warmup", t): r | {"variant": "dense_warmup"}
                for (i, _, t), r in got.items()
                if trial_at[(i, t)].config.record_warmup
            }
        )
    diverged = {warm_labels[e][::2]: (warm_labels[e], ep) for e, ep in warm.diverged.items()}
    fine, labels = _fork(warm, trials, data, device)
    del warm
    run(fine, labels, c0.epochs, c0.warmup_epochs + 1, step)
    rows.update(_rows(fine, labels, trial_at, data, rows_of(fine), device.type))
    for e, ep in fine.diverged.items():
        diverged.setdefault(labels[e][::2], (labels[e], ep))
    return collect(jobs, rows, curves.of, diverged, time.perf_counter() - t0)
