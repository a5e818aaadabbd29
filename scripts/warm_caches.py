"""Compile, once per machine, the numba functions a first report would otherwise compile while it runs: the
compiled deep epoch (``fpe_train/engine/deep.py``) and the Monte Carlo kernels of every mask family
(``simulations``). numba keeps them in its on-disk cache (``cache=True``), where every later process loads
them in a second or two; ``scripts/setup.sh`` runs this after prebuilding the CPU kernel. MNIST-1D is drawn
once into the data cache (``fpe_train.engine.datasets.cache_dir``).

    .venv/bin/python scripts/warm_caches.py
"""

from __future__ import annotations

import time

from fpe_theory import Problem
from fpe_theory.families import FAMILIES
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.datasets import load_dataset
from fpe_train.engine.run import run_batch
from simulations import simulate


def main() -> None:
    t0 = time.perf_counter()
    deep = TrainConfig(
        task="digits", splits=("random",), depth=2, r=4, trials=1, warmup_epochs=1, epochs=1, n_train=200, n_test=50
    )
    run_batch([(deep, range(1))])  # the deep epoch and its forward pass for accuracies
    t1 = time.perf_counter()
    for family in FAMILIES:
        try:
            simulate(Problem(m=8, k=2, alpha=2), family, r=2, trials=64, seed=0, threads=1)
        except ValueError:  # a family undefined for this small problem: compiled by its first real use
            pass
    t2 = time.perf_counter()
    load_dataset(TrainConfig(task="mnist1d", splits=("random",), n_train=100, n_test=50))  # drawn once, then kept
    print(
        f"numba caches warm: deep epoch {t1 - t0:.1f} s, Monte Carlo {t2 - t1:.1f} s; "
        f"MNIST-1D in the data cache {time.perf_counter() - t2:.1f} s"
    )


if __name__ == "__main__":
    main()
