"""Speed of the batched engine vs a paper-style loop (one torch.nn model at a time, DataLoader, batch 500).

Cases, all in one run (ratios are only comparable within a run), one thread unless ``--threads``:

- ``loop``: the paper's A3 loop, a fresh nn.Sequential + Adam per model (section 3.1 case study: 8 clauses
  of 4 literals, m = 32, r = 8, 10,000 samples): the reference, model-epochs per second;
- ``dense`` / ``masked``: E models of r = 8 (dense) or 16 neurons with half of W1 masked off (FPE alpha = 2),
  each model its own minibatches (the engine); target >= 150x the loop at E >= 256;
- ``before``: the same batches with the engine of commit ``BEFORE`` (all models one shared batch order),
  loaded from git: the cost (or gain) of independent trials, before/after;
- ``mixed``: the fig3c grid (36 configs, 5 trials, both splits) at 2 + 2 epochs, config by config
  (``run_config``) vs the engine's batches (``plan_batches``) vs one batch; target >= 10x;
- ``sweep``: the 9-config sweep (clauses 4/8/16 x r 4/8/16, random + clause, 3 trials, 20 + 20 epochs,
  2,000 samples) through ``fpe-theory sweep run`` in a subprocess (process start, data, metrics, store),
  beside the loop's time for the same model-epochs (dense 40 epochs, each FPE model 20; the loop timed at
  2,000 samples); target >= 30x.

Figures are per wall second and per CPU second of this process (on a shared machine the CPU-second figure
with one thread is the better estimate of an idle core).

    python benchmarks/training.py [--device cpu|cuda|auto] [--threads 1] [--sizes 256,1024] [--skip before]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from fpe_train.engine.batched import BatchedMLP
from fpe_train.engine.data import boolean_data
from fpe_train.engine.run import resolve_device
from fpe_train.engine.train import simple_group, train_epochs

M, K, R, N_TRAIN, BATCH, LR, L1, L2 = 32, 4, 8, 10_000, 500, 1e-3, 1e-7, 1e-5
BEFORE = "c70641e"  # the engine before independent trials and cross-config batches
ROOT = Path(__file__).resolve().parents[1]
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
device = "{device}"
[grid]
clauses = [4, 8, 16]
r = [4, 8, 16]
"""


def _data(device, n=N_TRAIN):
    d = boolean_data(n, M, K, seed=0)
    return torch.as_tensor(d.X, device=device), torch.as_tensor(d.y, device=device)


def _timed(fn, device) -> tuple[float, float]:
    """(wall, CPU) seconds of fn()."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, time.process_time() - c0


def _net(E, width, masked, device):
    g = torch.Generator().manual_seed(0)
    net = BatchedMLP.init(E, [M, width, 1], g, device=device)
    if masked:
        net.masks[0] = (torch.rand(net.masks[0].shape, generator=g) < 0.5).to(device)
        with torch.no_grad():
            net.weights[0].mul_(net.masks[0])
    return net


def batched_rate(E, seconds, device, width=R, masked=False) -> tuple[float, float]:
    """Model-epochs/s (wall, CPU) of E models of the engine, each with its own minibatches."""
    X, y = _data(device)
    group = simple_group(_net(E, width, masked, device), LR, L1, L2)
    train_epochs(group, X, y, N_TRAIN, 1, BATCH)  # untimed: allocations, first kernels
    epochs = max(2, int(seconds / max(1e-3, _timed(lambda: train_epochs(group, X, y, N_TRAIN, 1, BATCH), device)[0])))
    wall, cpu = _timed(lambda: train_epochs(group, X, y, N_TRAIN, epochs, BATCH), device)
    return E * epochs / wall, E * epochs / cpu


def _before_modules():
    """The engine of commit BEFORE (batched.py, train.py) as modules, or None where git cannot show it."""
    tmp = Path(tempfile.mkdtemp(prefix="fpe-before-"))
    try:
        for name in ("batched", "train"):
            text = subprocess.run(["git", "show", f"{BEFORE}:fpe_train/engine/{name}.py"], cwd=ROOT, check=True,
                                  capture_output=True, text=True).stdout  # fmt: skip
            (tmp / f"before_{name}.py").write_text(text.replace("fpe_train.engine.batched", "before_batched"))
    except (OSError, subprocess.CalledProcessError):
        return None
    mods = []
    for name in ("batched", "train"):
        spec = importlib.util.spec_from_file_location(f"before_{name}", tmp / f"before_{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods


def before_rate(mods, E, seconds, device, width=R, masked=False) -> tuple[float, float]:
    """Model-epochs/s of the engine before independent trials: one shared batch order for all E models."""
    old_batched, old_train = mods
    X, y = _data(device)
    g = torch.Generator().manual_seed(0)
    net = old_batched.BatchedMLP.init(E, [M, width, 1], g, device=device)
    if masked:
        net.masks[0] = (torch.rand(net.masks[0].shape, generator=g) < 0.5).to(device)
    group = old_train.Group(net, [("dense", e) for e in range(E)], LR)
    settings = old_train.LoopSettings(BATCH, L1, L2, torch.Generator().manual_seed(1))
    old_train.train_epochs([group], X, y, 1, settings)
    one = _timed(lambda: old_train.train_epochs([group], X, y, 1, settings), device)[0]
    epochs = max(2, int(seconds / max(1e-3, one)))
    wall, cpu = _timed(lambda: old_train.train_epochs([group], X, y, epochs, settings), device)
    return E * epochs / wall, E * epochs / cpu


def loop_rate(models: int, epochs: int, device, n=N_TRAIN) -> tuple[float, float]:
    """Model-epochs/s of the paper's A3 loop: a fresh nn.Sequential, Adam, DataLoader(batch 500, shuffle)."""
    X, y = _data(device, n)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=BATCH, shuffle=True)
    _loop_models(1, 1, loader, device)  # untimed: first-use costs (Adam's lazy imports, allocator)
    wall, cpu = _timed(lambda: _loop_models(models, epochs, loader, device), device)
    return models * epochs / wall, models * epochs / cpu


def _loop_models(models: int, epochs: int, loader, device) -> None:
    for _ in range(models):
        model = nn.Sequential(nn.Linear(M, R), nn.ReLU(), nn.Linear(R, 1)).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                loss = nn.functional.binary_cross_entropy_with_logits(model(xb)[:, 0], yb)
                loss = loss + L1 * model[0].weight.abs().sum() + L2 * sum((p**2).sum() for p in model.parameters())
                loss.backward()
                opt.step()


def mixed_case(device) -> dict[str, float]:
    """Wall seconds of the fig3c grid at 2 + 2 epochs: config by config, the engine's batches, one batch."""
    from fpe_train.engine.batch import plan_batches
    from fpe_train.engine.run import run_batch, run_config
    from fpe_train.sweeps.sweep import find_sweep, load_sweep

    sweep = load_sweep(find_sweep("fig3c"), "paper", {"warmup_epochs": 2, "epochs": 2, "device": device.type})
    items = [(c, range(c.trials)) for c in sweep.configs]
    out = {"configs": len(items), "models": sum(c.trials * (1 + len(c.splits)) for c in sweep.configs)}
    out["config by config"] = _timed(lambda: [run_config(c) for c in sweep.configs], device)[0]
    batches = plan_batches(items, device.type)
    out["batches"] = len(batches)
    out["engine batches"] = _timed(lambda: [run_batch(b) for b in batches], device)[0]
    out["one batch"] = _timed(lambda: run_batch(items), device)[0]
    return out


def sweep_case(device, threads: int) -> float:
    """Wall seconds of ``fpe-theory sweep run`` on the 9-config sweep, in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench9.toml"
        path.write_text(SWEEP9.format(device=device.type))
        cmd = [sys.executable, "-m", "cli", "sweep", "run", str(path), "--store", str(Path(tmp) / "r.db"),
               "--executor", "serial", "--threads", str(threads), "--no-progress"]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default="256,1024")
    parser.add_argument("--seconds", type=float, default=3.0, help="rough time per measurement")
    parser.add_argument("--skip", default="", help="comma list of cases to skip: before,mixed,sweep,threads")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device={device.type} threads={torch.get_num_threads()} m={M} r={R} n_train={N_TRAIN} batch={BATCH}")
    loop, loop_cpu = loop_rate(models=2, epochs=5, device=device)
    print(f"loop    paper-style (one nn.Sequential at a time, DataLoader): {loop:8.1f} model-epochs/s wall, "
          f"{loop_cpu:8.1f} per CPU second")  # fmt: skip
    mods = None if "before" in skip else _before_modules()
    for E in [int(s) for s in args.sizes.split(",")]:
        for label, width, masked in (("dense   r=8", R, False), ("masked  FPE alpha=2 (16, half W1)", 2 * R, True)):
            rate, rate_cpu = batched_rate(E, args.seconds, device, width, masked)
            line = (f"E={E:5d} {label:34s}: {rate:8.1f} model-epochs/s = {rate / loop:6.1f}x the loop; "
                    f"per CPU s {rate_cpu:8.1f} = {rate_cpu / loop_cpu:6.1f}x (target >= 150x)")  # fmt: skip
            if mods is not None:
                old, old_cpu = before_rate(mods, E, args.seconds, device, width, masked)
                line += f"; before (shared order) {old:8.1f} = {old / loop:6.1f}x, independent/before {rate / old:.2f}"
            print(line, flush=True)
    if "threads" not in skip and device.type == "cpu" and args.threads == 1:
        torch.set_num_threads(2)
        rate2 = batched_rate(int(args.sizes.split(",")[-1]), args.seconds, device, 2 * R, True)[0]
        torch.set_num_threads(1)
        print(f"threads 2 instead of 1, masked, largest E: {rate2:8.1f} model-epochs/s = {rate2 / loop:6.1f}x")
    if "mixed" not in skip:
        mx = mixed_case(device)
        ref = mx["config by config"]
        print(f"mixed   fig3c grid, {mx['configs']} configs, {mx['models']} models, 2+2 epochs: config by config "
              f"{ref:6.2f} s; engine batches ({mx['batches']}) {mx['engine batches']:6.2f} s = "
              f"{ref / mx['engine batches']:5.1f}x; one batch {mx['one batch']:6.2f} s = "
              f"{ref / mx['one batch']:5.1f}x (target >= 10x)")  # fmt: skip
    if "sweep" not in skip:
        wall = sweep_case(device, args.threads)
        model_epochs = 9 * 3 * (40 + 2 * 20)
        rate2k = loop_rate(models=3, epochs=10, device=device, n=2000)[0]
        print(f"sweep   9 configs through `fpe-theory sweep run` (end to end): {wall:6.2f} s; the loop would take "
              f"{model_epochs / rate2k:6.1f} s ({model_epochs} model-epochs at {rate2k:.1f}/s) = "
              f"{model_epochs / rate2k / wall:5.1f}x (target >= 30x)")  # fmt: skip


if __name__ == "__main__":
    main()
