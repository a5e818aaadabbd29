"""The training loop: one batch of E models, each with its own minibatches, and a batched Adam.

A ``LiveBatch`` is a batch while it trains: one ``BatchedMLP`` (E models, padded to one shape) with per-model
hyperparameters ``lr``, ``l1``, ``l2`` as tensors (E,) and its own ``BatchedAdam``. Every step each model takes
one Adam step on its own minibatch (A3: loss = BCE/CE + l1 |W1|_1 + l2 sum |p|^2; the penalty gradients are
added directly, masked like the weights). Batch order: each trial (one (config, trial); the dense model of a
trial and its FPE forks share their trial's order, so they stay paired) takes a fresh permutation of its
training set each epoch from its own order key (``kernel.permutations``, as the CPU kernel; DataLoader
``shuffle=True``, last partial batch kept); a model gathers its rows with an index tensor,
``X[idx] (E, B, m)``. So a model's numbers do not depend on which other models share its batch, and CPU and
CUDA runs see the same order. On CUDA the next epoch's permutations are drawn on the host while the device
trains (``PermutationFeed``), and with ``FPE_CUDA_GRAPHS=1`` one epoch of the fused step is captured as a CUDA
graph and replayed (``EpochGraph``), running the same functions as the eager epoch.

A step: the hand-written fused step for one hidden layer without LayerNorm (``_fused_step``), autograd
otherwise. On the CPU a deep (LayerNorm) batch with fixed masks (``compiled_ok``) runs each epoch compiled
instead (``fpe_train.engine.deep``: model after model at its real shape, on the optimiser's flat buffers
through numpy views, threads over models), and ``accuracy`` of such a net is the same compiled forward pass;
``COMPILED_DEEP = False`` sends them through autograd and the torch forward pass (the tests compare the two).

Per step, models may also change their masks: ``resample`` (DropConnect control: the expanded layers'
masks are redrawn every step, ``fpe_train.fpe.splits.resample``; its rows are stored rescaled, see
``fpe_train.engine.run``) and ``rewire_every`` (RigL-style dynamic
sparsity, A.7: ``fpe_train.fpe.rewire.rewire_`` on the expanded layers every T steps), each model from its
own generator and only inside its own (unpadded) shape.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fpe_train.engine.mlp import BatchedMLP, correct, per_model_loss
from fpe_train.fpe.rewire import rewire_
from fpe_train.fpe.splits import resample

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, as a plain run would use
CHUNK_ELEMENTS = 1 << 19  # CPU: activations (floats) of one chunk of the fused step, about 2 MB (L2)
COMPILED_DEEP = True  # CPU: deep (LayerNorm) nets train and evaluate on fpe_train.engine.deep; False: autograd


class BatchedAdam:
    """Adam (torch.optim.Adam's arithmetic, no weight decay) over every tensor of a batch at once.

    All parameters live in one flat buffer (``params`` are views of it), as do their moments, so a step is
    about twenty kernels whatever the depth. Per-model ``lr (E,)`` and per-model step counts: a model forked
    with a fresh Adam starts at step 0 beside models that continue. The penalty gradient
    ``2 l2 p + l1 sign(p)`` (l1 on the first layer only) is added to the masked weights inside the step.
    """

    def __init__(self, net: BatchedMLP, lr: Tensor, l1: Tensor, l2: Tensor) -> None:
        E = net.E
        params = net.parameters()
        dev, dtype = params[0].device, params[0].dtype
        sizes = [p.numel() for p in params]
        self.flat = torch.cat([p.detach().reshape(-1) for p in params])  # (P,)
        ones = [torch.ones(n, dtype=torch.bool, device=dev) for n in sizes[len(net.masks) :]]  # biases, norms
        self.mask = torch.cat([m.reshape(-1) for m in net.masks] + ones)  # (P,)
        views = list(self.flat.split(sizes))
        mviews = list(self.mask.split(sizes))
        n = len(net.weights)
        net.weights = [v.view_as(p).requires_grad_() for v, p in zip(views[:n], params[:n], strict=True)]
        net.masks = [v.view_as(p) for v, p in zip(mviews[:n], params[:n], strict=True)]
        rest = [v.view_as(p).requires_grad_() for v, p in zip(views[n:], params[n:], strict=True)]
        net.biases = rest[:n]
        net.norms = [(rest[n + 2 * i], rest[n + 2 * i + 1]) for i in range(len(net.norms))]
        self.net, self.sizes = net, sizes
        model = torch.cat([torch.arange(E, device=dev).repeat_interleave(s // E) for s in sizes])  # (P,)
        self.model = model
        self.lr = lr.to(dev, dtype)
        first = torch.zeros(sum(sizes), dtype=torch.bool, device=dev)
        first[: sizes[0]] = True
        self.l1 = torch.where(first, l1.to(dev, dtype)[model], 0.0)  # (P,) l1 on W1 only
        self.l2x2 = 2.0 * l2.to(dev, dtype)[model]  # (P,)
        self.grad = torch.zeros_like(self.flat)  # (P,) the fused step writes its gradients here
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self.steps = torch.zeros(E, dtype=torch.float64, device=dev)  # per model
        self.lr_scale: Tensor | None = None  # (P,) per-entry factor on lr (DropConnect's rescaled rows), or None

    def parameters(self) -> list[Tensor]:
        return self.net.parameters()

    def grad_views(self) -> list[Tensor]:
        """Views of ``grad`` shaped like each parameter (weights, biases, norms)."""
        return [v.view_as(p) for v, p in zip(self.grad.split(self.sizes), self.parameters(), strict=True)]

    def state_views(self, index: int) -> tuple[Tensor, Tensor]:
        """(exp_avg, exp_avg_sq) of parameter ``index`` (views, shaped like it)."""
        p = self.parameters()[index]
        a, s = (t.split(self.sizes)[index].view_as(p) for t in (self.exp_avg, self.exp_avg_sq))
        return a, s

    @torch.no_grad()
    def step(self, grads: list[Tensor] | Tensor) -> None:
        """One Adam step of every model; ``grads``: one per parameter, or flat (P,) in ``flat``'s layout."""
        b1, b2 = BETAS
        g = grads if torch.is_tensor(grads) else torch.cat([x.reshape(-1) for x in grads])  # (P,)
        p = self.flat
        pm = p * self.mask
        g = (g + pm * self.l2x2 + torch.sign(pm) * self.l1) * self.mask  # masked entries: exactly 0
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        self.steps += 1
        bc1 = 1 - b1**self.steps  # (E,) float64, as torch's python-float bias corrections
        bc2_sqrt = (1 - b2**self.steps).sqrt()
        step_size = (self.lr.double() / bc1).to(p.dtype)[self.model]  # (P,)
        if self.lr_scale is not None:
            step_size = step_size * self.lr_scale
        denom = (self.exp_avg_sq.sqrt() / bc2_sqrt.to(p.dtype)[self.model]).add_(EPS)
        p.sub_(step_size * self.exp_avg / denom)

    @torch.no_grad()
    def reset(self, models: Tensor) -> None:
        """Fresh state for ``models`` (bool (E,)): zero moments, step 0 (an FPE fork starts a new Adam)."""
        where = models.to(self.model.device)[self.model]
        self.exp_avg.masked_fill_(where, 0)
        self.exp_avg_sq.masked_fill_(where, 0)
        self.steps[models.to(self.steps.device)] = 0


@dataclass(kw_only=True)
class LiveBatch:
    """A batch while it trains, its models and optimizer state: ``labels[e]`` names model e (for messages),
    ``trial_of[e]`` the batch's trial it belongs to (its data order).

    ``order_keys[s]``: the 64-bit order key of trial s (``kernel.permutations``); ``offset[s]``: the first row
    of trial s's dataset in the batch's stacked training set. ``shapes[e]``: model e's real layer sizes
    ``[in, h1, ..., out]``; ``mask_gens[e]``: its generator for resampling/rewiring (None: fixed masks).
    """

    net: BatchedMLP
    labels: list
    lr: Tensor
    l1: Tensor
    l2: Tensor
    trial_of: Tensor
    order_keys: np.ndarray  # (S,) uint64
    offset: Tensor
    shapes: list[list[int]]
    dynamic_layers: tuple[int, ...] = ()  # layers whose masks change (resample or rewire)
    resample: list[int] = field(default_factory=list)  # models redrawing their masks every step
    rewire: list[tuple[int, int, float]] = field(default_factory=list)  # (model, every T steps, fraction)
    mask_gens: list[torch.Generator | None] = field(default_factory=list)
    optimizer: BatchedAdam | None = None
    epoch_loss: Tensor | None = field(default=None, repr=False)
    diverged: dict[int, int] = field(default_factory=dict)  # model -> first epoch whose loss was not finite
    buffers: dict[str, Tensor] = field(default_factory=dict, repr=False)  # scratch kept across steps

    def __post_init__(self) -> None:
        if self.optimizer is None:
            self.optimizer = BatchedAdam(self.net, self.lr, self.l1, self.l2)


def _step(live: LiveBatch, X: Tensor, y: Tensor, idx: Tensor, step: int) -> None:
    """One optimiser step of every model on its minibatch ``X[idx]``, ``idx (E, B)`` rows of the stacked sets."""
    for e in live.resample:
        _resample(live, e)
    if fused_ok(live.net):
        loss = _fused_step(live, X, y, idx)
    else:
        xb = F.embedding(idx, X)  # (E, B, in): each model's own rows
        loss = per_model_loss(live.net(xb), y[idx])  # (E,)
        live.optimizer.step(torch.autograd.grad(loss.sum(), live.net.parameters()))
        loss = loss.detach()
    live.epoch_loss = loss if live.epoch_loss is None else live.epoch_loss + loss
    for e, every, fraction in live.rewire:
        if (step + 1) % every == 0:
            _rewire(live, e, fraction)


def fused_ok(net: BatchedMLP) -> bool:
    """One hidden layer without LayerNorm (the paper's section 2.1 network): the hand-written step applies."""
    return len(net.weights) == 2 and not net.norms


def compiled_ok(live: LiveBatch, device: torch.device) -> bool:
    """A deep (LayerNorm) batch with fixed masks on the CPU: its epochs run on the compiled
    ``fpe_train.engine.deep`` (no resampling, no rewiring, no DropConnect rescaling)."""
    return (
        COMPILED_DEEP
        and device.type == "cpu"
        and bool(live.net.norms)
        and not fused_ok(live.net)
        and not live.resample
        and not live.rewire
        and live.optimizer.lr_scale is None
    )


def _layout(net: BatchedMLP, shapes: list[list[int]] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sizes (E, L+1), pad (L+1,), offs)``: each model's real sizes (``shapes``, or the padded input width and
    the real neurons of ``net.valid``), the padded sizes and where each tensor starts in the flat layout."""
    pad = [net.weights[0].shape[2], *(w.shape[1] for w in net.weights)]
    if shapes is None:
        counts = [v.sum(dim=1).tolist() for v in net.valid]  # real neurons: a prefix of each layer
        shapes = [[pad[0], *(int(c[e]) for c in counts), pad[-1]] if counts else pad for e in range(net.E)]
    from fpe_train.engine.deep import layout  # keeps numba out until a deep batch runs on the CPU

    return np.array(shapes, dtype=np.int64), np.array(pad, dtype=np.int64), layout(pad, net.E)


def _over_models(run: Callable[[np.ndarray], None], sizes: np.ndarray) -> None:
    """``run(models)`` on shares of the models, one per torch thread (the compiled code releases the GIL), each
    share about the same arithmetic (the heaviest model first into the lightest share)."""
    threads = max(1, min(torch.get_num_threads(), len(sizes)))
    if threads == 1:
        run(np.arange(len(sizes), dtype=np.int64))
        return
    cost = (sizes[:, 1:] * sizes[:, :-1]).sum(axis=1)  # (E,) weights per model
    load, shares = np.zeros(threads), [[] for _ in range(threads)]
    for e in np.argsort(-cost, kind="stable").tolist():
        w = int(np.argmin(load))
        shares[w].append(e)
        load[w] += cost[e]
    with ThreadPoolExecutor(threads, thread_name_prefix="fpe-deep") as pool:
        list(pool.map(run, [np.array(sorted(s), dtype=np.int64) for s in shares if s]))


def _compiled_epoch(
    live: LiveBatch, X: Tensor, y: Tensor, perms: Tensor, batch_size: int, step: int, layout: tuple
) -> int:
    """One epoch of a deep batch on the compiled ``deep.train_epoch``: the optimiser's flat buffers updated in
    place (numpy views), ``live.epoch_loss`` the per-model summed loss (E,) float64."""
    from fpe_train.engine.deep import train_epoch  # keeps numba out until a deep batch runs on the CPU

    opt = live.optimizer
    sizes, pad, offs = layout
    loss = np.zeros(live.net.E)
    lr = opt.lr.cpu().numpy().astype(np.float32)
    l1 = live.l1.cpu().numpy().astype(np.float32)
    l2x2 = (2.0 * live.l2.cpu().to(torch.float32)).numpy()
    trial_of, P = live.trial_of.numpy().astype(np.int64), perms.numpy()
    arrays = (opt.flat.numpy(), opt.mask.numpy(), opt.exp_avg.numpy(), opt.exp_avg_sq.numpy(), opt.steps.numpy())

    def run(models: np.ndarray) -> None:
        train_epoch(
            models, sizes, pad, offs, *arrays, lr, l1, l2x2, trial_of, P, X.numpy(), y.numpy(), batch_size, loss
        )

    _over_models(run, sizes)
    live.epoch_loss = torch.from_numpy(loss)
    return step + -(-perms.shape[1] // batch_size)


def _chunk(E: int, B: int, width: int, device: torch.device) -> int:
    """Models per chunk of the fused step: on CPU, so that a chunk's activations stay in cache; CUDA: all."""
    if device.type != "cpu":
        return E
    return max(1, min(E, CHUNK_ELEMENTS // max(1, B * width)))


@torch.no_grad()
def _fused_step(live: LiveBatch, X: Tensor, y: Tensor, idx: Tensor) -> Tensor:
    """Forward and backward of a one-hidden-layer batch written out (about ten kernels per chunk of models),
    gradients straight into the optimiser's flat buffer, then one Adam step; returns the loss per model (E,).

    Same arithmetic as autograd on ``z = W2m relu(W1m x + b1) + b2`` with the mean BCE / cross-entropy loss.
    """
    net, opt = live.net, live.optimizer
    W1m, W2m = (w * m for w, m in zip(net.weights, net.masks, strict=True))  # masks applied once per step
    b1, b2 = net.biases
    gW1, gW2, gb1, gb2 = opt.grad_views()
    E, B = idx.shape
    h, n_in = W1m.shape[1:]
    loss = torch.empty(E, dtype=W1m.dtype, device=W1m.device)
    c = _chunk(E, B, n_in + 3 * h, W1m.device)
    for s in range(0, E, c):
        sl = slice(s, s + c)
        xb = _gather(live, X, idx[sl])  # (c, B, in)
        z = torch.bmm(xb, W1m[sl].transpose(1, 2)).add_(b1[sl].unsqueeze(1))  # (c, B, h)
        a = torch.relu(z)
        out = torch.bmm(a, W2m[sl].transpose(1, 2)).add_(b2[sl].unsqueeze(1))  # (c, B, out)
        dout, loss[sl] = _loss_and_grad(out, y[idx[sl]])  # (c, B, out), (c,)
        torch.bmm(dout.transpose(1, 2), a, out=gW2[sl])  # (c, out, h)
        torch.sum(dout, 1, out=gb2[sl])
        dz = torch.ops.aten.threshold_backward(torch.bmm(dout, W2m[sl]), z, 0)  # (c, B, h): ReLU'(z) = z > 0
        torch.bmm(dz.transpose(1, 2), xb, out=gW1[sl])  # (c, h, in)
        torch.sum(dz, 1, out=gb1[sl])
    opt.step(opt.grad)
    return loss


def _gather(live: LiveBatch, X: Tensor, idx: Tensor) -> Tensor:
    """``X[idx]`` as ``(c, B, in)``, into a buffer kept across steps (no fresh pages for the largest tensor)."""
    need = idx.numel() * X.shape[1]
    buf = live.buffers.get("x")
    if buf is None or buf.numel() < need or buf.device != X.device:
        buf = live.buffers["x"] = torch.empty(need, dtype=X.dtype, device=X.device)
    out = buf[:need].view(idx.numel(), X.shape[1])
    torch.index_select(X, 0, idx.reshape(-1), out=out)
    return out.view(*idx.shape, X.shape[1])


def _loss_and_grad(out: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
    """Mean loss per model and its gradient w.r.t. the logits ``out (c, B, o)``; ``yb (c, B)``."""
    B = out.shape[1]
    if out.shape[-1] == 1:
        logit = out[..., 0]
        loss = F.binary_cross_entropy_with_logits(logit, yb, reduction="none").mean(dim=1)
        return ((torch.sigmoid(logit) - yb) / B).unsqueeze(-1), loss
    logp = torch.log_softmax(out, dim=-1)  # (c, B, o)
    target = yb.long().unsqueeze(-1)
    loss = -logp.gather(-1, target)[..., 0].mean(dim=1)
    return logp.exp_().scatter_add_(-1, target, torch.full_like(logp[..., :1], -1.0)).div_(B), loss


def _block(live: LiveBatch, e: int, j: int) -> tuple[slice, slice]:
    """Model e's real (rows, columns) of layer j inside the padded weight."""
    return slice(0, live.shapes[e][j + 1]), slice(0, live.shapes[e][j])


@torch.no_grad()
def _resample(live: LiveBatch, e: int) -> None:
    for j in live.dynamic_layers:
        rows, cols = _block(live, e, j)
        m = live.net.masks[j]
        m[e, rows, cols] = resample(m[e, rows, cols], live.mask_gens[e])


@torch.no_grad()
def _rewire(live: LiveBatch, e: int, fraction: float) -> None:
    for j in live.dynamic_layers:
        rows, cols = _block(live, e, j)
        w, m = live.net.weights[j], live.net.masks[j]
        before = m[e, rows, cols].clone()
        rewire_(w[e : e + 1, rows, cols], m[e : e + 1, rows, cols], None, fraction, live.mask_gens[e])
        changed = before != m[e, rows, cols]
        for state in live.optimizer.state_views(j):
            state[e, rows, cols] = state[e, rows, cols].masked_fill(changed, 0)


def note_divergence(live: LiveBatch, epoch: int) -> None:
    """Record models whose summed epoch loss is NaN or infinite (they keep training, contained, unread)."""
    bad = (~torch.isfinite(live.epoch_loss)).nonzero()[:, 0].tolist()
    for e in bad:
        live.diverged.setdefault(e, epoch)


def train_epochs(
    live: LiveBatch,
    X: Tensor,
    y: Tensor,
    n: int,
    epochs: int,
    batch_size: int,
    first_epoch: int = 1,
    on_epoch: Callable[[int], None] | None = None,
    step0: int = 0,
) -> int:
    """Train ``epochs`` epochs on the stacked training sets ``X (S*n, in)``, ``y (S*n,)`` (``n`` rows each);
    returns the global step count.

    On CUDA the next epoch's permutations are drawn on the host while the device trains (``PermutationFeed``);
    with ``FPE_CUDA_GRAPHS=1`` an epoch of the fused step is captured once as a CUDA graph and replayed
    (``EpochGraph``: the same functions as the eager epoch; anything unsupported trains eagerly).
    """
    step = step0
    trial_of = live.trial_of.to(X.device)
    identity = torch.equal(live.trial_of, torch.arange(len(live.order_keys)))  # one model per trial (warm-up)
    last = first_epoch + epochs - 1
    feed = PermutationFeed(live.order_keys, live.offset, n, X.device, ahead=X.device.type == "cuda")
    graph = EpochGraph(live, X.device) if epochs > 1 and graphs_wanted(live, X.device) else None

    compiled = _layout(live.net, live.shapes) if compiled_ok(live, X.device) else None

    def eager(perms: Tensor, step: int) -> int:
        if compiled is not None:
            return _compiled_epoch(live, X, y, perms, batch_size, step, compiled)
        return _epoch(live, X, y, perms, trial_of, identity, batch_size, step)

    try:
        for epoch in range(first_epoch, last + 1):
            perms = feed.get(epoch, epoch + 1 if epoch < last else None)  # (S, n) rows of each trial's set
            if graph is None:
                step = eager(perms, step)
            else:
                step = graph.epoch(eager, perms, step, feed)
                if graph.failed:
                    graph = None
            note_divergence(live, epoch)  # reads the epoch's loss once (a sync on CUDA)
            if on_epoch is not None:
                on_epoch(epoch)
    finally:
        feed.close()
    return step


def _epoch(
    live: LiveBatch, X: Tensor, y: Tensor, perms: Tensor, trial_of: Tensor, identity: bool, batch_size: int, step: int
) -> int:
    """Every step of one epoch in the order ``perms (S, n)``; the same code runs eagerly and under capture."""
    live.epoch_loss = None
    n = perms.shape[1]
    for start in range(0, n, batch_size):
        idx = perms[:, start : start + batch_size]  # (S, B)
        idx = idx.contiguous() if identity else idx[trial_of]  # (E, B) rows of each model
        _step(live, X, y, idx, step)
        step += 1
    return step


GRAPHS_ENV = "FPE_CUDA_GRAPHS"
GRAPH_STATS = {"captured": 0, "replayed": 0, "failed": 0}  # epochs of this process, for benchmarks and tests


def graphs_wanted(live: LiveBatch, device: torch.device) -> bool:
    """CUDA graphs for this batch: opted in (``FPE_CUDA_GRAPHS=1``), on CUDA, the one-hidden-layer fused step,
    fixed masks (no resampling, no rewiring, no DropConnect rescaling)."""
    return (
        os.environ.get(GRAPHS_ENV, "0") == "1"
        and device.type == "cuda"
        and fused_ok(live.net)
        and not live.resample
        and not live.rewire
        and live.optimizer.lr_scale is None
    )


class EpochGraph:
    """One epoch of the fused step as a CUDA graph: the first epoch trains eagerly on a side stream (the
    warm-up torch's CUDA graph docs ask for: cuBLAS handles, the gather buffer and the allocator's blocks are
    made on the stream that captures), the second is captured on that stream and replayed, every later
    epoch replays it.

    Static inputs: the data ``X, y`` and the feed's device buffer of permutations (rewritten before each
    replay); the weights, gradients and Adam state are the optimiser's flat buffers, updated in place; Adam's
    bias corrections come from its step-count tensor on the device (``BatchedAdam.steps``), so they advance in
    every replay. The epoch's loss is the graph's output tensor, read once per epoch (the divergence check).
    If capture fails for any reason, ``failed`` is set and that epoch and the rest train eagerly.
    """

    def __init__(self, live: LiveBatch, device: torch.device) -> None:
        self.live, self.graph, self.loss, self.steps = live, None, None, 0
        self.failed, self.warm = False, False
        self.stream = torch.cuda.Stream(device=device)

    def epoch(self, eager: Callable[[Tensor, int], int], perms: Tensor, step: int, feed: PermutationFeed) -> int:
        """Train one epoch (eagerly, by capture and replay, or by replay); returns the step count after it."""
        if self.graph is not None:
            self.graph.replay()
            self.live.epoch_loss = self.loss
            GRAPH_STATS["replayed"] += 1
            return step + self.steps
        main = torch.cuda.current_stream(perms.device)
        if not self.warm:  # warm-up: a real epoch, eagerly, on the stream that will capture
            self.stream.wait_stream(main)
            with torch.cuda.stream(self.stream):
                after = eager(perms, step)
            main.wait_stream(self.stream)
            self.warm = True
            return after
        feed.wait()  # no host work of the feed (event waits, pinned buffers) while capturing
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self.stream):
                after = eager(perms, step)  # recorded, not run
        except Exception as err:  # noqa: BLE001 - any capture failure: train eagerly instead
            warnings.warn(f"CUDA graph capture failed ({type(err).__name__}: {err}); training eagerly", stacklevel=2)
            self.failed = True
            GRAPH_STATS["failed"] += 1
            torch.cuda.synchronize(perms.device)
            return eager(perms, step)
        self.graph, self.loss, self.steps = graph, self.live.epoch_loss, after - step
        graph.replay()
        GRAPH_STATS["captured"] += 1
        return after


class PermutationFeed:
    """Each trial's permutation of an epoch (``kernel.permutations``, the CPU kernel's order), shifted to its
    dataset's rows: ``get(epoch)`` -> (S, n) int64 on ``device``.

    ``ahead=False`` (the CPU): drawn when asked, into one kept host buffer. ``ahead=True`` (CUDA): the next
    epoch's table is drawn by a worker thread (the compiled draw releases the GIL) into the other of two host
    buffers (pinned on CUDA) while the device trains this one, then copied without blocking into one device
    buffer kept for the whole run (static, as a CUDA graph needs); a host buffer is rewritten only after the
    copy out of it has finished.
    """

    def __init__(self, keys: np.ndarray, offset: Tensor, n: int, device, ahead: bool = False) -> None:
        self.keys, self.device = keys, torch.device(device)
        self.offset = offset.cpu().numpy()[:, None] if bool(offset.any()) else None
        cuda = self.device.type == "cuda"
        shape = (len(keys), n)
        self.host = [torch.empty(shape, dtype=torch.long, pin_memory=cuda) for _ in range(2 if ahead else 1)]
        self.copied: list = [None] * len(self.host)  # CUDA: the event after the last copy out of each buffer
        self.dev = torch.empty(shape, dtype=torch.long, device=self.device) if cuda else None
        self.pending: dict[int, tuple] = {}  # epoch -> (future, host buffer)
        self.pool = None
        if ahead:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpe-permutations")

    def _draw(self, epoch: int, i: int) -> None:
        from fpe_train.engine.kernel import permutations  # keeps numba out until used

        if self.copied[i] is not None:
            self.copied[i].synchronize()  # the copy out of this buffer has finished
        out = self.host[i].numpy()
        permutations(self.keys, epoch, out)
        if self.offset is not None:
            out += self.offset

    def get(self, epoch: int, next_epoch: int | None = None) -> Tensor:
        """This epoch's table; with ``ahead``, ``next_epoch``'s is started in the background."""
        if epoch in self.pending:
            future, i = self.pending.pop(epoch)
            future.result()
        else:
            self.wait()
            self.pending.clear()
            i = 0
            self._draw(epoch, i)
        out = self.host[i]
        if self.dev is not None:
            self.dev.copy_(out, non_blocking=True)
            self.copied[i] = torch.cuda.Event()
            self.copied[i].record()
            out = self.dev
        if self.pool is not None and next_epoch is not None:
            j = 1 - i
            self.pending[next_epoch] = (self.pool.submit(self._draw, next_epoch, j), j)
        return out

    def wait(self) -> None:
        """Until no draw runs in the background (its errors raised here)."""
        for future, _ in self.pending.values():
            future.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


@torch.no_grad()
def accuracy(
    net: BatchedMLP,
    X: Tensor,
    y: Tensor,
    rows: Tensor | None = None,
    n: int | None = None,
    max_elements: int = 1 << 24,
    shapes: list[list[int]] | None = None,
) -> Tensor:
    """Fraction of correct predictions per model: (E,) float64 on the CPU.

    ``X (S*n, in)``, ``y (S*n,)``: the stacked sets of ``S`` datasets of ``n`` rows; model e reads rows
    ``rows[e] .. rows[e] + n`` (default: one set, ``X`` whole, shared). Evaluated in chunks of samples
    so that ``E x chunk x width`` stays under ``max_elements``. A deep (LayerNorm) net on the CPU runs the
    compiled forward pass (``deep.correct``), each model at its real sizes (``shapes``, as ``LiveBatch.shapes``;
    default: the padded input width and ``net.valid``'s real neurons).
    """
    E = net.E
    n = X.shape[0] if n is None else n
    rows = torch.zeros(E, dtype=torch.long) if rows is None else rows
    if COMPILED_DEEP and X.device.type == "cpu" and net.norms and len(net.weights) > 1:
        return _compiled_accuracy(net, X, y, rows, n, shapes)
    width = max(X.shape[1], *(w.shape[1] for w in net.weights))
    chunk = max(1, min(n, max_elements // max(1, E * width)))
    hits = torch.zeros(E, dtype=torch.long, device=X.device)
    base = rows.to(X.device)[:, None]  # (E, 1)
    for start in range(0, n, chunk):
        idx = base + torch.arange(start, min(n, start + chunk), device=X.device)  # (E, c)
        hits += correct(net(F.embedding(idx, X)), y[idx])
    return hits.cpu().double() / n


def _compiled_accuracy(
    net: BatchedMLP, X: Tensor, y: Tensor, rows: Tensor, n: int, shapes: list[list[int]] | None
) -> Tensor:
    """``accuracy`` of a deep net on the CPU through the compiled forward pass, model by model."""
    from fpe_train.engine.deep import correct as deep_correct  # keeps numba out until a deep net is evaluated

    sizes, pad, offs = _layout(net, shapes)
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).numpy()  # (P,) the flat layout
    ones = [torch.ones(p.numel(), dtype=torch.bool) for p in net.parameters()[len(net.masks) :]]
    mask = torch.cat([m.reshape(-1) for m in net.masks] + ones).numpy()  # (P,)
    hits = np.zeros(net.E, dtype=np.int64)
    start = rows.cpu().numpy().astype(np.int64)
    Xn, yn = X.contiguous().numpy(), y.contiguous().numpy()

    def run(models: np.ndarray) -> None:
        deep_correct(models, sizes, pad, offs, flat, mask, Xn, yn, start, n, 256, hits)

    _over_models(run, sizes)
    return torch.from_numpy(hits).double() / n


def simple_live_batch(net: BatchedMLP, lr: float, l1: float = 0.0, l2: float = 0.0, seeds=None, **kw) -> LiveBatch:
    """A live batch of ``net``'s models on one shared training set, model e ordering its data from order key
    ``seeds[e]`` (default e); ``kw`` as ``LiveBatch`` (resample, rewire, mask_gens, dynamic_layers)."""
    E = net.E
    seeds = list(range(E)) if seeds is None else list(seeds)
    sizes = [net.weights[0].shape[2], *(w.shape[1] for w in net.weights)]
    dev = net.weights[0].device
    full = lambda x: torch.full((E,), float(x), device=dev)  # noqa: E731
    return LiveBatch(
        net=net,
        labels=[("model", e) for e in range(E)],
        lr=full(lr),
        l1=full(l1),
        l2=full(l2),
        trial_of=torch.arange(E),
        order_keys=np.array(seeds, dtype=np.uint64),
        offset=torch.zeros(E, dtype=torch.long),
        shapes=[sizes] * E,
        **kw,
    )
