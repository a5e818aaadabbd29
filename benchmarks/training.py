"""Speed of the engine vs a paper-style loop (one torch.nn model at a time, DataLoader, batch 500), in one run.

Cases (ratios are only comparable within a run; one thread unless ``--threads``):

- ``loop``: the paper's A3 loop, a fresh nn.Sequential + Adam per model (section 3.1 case study: 8 clauses of
  4 literals, m = 32, r = 8, 10,000 samples): the reference, model-epochs per second;
- ``dense`` / ``masked``: E models of r = 8 (dense) or 16 neurons with half of W1 masked off (FPE alpha = 2),
  each model its own minibatches: the compiled CPU kernel (``fpe_train.engine.cpu``; "after") beside the
  torch engine on the same models ("before"); target >= 150x the loop at E = 256;
- ``profile``: the kernel's step taken apart (the transposed gather, the two hand-written products, the row
  pass, Adam), each timed alone on the shapes of the dense and masked cases, and the products through BLAS;
- ``sweep``: the 9-config sweep (clauses 4/8/16 x r 4/8/16, random + clause, 3 trials, 20 + 20 epochs,
  2,000 samples) through ``fpe-theory sweep run`` in a subprocess (process start, data, metrics, store),
  three fresh processes on numba's JIT ("before", ``FPE_KERNEL_JIT=1``) and three on the prebuilt kernel
  (``fpe_train.engine.aot``), alternating, the median of each beside the loop's time for the same
  model-epochs (dense 40 epochs, each FPE model 20; the loop timed at 2,000 samples); target >= 20x;
- ``grid``: the paper's Boolean grid (fig3a + fig3c at paper size) on the kernel at two short epoch counts,
  extrapolated linearly to its 1000 + 1000 epochs, beside its FLOP floor: the grid's useful arithmetic
  (6 flops per non-zero weight per sample) at this machine's measured single-thread sgemm rate; goal within
  2.5x of the floor;
- ``deep``: one Table A3 config (mnist1d, depth 8, r 16, random split, 30 trials, batch 100) on the torch
  path, CPU: a step of its fine-tuning batch (30 dense models beside 30 FPE models, half their weights masked,
  padded together) on the compiled epoch (``fpe_train.engine.deep``; "after") beside autograd ("before"), and
  the CPU seconds of ``run_batch`` at ``--deep-epochs`` + ``--deep-epochs`` epochs both ways.

Figures are per wall second and per CPU second of this process (on a shared machine the CPU-second figure
with one thread is the better estimate of an idle core).

    python benchmarks/training.py [--threads 1] [--sizes 256] [--seconds 3] [--skip profile,sweep,grid,deep]
        [--deep-epochs 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from numba import njit
from threadpoolctl import threadpool_limits
from torch import nn

from fpe_train.engine import aot, cpu, kernel, torch_batch, train
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.data import boolean_data
from fpe_train.engine.mlp import BatchedMLP
from fpe_train.engine.threads import set_kernel_threads
from fpe_train.engine.train import simple_live_batch, train_epochs

M, K, R, N_TRAIN, BATCH, LR, L1, L2 = 32, 4, 8, 10_000, 500, 1e-3, 1e-7, 1e-5
ROOT = Path(__file__).resolve().parents[1]
FLOOR_FLOP = 6.2e13  # the paper's Boolean grid, useful arithmetic (the planner's count; printed beside ours)
SWEEP9 = """
[sweep]
name = "bench9"
[base]
task = "boolean"
k = 4
alpha = 2
splits = ["random", "clause"]
trials = 3
warmup_epochs = 20
epochs = 20
n_train = 2000
n_test = 2000
device = "cpu"
[grid]
clauses = [4, 8, 16]
r = [4, 8, 16]
"""


def _timed(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of fn()."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _start(E: int, width: int, masked: bool):
    """E models' initial (W1, b1, W2, b2, M1), seeded."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(E):
        W1 = ((rng.random((width, M), dtype=np.float32) * 2 - 1) / np.sqrt(M)).astype(np.float32)
        M1 = rng.random(W1.shape) < 0.5 if masked else np.ones(W1.shape, bool)
        b1 = ((rng.random(width, dtype=np.float32) * 2 - 1) / np.sqrt(M)).astype(np.float32)
        W2 = ((rng.random((1, width), dtype=np.float32) * 2 - 1) / np.sqrt(width)).astype(np.float32)
        out.append((W1 * M1, b1, W2, np.zeros(1, np.float32), M1))
    return out


def kernel_rate(E: int, seconds: float, width: int, masked: bool) -> tuple[float, float]:
    """Model-epochs/s (wall, CPU) of E models on the kernel, each with its own stream (minibatches)."""
    d = boolean_data(N_TRAIN, M, K, seed=0)
    blocks = [(W1, b1, W2, b2, M1, np.ones(W2.shape, bool)) for W1, b1, W2, b2, M1 in _start(E, width, masked)]
    models = cpu._Models(blocks, list(range(E)), [0] * E, [TrainConfig(lr=LR, l1=L1, l2=L2)] * E)
    data = cpu._Data(
        d.X.ravel(),
        np.zeros(1, np.int64),
        d.y,
        d.X.ravel(),
        np.zeros(1, np.int64),
        d.y,
        N_TRAIN,
        N_TRAIN,
        1,
        [0] * E,
        [M] * E,
    )
    threads = cpu.kernel_threads()
    from concurrent.futures import ThreadPoolExecutor

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        pool = pool if threads > 1 else None
        trainer = cpu._Trainer(models, data, np.arange(E, dtype=np.uint64), BATCH, pool, cpu.compiled(threads))
        trainer.epochs(1, 1, lambda e: None)  # untimed: first use
        one = _timed(lambda: trainer.epochs(2, 1, lambda e: None))[0]
        epochs = max(2, int(seconds / max(1e-3, one)))
        wall, cpu_s = _timed(lambda: trainer.epochs(3, epochs, lambda e: None))
    return E * epochs / wall, E * epochs / cpu_s


def torch_rate(E: int, seconds: float, width: int, masked: bool) -> tuple[float, float]:
    """Model-epochs/s (wall, CPU) of the same E models on the torch engine."""
    d = boolean_data(N_TRAIN, M, K, seed=0)
    X, y = torch.from_numpy(d.X), torch.from_numpy(d.y)
    start = _start(E, width, masked)
    stack = lambda i: torch.from_numpy(np.stack([s[i] for s in start]))  # noqa: E731
    net = BatchedMLP([stack(0), stack(2)], [stack(1), stack(3)], [stack(4), torch.ones(E, 1, width, dtype=torch.bool)])
    group = simple_live_batch(net.requires_grad_(), LR, L1, L2)
    train_epochs(group, X, y, N_TRAIN, 1, BATCH)
    one = _timed(lambda: train_epochs(group, X, y, N_TRAIN, 1, BATCH))[0]
    epochs = max(2, int(seconds / max(1e-3, one)))
    wall, cpu_s = _timed(lambda: train_epochs(group, X, y, N_TRAIN, epochs, BATCH))
    return E * epochs / wall, E * epochs / cpu_s


def loop_rate(models: int, epochs: int, n=N_TRAIN) -> tuple[float, float]:
    """Model-epochs/s of the paper's A3 loop: a fresh nn.Sequential, Adam, DataLoader(batch 500, shuffle)."""
    d = boolean_data(n, M, K, seed=0)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(d.X), torch.from_numpy(d.y))
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True)
    _loop_models(1, 1, loader)  # untimed: first-use costs (Adam's lazy imports, allocator)
    wall, cpu_s = _timed(lambda: _loop_models(models, epochs, loader))
    return models * epochs / wall, models * epochs / cpu_s


def _loop_models(models: int, epochs: int, loader) -> None:
    for _ in range(models):
        model = nn.Sequential(nn.Linear(M, R), nn.ReLU(), nn.Linear(R, 1))
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                loss = nn.functional.binary_cross_entropy_with_logits(model(xb)[:, 0], yb)
                loss = loss + L1 * model[0].weight.abs().sum() + L2 * sum((p**2).sum() for p in model.parameters())
                loss.backward()
                opt.step()


# ---------------------------------------------------------------- profile of the step


@njit(nogil=True)
def _gather(Xflat, yd, perm, xT, yb, offs, reps):
    for rep in range(reps):
        start = (rep * xT.shape[1]) % (perm.shape[0] - xT.shape[1])
        kernel._gather_t(Xflat, 0, xT.shape[0], perm, start, xT, offs)
        for i in range(xT.shape[1]):
            yb[i] = yd[perm[start + i]]


@njit(nogil=True)
def _products(W1, xT, zT, G1, act, cnt, nnz, reps):
    for _ in range(reps):
        if nnz == G1.size:
            kernel._forward_dense(W1, xT, zT)
            kernel._backward_dense(zT, xT, G1, act)
        else:
            kernel._forward_masked(W1, xT, zT, act, cnt)
            kernel._backward_masked(zT, xT, G1, act, cnt)


@njit(nogil=True)
def _products_blas(W1, xT, zT, G1, reps):
    for _ in range(reps):
        np.dot(W1, xT, zT)
        np.dot(zT, xT.T, G1)


@njit(nogil=True)
def _rows(zT, yb, b1, w2, dv, G, n1, hh, reps):
    for _ in range(reps):
        kernel._binary_rows(zT, yb, b1, w2, np.float32(0.1), dv, G, n1, hh)


@njit(nogil=True)
def _adam(P, G, A1, A2, Mk, n1, size, reps):
    for _ in range(reps):
        kernel._adam(
            P, G, A1, A2, Mk, 0, n1, np.float32(1e-7), np.float32(2e-5), np.float32(1e-3), np.float32(0.5), True
        )
        kernel._adam(
            P,
            G[n1:],
            A1,
            A2,
            Mk,
            n1,
            size,
            np.float32(1e-7),
            np.float32(2e-5),
            np.float32(1e-3),
            np.float32(0.5),
            False,
        )


def _best(fn, reps=400) -> float:
    """Microseconds per repetition: the best CPU time of 5 runs."""
    fn(1)
    best = min(_timed(lambda: fn(reps))[1] for _ in range(5))
    return best / reps * 1e6


def profile(width: int, masked: bool) -> str:
    """The kernel's step taken apart; the products also through BLAS on the same transposed arrays (the path of
    models above ``kernel.HAND_MAX`` unmasked weights), printed beside the sum."""
    d = boolean_data(N_TRAIN, M, K, seed=0)
    W1, b1, W2, _, M1 = _start(1, width, masked)[0]
    perm = np.random.default_rng(0).permutation(N_TRAIN)
    xT, yb, offs = np.empty((M, BATCH), np.float32), np.empty(BATCH, np.float32), np.empty(16, np.int64)
    n1, size = width * M, width * M + 2 * width + 1
    zT, G, dv = np.empty((width, BATCH), np.float32), np.zeros(size, np.float32), np.empty(BATCH, np.float32)
    P = np.concatenate([W1.ravel(), b1, W2.ravel(), [0.0]]).astype(np.float32)
    Mk = np.concatenate([M1.ravel(), np.ones(2 * width + 1)]).astype(np.float32)
    act, cnt = np.empty((width, M), np.int64), np.empty(width, np.int64)
    nnz = kernel._active(Mk, 0, width, M, act, cnt)
    G1 = G[:n1].reshape(width, M)
    with threadpool_limits(1, user_api="blas"):
        _gather(d.X.ravel(), d.y, perm, xT, yb, offs, 1)
        parts = {
            "gather (transposed)": _best(lambda n: _gather(d.X.ravel(), d.y, perm, xT, yb, offs, n)),
            "W1 xT + dzT xT^T (hand-written)": _best(lambda n: _products(W1, xT, zT, G1, act, cnt, nnz, n)),
            "row pass": _best(lambda n: _rows(zT.copy(), yb, b1, W2[0], dv, G, n1, width, n)),
            "Adam (fused, masked)": _best(lambda n: _adam(P, G, np.zeros_like(P), np.zeros_like(P), Mk, n1, size, n)),
        }
        blas = _best(lambda n: _products_blas(W1, xT, zT, G1, n))
    total = sum(parts.values())
    return (
        ", ".join(f"{k} {v:.1f} us ({v / total:.0%})" for k, v in parts.items())
        + f"; sum {total:.1f} us/step (the two products through BLAS instead: {blas:.1f} us)"
    )


# ---------------------------------------------------------------- end to end


def sweep_case(threads: int, jit: bool = False) -> float:
    """Wall seconds of ``fpe-theory sweep run`` on the 9-config sweep, in a fresh process (``jit``: numba's JIT
    kernel, as before the prebuilt one, ``fpe_train.engine.aot``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench9.toml"
        path.write_text(SWEEP9)
        cmd = [
            sys.executable,
            "-m",
            "cli",
            "sweep",
            "run",
            str(path),
            "--store",
            str(Path(tmp) / "r.db"),
            "--executor",
            "serial",
            "--threads",
            str(threads),
            "--no-progress",
        ]
        t0 = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": "1", aot.JIT_ENV: "1" if jit else "0"}
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
        return time.perf_counter() - t0


def sgemm_rate() -> float:
    """FLOP per CPU second of one thread's 1024^3 float32 product (the best of 5)."""
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    with threadpool_limits(1, user_api="blas"):
        a @ a
        best = min(_timed(lambda: a @ a)[1] for _ in range(5))
    return 2 * 1024**3 / best


def grid_case(epoch_counts=(2, 10)) -> tuple[float, float, float]:
    """(useful FLOP of the paper's Boolean grid, seconds per extra warm-up + fine-tune epoch pair, fixed seconds):
    fig3a + fig3c at paper size on the kernel, one thread, at two short epoch counts (eight pairs apart: the
    fixed part, mostly data, is about ten epoch pairs, so a slope over two pairs was mostly noise)."""
    from fpe_train.engine.cpu import run_batch
    from fpe_train.sweeps.sweep import find_sweep, load_sweep

    configs = {}
    for name in ("fig3a", "fig3c"):
        for c in load_sweep(find_sweep(name), "paper").configs:
            configs[c] = None  # configs shared by the two sweeps count once
    useful = sum(
        6.0 * c.n_train * c.trials * (c.m * c.r + c.r) * (c.warmup_epochs + c.epochs * (1 + len(c.splits)))
        for c in configs
    )
    times = []
    for e in epoch_counts:
        short = [TrainConfig.from_dict({**c.to_dict(), "warmup_epochs": e, "epochs": e}) for c in configs]
        times.append(_timed(lambda short=short: [run_batch([(c, range(c.trials))]) for c in short])[1])
    per_pair = (times[1] - times[0]) / (epoch_counts[1] - epoch_counts[0])
    return useful, per_pair, times[0] - per_pair * epoch_counts[0]


def _deep_batch(trials: int, depth: int, r: int, n_in: int, n_out: int):
    """A Table A3 fine-tuning batch, seeded: ``trials`` dense models ``[n_in, r x depth, n_out]`` and as many FPE
    models (alpha = 2 on hidden layers 1, 3, ...: widths 2 r / r alternating, half the weights of the first
    ``depth`` layers masked), padded together."""
    gen = torch.Generator().manual_seed(0)
    wide = [n_in] + [2 * r if j % 2 == 0 else r for j in range(depth)] + [n_out]
    models = []
    for sizes in [[n_in] + [r] * depth + [n_out]] * trials + [wide] * trials:
        masked = sizes is wide
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        masks = [
            (torch.rand(o, i, generator=gen) < 0.5) if masked and j < depth else torch.ones(o, i, dtype=torch.bool)
            for j, (i, o) in enumerate(pairs)
        ]
        ws = [(torch.rand(o, i, generator=gen) * 2 - 1) / i**0.5 * m for (i, o), m in zip(pairs, masks, strict=True)]
        bs = [(torch.rand(o, generator=gen) * 2 - 1) / i**0.5 for i, o in pairs]
        norms = [(torch.ones(o), torch.zeros(o)) for o in sizes[1:-1]]
        models.append(torch_batch._Model(ws, bs, masks, norms))
    live = simple_live_batch(torch_batch._assemble(models, True, "cpu"), lr=0.01)
    live.shapes = [m.sizes for m in models]
    return live


def deep_case(epochs: int) -> str:
    """The ``deep`` case: per-step ms of the fine-tuning batch and run_batch CPU seconds, compiled and autograd."""
    n, batch = 4000, 100
    gen = torch.Generator().manual_seed(1)
    X, y = torch.randn(n, 40, generator=gen), torch.randint(0, 10, (n,), generator=gen).float()
    step, total = {}, {}
    config = TrainConfig(
        task="mnist1d",
        depth=8,
        r=16,
        alpha=2,
        splits=("random",),
        batch_size=batch,
        lr=0.01,
        trials=30,
        warmup_epochs=epochs,
        epochs=epochs,
        n_train=60000,
        n_test=10000,
        device="cpu",
    )
    try:
        for compiled in (True, False):
            train.COMPILED_DEEP = compiled
            live = _deep_batch(30, 8, 16, 40, 10)
            train_epochs(live, X[:batch], y[:batch], batch, 1, batch)  # warm (compiled code loaded)
            step[compiled] = _timed(lambda live=live: train_epochs(live, X, y, n, 1, batch))[1] / (n // batch)
            torch_batch.run_batch(
                [(dataclasses.replace(config, warmup_epochs=1, epochs=1, trials=2), range(2))]
            )  # data, code
            total[compiled] = _timed(lambda: torch_batch.run_batch([(config, range(30))]))[1]
    finally:
        train.COMPILED_DEEP = True
    return (
        f"one step of 60 models (30 dense, 30 FPE): compiled {step[True] * 1e3:.2f} ms, autograd "
        f"{step[False] * 1e3:.2f} ms ({step[False] / step[True]:.1f}x); run_batch {epochs} + {epochs} epochs: "
        f"compiled {total[True]:.1f} CPU s, autograd {total[False]:.1f} CPU s ({total[False] / total[True]:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default="256")
    parser.add_argument("--seconds", type=float, default=3.0, help="rough time per measurement")
    parser.add_argument("--skip", default="", help="comma list of cases to skip: profile,sweep,grid,deep")
    parser.add_argument("--deep-epochs", type=int, default=5, help="deep case: warm-up and fine-tune epochs")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    torch.set_num_threads(args.threads)
    set_kernel_threads(args.threads)
    print(f"cpu threads={args.threads} m={M} r={R} n_train={N_TRAIN} batch={BATCH}; load {os.getloadavg()[0]:.2f}")
    loop, loop_cpu = loop_rate(models=2, epochs=5)
    print(
        f"loop    paper-style (one nn.Sequential at a time, DataLoader): {loop:8.1f} model-epochs/s wall, "
        f"{loop_cpu:8.1f} per CPU second"
    )
    for E in [int(s) for s in args.sizes.split(",")]:
        for label, width, masked in (("dense   r=8", R, False), ("masked  FPE 16 neurons, half W1", 2 * R, True)):
            rate, rate_cpu = kernel_rate(E, args.seconds, width, masked)
            old, old_cpu = torch_rate(E, args.seconds, width, masked)
            print(
                f"E={E:5d} {label:32s}: kernel {rate:8.1f} model-epochs/s = {rate / loop:6.1f}x the loop, "
                f"per CPU s {rate_cpu / loop_cpu:6.1f}x (target >= 150x); before (torch engine) "
                f"{old / loop:6.1f}x, per CPU s {old_cpu / loop_cpu:6.1f}x; after/before {rate_cpu / old_cpu:.2f} "
                "per CPU s",
                flush=True,
            )
    if "profile" not in skip:
        for label, width, masked in (("dense r=8", R, False), ("masked 16", 2 * R, True)):
            print(f"profile {label}, one step (B = {BATCH}, m = {M}): {profile(width, masked)}", flush=True)
    if "sweep" not in skip:
        if args.threads == 1 and aot.load() is None:
            print("sweep   note: no prebuilt kernel matches here (python -m fpe_train.engine.aot builds it)")
        walls = {False: [], True: []}
        for _ in range(3):  # alternating, so that both see the same load
            for jit in (True, False):
                walls[jit].append(sweep_case(args.threads, jit))
        model_epochs = 9 * 3 * (40 + 2 * 20)
        rate2k = loop_rate(models=3, epochs=10, n=2000)[0]
        loop_s = model_epochs / rate2k
        for jit, label in ((True, "before (numba JIT)"), (False, "after (prebuilt)")):
            wall = float(np.median(walls[jit]))
            print(
                f"sweep   9 configs through `fpe-theory sweep run` (end to end), {label:18s}: median {wall:5.2f} s "
                f"of {', '.join(f'{w:.2f}' for w in walls[jit])}; the loop would take {loop_s:6.1f} s "
                f"({model_epochs} model-epochs at {rate2k:.1f}/s) = {loop_s / wall:5.1f}x (target >= 20x); "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    if "deep" not in skip:
        print(f"deep    Table A3 mnist1d depth 8 r 16: {deep_case(args.deep_epochs)}; load {os.getloadavg()[0]:.2f}")
    if "grid" not in skip:
        rate = sgemm_rate()
        useful, per_pair, fixed = grid_case()
        total = fixed + 1000 * per_pair
        print(
            f"grid    fig3a + fig3c paper size, one thread: {useful:.3g} useful FLOP (floor {FLOOR_FLOP:.2g}); "
            f"{per_pair:.2f} CPU s per epoch pair + {fixed:.1f} s -> {total / 60:.1f} CPU min at 1000 + 1000; "
            f"floor at the sgemm rate ({rate / 1e9:.0f} GFLOP/s): {FLOOR_FLOP / rate / 60:.1f} min; "
            f"{total / (FLOOR_FLOP / rate):.2f}x the floor (goal <= 2.5x)"
        )


if __name__ == "__main__":
    main()
