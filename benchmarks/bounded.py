"""How long the bounded answers and the refusals take, printed beside their targets. Not asserted: timings are
noisy. The tests check what each answer says (tests/fpe_theory/test_theory_bounded.py,
tests/simulations/test_sim_bounded.py, tests/cli/test_cli_reliability_inputs.py,
tests/fpe_train/sweeps/test_executors_reliability.py); this script says how soon it comes.

Run: python benchmarks/bounded.py
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

import cli  # noqa: E402


def timed_cli(*args) -> tuple[float, int, str]:
    """Seconds, exit code and first stderr line of ``fpe-theory args`` run in-process."""
    start = time.perf_counter()
    res = CliRunner().invoke(cli.main, [str(a) for a in args])
    first = (res.stderr.strip().splitlines() or [""])[0]
    return time.perf_counter() - start, res.exit_code, first


CLI_CASES = (
    ("coverage at m = 10^6 answers", ("coverage", "--m", 1_000_000, "--k", 4, "--alpha", 4, "--r", 8, "--json"), 10),
    (
        "coverage at r = 10^12 (union bound from logarithms)",
        ("coverage", "--r", 10**12, "--family", "partition", "--json"),
        10,
    ),
    ("coverage at eps = 1e-300 answers", ("coverage", "--r", 8, "--eps", "1e-300", "--json"), 10),
    ("coverage with k = 2^20 refused", ("coverage", "--m", 2**22, "--k", 2**20, "--alpha", 2, "--r", 1), 5),
    ("simulate --trials 10^12 refused", ("simulate", "--trials", 10**12, "--family", "random", "--no-progress"), 10),
    ("simulate --trials 10^30 refused", ("simulate", "--trials", 10**30, "--family", "random", "--no-progress"), 10),
    ("train --neurons 10^12 refused", ("train", "--neurons", 10**12, "--epochs", 1, "--warmup-epochs", 1), 10),
)


def measured_rate_refusal() -> float:
    """simulate() with max_seconds=0.5 and the a-priori estimate out of the way: the measured rate stops it."""
    import simulations.montecarlo
    from fpe_theory import Problem
    from simulations import simulate

    simulations.montecarlo.A_PRIORI_RATE = 1e30
    start = time.perf_counter()
    try:
        simulate(Problem(m=128, k=4, alpha=4), "random", 8, 10**7, 0, max_seconds=0.5)
    except ValueError:
        pass
    return time.perf_counter() - start


def dask_closed_port() -> float | None:
    """make_executor('dask') on a port nobody listens on, connect_timeout=2; None without Dask."""
    try:
        from fpe_train.sweeps.executors import make_executor
    except ImportError:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    try:
        make_executor("dask", scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=2)
    except (ValueError, ImportError):
        pass
    return time.perf_counter() - start


def main() -> None:
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for what, args, target in CLI_CASES:
        seconds, code, first = timed_cli(*args)
        print(f"{what:55s} {seconds:7.2f} s  (target < {target} s; exit {code}) {first[:60]}")
    print(
        f"{'simulate(max_seconds=0.5) stopped by the measured rate':55s} {measured_rate_refusal():7.2f} s  "
        "(target < 5 s)"
    )
    dask = dask_closed_port()
    shown = "not installed" if dask is None else f"{dask:7.2f} s"
    print(f"{'dask scheduler on a closed port, connect_timeout=2':55s} {shown}  (target < 20 s)")


if __name__ == "__main__":
    main()
