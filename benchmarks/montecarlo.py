"""Monte Carlo speed: the numba engine (2 threads and 1) beside the plain numpy oracle.

Reference point: m=128, k=4, alpha=4, r=8, family random (partition); target >= 1,000,000
trials/s on 2 cores and >= 60x the numpy oracle. JIT compilation happens before the
timed region (and is cached on disk across runs). Prints one table; asserts nothing.

    python benchmarks/montecarlo.py [--trials 4000000] [--oracle-trials 20000]
"""

from __future__ import annotations

import argparse
import os
import time

from fpe_theory import Problem
from simulations.montecarlo import simulate
from simulations.oracle import simulate_numpy

TARGET_RATE, TARGET_SPEEDUP = 1_000_000, 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4_000_000)
    parser.add_argument("--oracle-trials", type=int, default=20_000)
    parser.add_argument("--family", default="random")
    args = parser.parse_args()
    problem, r, family = Problem(m=128, k=4, alpha=4), 8, args.family

    start = time.perf_counter()
    simulate(problem, family, r, trials=2048, seed=0)  # compile (or load the cache) outside the timed runs
    compile_s = time.perf_counter() - start
    rates, cpu_rates = {}, {}
    for threads in (2, 1):
        cpu = time.process_time()
        res = simulate(problem, family, r, trials=args.trials, seed=1, threads=threads)
        rates[threads] = res.trials / res.seconds
        cpu_rates[threads] = res.trials / (time.process_time() - cpu)
    start, cpu = time.perf_counter(), time.process_time()
    simulate_numpy(problem, family, r, trials=args.oracle_trials, seed=1)
    oracle = args.oracle_trials / (time.perf_counter() - start)
    oracle_cpu = args.oracle_trials / (time.process_time() - cpu)

    print(f"Monte Carlo benchmark: m=128 k=4 alpha=4 r=8 family={family}; load average {os.getloadavg()[0]:.2f}")
    print(f"  compile / cache load          {compile_s:10.2f} s")
    print(f"  {'engine':28s} {'trials/s':>12s} {'vs numpy':>10s}   target")
    target = f">= {TARGET_RATE:,} and >= {TARGET_SPEEDUP}x"
    print(f"  {'numba, 2 threads':28s} {rates[2]:12,.0f} {rates[2] / oracle:9.1f}x   {target}")
    print(f"  {'numba, 1 thread':28s} {rates[1]:12,.0f} {rates[1] / oracle:9.1f}x")
    print(f"  {'numpy oracle (reference)':28s} {oracle:12,.0f} {1.0:9.1f}x")
    print(f"  per CPU-second (robust to a shared machine): numba {cpu_rates[1]:,.0f} trials/s, numpy {oracle_cpu:,.0f}")
    speedup = cpu_rates[1] / oracle_cpu
    print(f"  -> speedup per core {speedup:.1f}x; 2 idle cores would give ~{2 * cpu_rates[1]:,.0f} trials/s")
    met = rates[2] >= TARGET_RATE and rates[2] / oracle >= TARGET_SPEEDUP
    print(f"  target {'met' if met else 'NOT met'} on this run")


if __name__ == "__main__":
    main()
