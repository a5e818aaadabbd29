"""Speed of the batched engine vs a paper-style loop (one torch.nn model at a time, DataLoader, batch 500).

Task: the section 3.1 case study, 8 clauses of 4 literals (m = 32), r = 8 neurons, 10,000 training samples.
Figure: model-epochs per second (models trained x epochs / wall seconds). Target on 2 CPU cores: batched
>= 50x the loop (>= 1,500 model-epochs/s; the loop manages about 30).

    python benchmarks/training.py [--device cpu|cuda|auto] [--threads 2] [--sizes 64,256,1024]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from fpe_train.engine.batched import BatchedMLP
from fpe_train.engine.data import boolean_data
from fpe_train.engine.run import resolve_device
from fpe_train.engine.train import Group, LoopSettings, train_epochs

M, K, R, N_TRAIN, BATCH, LR, L1, L2 = 32, 4, 8, 10_000, 500, 1e-3, 1e-7, 1e-5


def _data(device):
    d = boolean_data(N_TRAIN, M, K, seed=0)
    return torch.as_tensor(d.X, device=device), torch.as_tensor(d.y, device=device)


def batched_rate(E: int, epochs: int, device, width: int = R, masked: bool = False) -> tuple[float, float]:
    """Model-epochs/s of E models (width neurons; masked: half of W1 masked off, as FPE alpha=2).

    Returns (per wall second, per CPU second of this process); on a shared machine the CPU-second figure
    with one thread is the better estimate of an idle core.
    """
    X, y = _data(device)
    g = torch.Generator().manual_seed(0)
    net = BatchedMLP.init(E, [M, width, 1], g, device=device)
    if masked:
        net.masks[0] = (torch.rand(net.masks[0].shape, generator=g) < 0.5).to(device)
    group = Group(net, [("dense", e) for e in range(E)], LR)
    settings = LoopSettings(BATCH, L1, L2, torch.Generator().manual_seed(1))
    train_epochs([group], X, y, 1, settings)  # warm-up (allocations, kernels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    train_epochs([group], X, y, epochs, settings)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return E * epochs / (time.perf_counter() - t0), E * epochs / (time.process_time() - c0)


def loop_rate(models: int, epochs: int, device) -> tuple[float, float]:
    """Model-epochs/s of the paper's A3 loop: a fresh nn.Sequential, Adam, DataLoader(batch 500, shuffle)."""
    X, y = _data(device)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=BATCH, shuffle=True)
    _loop_models(1, 1, loader, device)  # untimed: first-use costs (Adam's lazy imports, allocator)
    t0, c0 = time.perf_counter(), time.process_time()
    _loop_models(models, epochs, loader, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return models * epochs / (time.perf_counter() - t0), models * epochs / (time.process_time() - c0)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="64,256,1024")
    parser.add_argument("--seconds", type=float, default=4.0, help="rough time per measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device={device.type} threads={torch.get_num_threads()} m={M} r={R} n_train={N_TRAIN} batch={BATCH}")
    loop, loop_cpu = loop_rate(models=2, epochs=10, device=device)
    print(f"paper-style loop (one nn.Sequential at a time, DataLoader): {loop:8.1f} model-epochs/s wall, "
          f"{loop_cpu:8.1f} per CPU second")  # fmt: skip
    best = best_cpu = 0.0
    for E in [int(s) for s in args.sizes.split(",")]:
        for label, width, masked in (("dense r=8", R, False), ("FPE alpha=2 (16 neurons, masked)", 2 * R, True)):
            probe = batched_rate(E, 1, device, width, masked)[0]
            epochs = max(2, int(args.seconds * probe / E))
            rate, rate_cpu = batched_rate(E, epochs, device, width, masked)
            best, best_cpu = max(best, rate), max(best_cpu, rate_cpu)
            print(f"batched E={E:5d} {label:34s}: {rate:9.1f} model-epochs/s wall = {rate / loop:6.1f}x the loop; "
                  f"{rate_cpu:9.1f} per CPU second = {rate_cpu / loop_cpu:6.1f}x")  # fmt: skip
    print(f"best batched / loop: {best / loop:.1f}x wall, {best_cpu / loop_cpu:.1f}x per CPU second "
          "(target >= 50x; >= 1,500 model-epochs/s on 2 CPU cores)")  # fmt: skip


if __name__ == "__main__":
    main()
