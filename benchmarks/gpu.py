"""CPU vs CUDA agreement on a small sweep, and the paper's Boolean grid timed end to end (benchmarks/gpu.sh).

    python benchmarks/gpu.py agree [--devices cpu,cuda] [--epochs 20]   # same masks and counts, accuracies close
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
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ACC_TOL, MEAN_ACC_TOL, MASK_AGREEMENT = 0.05, 0.01, 0.9
MASK_FIELDS = ("mask_covered", "mask_all_covered", "mask_collisions")


def _rows(device: str, epochs: int) -> tuple[list[dict], float]:
    from fpe_train.engine.batch import batch_jobs
    from fpe_train.engine.run import run_batch
    from fpe_train.sweeps.sweep import find_sweep, load_sweep

    sweep = load_sweep(find_sweep("fig3c"), "quick", {"warmup_epochs": epochs, "epochs": epochs, "device": device})
    t0 = time.perf_counter()
    rows = []
    for batch in batch_jobs([(c, range(c.trials)) for c in sweep.configs], device):
        for (c, _), by_trial in zip(batch, run_batch(batch).rows, strict=True):
            rows += [{**r, "clauses": c.clauses, "r": c.r} for t in sorted(by_trial) for r in by_trial[t]]
    rows.sort(key=lambda r: (r["clauses"], r["r"], r["trial"], r["variant"]))
    return rows, time.perf_counter() - t0


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
    goal = "the preset under 5 minutes" if preset else "the paper's Boolean grid under 60 s"
    print(f"grid total {total:.1f} s (goal: {goal} on one H100/H200)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("agree", "grid"))
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sweeps", default="fig3a,fig3c")
    parser.add_argument("--size", default="paper")
    parser.add_argument("--preset", default=None, help="time every sweep of this report preset instead")
    parser.add_argument("--dry", action="store_true", help="load and list the sweeps, train nothing")
    args = parser.parse_args()
    if args.what == "agree":
        return agree(args.devices.split(","), args.epochs)
    return grid(args.device, args.sweeps.split(","), args.size, args.preset, args.dry)


if __name__ == "__main__":
    sys.exit(main())
