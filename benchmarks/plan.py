"""How steady the plan's ETA is: N calibrations in a row (each timed afresh), the ETA of one sweep from each,
its spread beside the goal, the load seen, and every FLOP rate beside its GEMM peak.

Goals: the ETAs of five plans in a row within +-10 % of their mean on an idle machine, +-25 % while other
jobs start and stop; no rate above the peak. Run it idle, and again with other work on the machine.

    python benchmarks/plan.py [--sweep fig3c] [--size paper] [--runs 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics

from fpe_train.sweeps import calibrate as C
from fpe_train.sweeps.eta import duration, sweep_eta
from fpe_train.sweeps.plan import plan_sweep
from fpe_train.sweeps.sweep import find_sweep, load_sweep


def _rates(cal) -> list[float]:
    """Every FLOP rate of the calibration (each path's FLOP terms)."""
    return [cal.flop_rate(p, t) for p, coef in cal.coefficients.items() for t in C.FLOP_TERMS if t in coef]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", default="fig3c")
    ap.add_argument("--size", default="paper")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    plan = plan_sweep(load_sweep(find_sweep(args.sweep), args.size), "cpu", args.workers)
    etas = []
    for i in range(args.runs):
        cal = C.calibrate("cpu", 1, fresh=True)
        etas.append(sweep_eta(plan, cal, args.workers))
        peak = cal.peak_flop_rate * cal.threads
        print(
            f"run {i + 1}: ETA {duration(etas[-1]):>12}   kernel rate {cal.flop_rate() / 1e9:6.1f} GFLOP/s; every "
            f"rate <= peak {peak / 1e9:6.1f}: {max(_rates(cal)) <= peak * (1 + 1e-12)}   "
            f"load {cal.load[0]:.1f} -> {cal.load[1]:.1f}   "
            f"calibration {cal.seconds:.1f} s",
            flush=True,
        )
    mean = statistics.fmean(etas)
    lo, hi = (min(etas) / mean - 1) * 100, (max(etas) / mean - 1) * 100
    goal = "goal: within +-10 % idle, +-25 % under changing load"
    print(
        f"{args.sweep} ({args.size}, {args.workers} workers): mean {duration(mean)}, "
        f"spread {lo:+.1f} % .. {hi:+.1f} % ({goal}); load now {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
