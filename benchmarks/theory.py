"""Speed of the exact theory, printed beside its targets. Not asserted: timings are noisy.

Run: python benchmarks/theory.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpe_theory import Problem, subsets  # noqa: E402
from fpe_theory.exact import family_exact, r_min, r_min_bounds  # noqa: E402


def best_of(fn, repeat: int = 3) -> tuple[float, float]:
    """Best (wall, CPU) seconds over ``repeat`` runs; CPU time is less sensitive to a loaded machine."""
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def cold(family: str, m: int, k: int, alpha: int, r: int):
    """Law built from scratch (caches cleared) + exact P(all covered)."""

    def run():
        subsets.independent_law.cache_clear()
        subsets.partition_law.cache_clear()
        return family_exact(Problem(m=m, k=k, alpha=alpha), family, r).p_all_covered

    return run


def report(label: str, seconds: tuple[float, float], target: float | None) -> None:
    wall, cpu = seconds
    verdict = "" if target is None else f"target < {target:g} s  {'OK' if wall < target else 'SLOWER'} (wall)"
    print(f"{label:64s} wall {wall:7.3f} s  cpu {cpu:7.3f} s   {verdict}")


def main() -> None:
    cmd = [sys.executable, str(ROOT / "cli.py"), *"coverage --m 128 --k 4 --alpha 4 --r 8 --json".split()]
    report(
        "CLI: coverage --m 128 --k 4 --alpha 4 --r 8 --json (subprocess)",
        best_of(lambda: subprocess.run(cmd, check=True, capture_output=True)),
        0.5,
    )
    for family in ("overlap", "random"):
        report(
            f"exact P(all covered) m=1024 k=4 alpha=4 r=64 {family} (cold)", best_of(cold(family, 1024, 4, 4, 64)), 1.0
        )
    for family in ("overlap", "random"):
        for r in (8, 16):
            report(
                f"exact P(all covered) m=4096 k=4 alpha=4 r={r} {family} (cold)",
                best_of(cold(family, 4096, 4, 4, r), repeat=1),
                5.0,
            )
    for family in ("overlap", "random"):
        report(
            f"r_min m=128 k=4 alpha=4 eps=0.01 {family}",
            best_of(lambda f=family: r_min(Problem(m=128, k=4, alpha=4), f, 0.01)),
            None,
        )

    for family in ("overlap", "random"):
        report(
            f"r_min_bounds m=4096 k=4 alpha=4 eps=0.01 {family} (law cached)",
            best_of(lambda f=family: r_min_bounds(Problem(m=4096, k=4, alpha=4), f, 0.01), repeat=1),
            None,
        )


if __name__ == "__main__":
    main()
