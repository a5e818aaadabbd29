"""CPU vs CUDA agreement on a small sweep, and the paper's Boolean grid timed end to end (benchmarks/gpu.sh).

    python benchmarks/gpu.py agree [--devices cpu,cuda] [--epochs 20]   # same masks and counts, accuracies close
    python benchmarks/gpu.py graphs [--device cuda] [--epochs 10] [--size paper]   # eager vs CUDA graphs
    python benchmarks/gpu.py grid [--device cuda] [--sweeps fig3a,fig3c] [--size paper] [--dry]
    python benchmarks/gpu.py grid --preset paper [--device cuda] [--dry]   # every sweep of a report preset

``--dry`` loads the sweeps and prints what would run (configs, models, trials) without training: the check
that runs on a machine without a GPU.

``agree`` trains the fig3c quick grid (9 configs, 3 trials, both splits) at ``--epochs`` + ``--epochs`` epochs
once per device (one batch per device, as the engine plans it) and compares row by row: the non-zero counts
must be equal, the mask measurements (covered, all covered, collisions after A1's pruning) equal on at least
``MASK_AGREEMENT`` of the rows (pruning ranks weights by magnitude, so a near-tie rounded differently on the
two devices may prune another weight), and the accuracies within ``ACC_TOL`` on every row and
``MEAN_ACC_TOL`` on average (float32 on both; Adam normalises tiny gradients, so rounding differences grow
over training). With ``--devices cpu,cpu`` it checks the CPU path against itself (exact).

``graphs`` trains the fig3c grid at ``--size`` (``--epochs`` + ``--epochs`` epochs) on ``--device`` twice, eagerly
and with ``FPE_CUDA_GRAPHS=1``, after a short run that starts CUDA, and prints the wall time of each, the ratio,
the epochs captured and replayed, and the max |difference| of the rows' test accuracies (the graph replays the
eager kernels: expected 0, within ``GRAPH_ACC_TOL``). It then times the per-step cost of a tiny batch (the launch
overhead) and of fig3c's largest shape, eager and graphed, and prints the per-step overhead in FLOP-equivalents
they imply beside ``batch.CUDA_STEP_OVERHEAD_FLOP`` (an estimate until this runs). On a CPU both runs are eager
(graphs are CUDA-only) and the shapes small: the check of this code without a GPU
(``graphs --device cpu --size quick --epochs 1``, tested).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ACC_TOL, MEAN_ACC_TOL, MASK_AGREEMENT = 0.05, 0.01, 0.9
GRAPH_ACC_TOL = 0.01  # eager vs graphed CUDA: the same kernels, so a difference is at most a rounding flip
MASK_FIELDS = ("mask_covered", "mask_all_covered", "mask_collisions")


def _rows(device: str, epochs: int, size: str = "quick") -> tuple[list[dict], float]:
    from fpe_train.engine.batch import batch_jobs
    from fpe_train.engine.run import run_batch
    from fpe_train.sweeps.sweep import find_sweep, load_sweep

    sweep = load_sweep(find_sweep("fig3c"), size, {"warmup_epochs": epochs, "epochs": epochs, "device": device})
    _sync(device)
    t0 = time.perf_counter()
    rows = []
    for batch in batch_jobs([(c, range(c.trials)) for c in sweep.configs], device):
        for (c, _), by_trial in zip(batch, run_batch(batch).rows, strict=True):
            rows += [{**r, "clauses": c.clauses, "r": c.r} for t in sorted(by_trial) for r in by_trial[t]]
    rows.sort(key=lambda r: (r["clauses"], r["r"], r["trial"], r["variant"]))
    _sync(device)
    return rows, time.perf_counter() - t0


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _with_graphs(on: bool):
    """Set FPE_CUDA_GRAPHS for what follows in this process; returns the engine's graph counters."""
    from fpe_train.engine import train

    os.environ[train.GRAPHS_ENV] = "1" if on else "0"
    return train.GRAPH_STATS


def _per_step(device: str, E: int, m: int, h: int, graphs: bool) -> tuple[float, float]:
    """(seconds per step, FLOPs per step) of a one-hidden-layer batch of E models m -> h -> 1, 10,000 rows,
    batch 500, trained through ``train_epochs`` (the warm-up epoch and the capture included, as in a run)."""
    import torch

    from fpe_train.engine.mlp import BatchedMLP
    from fpe_train.engine.train import simple_live_batch, train_epochs

    _with_graphs(graphs)
    g = torch.Generator().manual_seed(0)
    net = BatchedMLP.init(E, [m, h, 1], g, device=device)
    X = (torch.rand(10000, m, generator=g) < 0.5).float().to(device)
    y = (torch.rand(10000, generator=g) < 0.5).float().to(device)
    live = simple_live_batch(net, 1e-3, 1e-7, 1e-5)
    _sync(device)
    t0 = time.perf_counter()
    steps = train_epochs(live, X, y, 10000, 12 if device.startswith("cuda") else 1, 500)
    _sync(device)
    return (time.perf_counter() - t0) / steps, E * 6.0 * 500 * (m * h + h)


def graphs(device: str, epochs: int, size: str) -> int:
    from fpe_train.engine.batch import CUDA_STEP_OVERHEAD_FLOP

    _with_graphs(False)
    _rows(device, 1)  # start CUDA, load cuBLAS: not part of either timing
    got = {}
    for on in (False, True):
        stats = dict(_with_graphs(on))
        rows, wall = _rows(device, epochs, size)
        after = _with_graphs(False)
        got[on] = rows, wall, {k: after[k] - stats[k] for k in stats}
    (a, ta, _), (b, tb, used) = got[False], got[True]
    assert len(a) == len(b), (len(a), len(b))
    diffs = [abs(x["test_accuracy"] - y["test_accuracy"]) for x, y in zip(a, b, strict=True)]
    same = all(x["nonzero_params"] == y["nonzero_params"] for x, y in zip(a, b, strict=True))
    ok = same and max(diffs) <= GRAPH_ACC_TOL and (device == "cpu" or used["failed"] == 0)
    print(
        f"graphs fig3c ({size}, {epochs} + {epochs} epochs, {device}), {len(a)} rows: eager {ta:.2f} s, "
        f"graphs {tb:.2f} s ({ta / tb:.2f}x; epochs captured {used['captured']}, replayed {used['replayed']}, "
        f"failed {used['failed']}); test accuracy |diff| max {max(diffs):.2e} (<= {GRAPH_ACC_TOL}), non-zero "
        f"counts equal: {same}: {'OK' if ok else 'FAIL'}",
        flush=True,
    )
    cuda = device.startswith("cuda")
    # fig3c's largest shape at the split: 5 trials x (dense + 2 splits), m = 128, 2 x 32 (on a CPU a small one)
    E, m, h = (15, 128, 64) if cuda else (2, 32, 16)
    _per_step(device, 1, 16, 4, False)  # first calls of this code path: not timed
    for on in (False, True):
        tiny_s, _ = _per_step(device, 1, 16, 4, on)
        big_s, big_flop = _per_step(device, E, m, h, on)
        head = (
            f"per step ({'graphs' if on else 'eager'}, {device}): tiny batch (1 model, 16 -> 4) {tiny_s * 1e6:.0f} us, "
            f"{E} models {m} -> {h} {big_s * 1e6:.0f} us"
        )
        if big_s <= tiny_s:
            print(f"{head}: the two do not separate, no overhead estimated", flush=True)
            continue
        rate = big_flop / (big_s - tiny_s)
        print(
            f"{head}: {rate / 1e12:.3f} TFLOP/s beyond the overhead, so an overhead of {tiny_s * rate:.2e} "
            f"FLOP-equivalents per step (batch.CUDA_STEP_OVERHEAD_FLOP = {CUDA_STEP_OVERHEAD_FLOP:.0e}, an estimate)",
            flush=True,
        )
    _with_graphs(False)
    return 0 if ok else 1


def agree(devices: list[str], epochs: int) -> int:
    (a, ta), (b, tb) = (_rows(d, epochs) for d in devices)
    assert len(a) == len(b), (len(a), len(b))
    counts = all(x["nonzero_params"] == y["nonzero_params"] for x, y in zip(a, b, strict=True))
    masks = sum(all(x[k] == y[k] for k in MASK_FIELDS) for x, y in zip(a, b, strict=True)) / len(a)
    diffs = [abs(x["test_accuracy"] - y["test_accuracy"]) for x, y in zip(a, b, strict=True)]
    worst, mean = max(diffs), sum(diffs) / len(diffs)
    ok = counts and masks >= MASK_AGREEMENT and worst <= ACC_TOL and mean <= MEAN_ACC_TOL
    verdict = "OK" if ok else "FAIL"
    print(
        f"agree {devices[0]} ({ta:.1f} s) vs {devices[1]} ({tb:.1f} s), {len(a)} rows: non-zero counts equal: "
        f"{counts}; mask measurements equal on {masks:.1%} of rows (>= {MASK_AGREEMENT:.0%}); test accuracy "
        f"|diff| max {worst:.4f} (<= {ACC_TOL}), mean {mean:.4f} (<= {MEAN_ACC_TOL}): {verdict}"
    )
    return 0 if ok else 1


def _sweeps(names: list[str], size: str, preset: str | None, device: str) -> list:
    """The sweeps to time, each config on ``device``: named sweeps at ``size``, or a report preset's."""
    import dataclasses

    from fpe_train.sweeps.sweep import find_sweep, load_sweep

    if preset is None:
        return [load_sweep(find_sweep(name), size, {"device": device}) for name in names]
    from reports.presets import get_preset, load_sweeps

    return [
        dataclasses.replace(s, configs=[dataclasses.replace(c, device=device) for c in s.configs])
        for s in load_sweeps(get_preset(preset))
    ]


def grid(device: str, sweeps: list[str], size: str, preset: str | None = None, dry: bool = False) -> int:
    """``fpe-theory sweep run`` of each sweep into one fresh store, timed (in this process: no import cost)."""
    from fpe_train.sweeps.store import ResultsStore
    from fpe_train.sweeps.sweep import run_sweep

    total = 0.0
    loaded = _sweeps(sweeps, size, preset, device)
    if dry:
        for sweep in loaded:
            models = sum(c.trials * (1 + len(c.splits)) for c in sweep.configs)
            print(
                f"grid {sweep.name} ({sweep.size}, {device}): {len(sweep.configs)} configs, {models} models, "
                f"{sum(c.trials for c in sweep.configs)} trials (dry run: nothing trained)"
            )
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for sweep in loaded:
            name = sweep.name
            with ResultsStore(Path(tmp) / "grid.db") as store:
                t0 = time.perf_counter()
                summary = run_sweep(sweep, store, executor="serial", progress=False, threads=1)
                wall = time.perf_counter() - t0
            total += wall
            models = sum(c.trials * (1 + len(c.splits)) for c in sweep.configs)
            print(
                f"grid {name} ({sweep.size}, {device}): {len(sweep.configs)} configs, {models} models, "
                f"{summary.done} trials done, {summary.failed} failed, {wall:.1f} s",
                flush=True,
            )
    goal_s, goal = (300, "the preset under 5 minutes") if preset else (60, "the paper's Boolean grid under 60 s")
    verdict = "met" if total <= goal_s else "NOT met"
    print(f"grid total {total:.1f} s against the goal of {goal_s} s ({goal} on one H100/H200): {verdict}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("agree", "graphs", "grid"))
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--epochs", type=int, default=None, help="agree: 20 (default), graphs: 10")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sweeps", default="fig3a,fig3c")
    parser.add_argument("--size", default="paper")
    parser.add_argument("--preset", default=None, help="time every sweep of this report preset instead")
    parser.add_argument("--dry", action="store_true", help="load and list the sweeps, train nothing")
    args = parser.parse_args()
    if args.what == "agree":
        return agree(args.devices.split(","), args.epochs or 20)
    if args.what == "graphs":
        return graphs(args.device, args.epochs or 10, args.size)
    return grid(args.device, args.sweeps.split(","), args.size, args.preset, args.dry)


if __name__ == "__main__":
    sys.exit(main())
