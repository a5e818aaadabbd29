"""Monte Carlo estimates of coverage and collisions for every mask family.

``simulate(problem, family, r, trials, seed)`` runs the numba kernels (``kernels.py``; the
bitset path ``bitsets.py`` for partition / independent when k divides 64)
over blocks of ``BLOCK_TRIALS`` trials, each block seeded by its own
``SeedSequence(seed, spawn_key=(block,))``, and reduces the blocks in order: the same
seed gives the same numbers whatever the thread count. ``compare(result, exact)`` puts
them beside ``fpe_theory.exact.family_exact`` with z-scores.

>>> from fpe_theory import Problem
>>> res = simulate(Problem(m=8, k=2, alpha=2), "random", r=1, trials=2000, seed=0)
>>> 0.0 <= res.p_all_covered.estimate <= 1.0
True
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from fpe_theory.families import check_family
from fpe_theory.problem import Problem
from fpe_theory.validate import check_int, check_seconds
from simulations.stats import Estimate, MeanAccumulator, proportion_estimate

BLOCK_TRIALS = 1024  # trials per seed; fixed, so results do not depend on the thread count
CHUNK_BLOCKS = 64  # blocks per kernel call at most (progress granularity); the first calls are smaller
MAX_TRIALS = 1 << 53  # counts stay exact in float64
A_PRIORI_RATE = 4e8  # literal-parents per second per thread assumed before measuring (measured: 1.4e8 .. 8e8)
HIST_BINS = 4096  # collision histogram: exact bins up to this many values, wider bins beyond
QUANTITIES = ("p_all_covered", "expected_covered", "expected_collisions", "neurons_cover_ge1", "neurons_cover_ge2")


@dataclass(frozen=True)
class SimulationResult:
    """Estimates of one (problem, family, r) from ``trials`` Monte Carlo trials.

    ``collision_histogram[i]`` counts trials with collisions in
    ``[i * collision_bin_width, (i + 1) * collision_bin_width)`` (width 1 unless the
    possible range exceeds ``HIST_BINS``); trailing empty bins are dropped.
    """

    problem: Problem
    family: str
    r: int
    trials: int
    seed: int
    p_all_covered: Estimate
    expected_covered: Estimate
    expected_collisions: Estimate
    neurons_cover_ge1: Estimate
    neurons_cover_ge2: Estimate
    collision_histogram: tuple[int, ...]
    collision_bin_width: int
    threads: int = field(compare=False)
    seconds: float = field(compare=False)

    def estimates(self) -> dict[str, Estimate]:
        """Quantity name -> Estimate, in ``QUANTITIES`` order."""
        return {q: getattr(self, q) for q in QUANTITIES}


@dataclass(frozen=True)
class Comparison:
    """One quantity: exact value, Monte Carlo estimate, stderr, z = (estimate - exact) / stderr.

    For the proportion ``p_all_covered`` the stderr is the one under the exact value,
    sqrt(p (1 - p) / n) (a score test), so an estimate of 0 or 1 does not give z = inf.
    ``flag`` is |z| > ``Z_FLAG``.
    """

    quantity: str
    exact: Fraction | None
    estimate: float
    stderr: float
    ci_low: float
    ci_high: float
    z: float | None
    flag: bool


Z_FLAG = 4.0


def simulate(
    problem: Problem,
    family: str,
    r: int,
    trials: int,
    seed: int,
    threads: int | None = None,
    *,
    progress=False,
    max_seconds: float | None = None,
) -> SimulationResult:
    """Sample ``trials`` mask sets of ``family`` (r parents, alpha*r children) and estimate every quantity.

    ``threads``: numba threads (default: all). ``progress``: a tqdm bar on stderr for runs over ~2 s.
    Blocks stream through exact running sums: memory does not grow with ``trials``. ``max_seconds``:
    refuse (ValueError with the estimate) a run estimated to take longer, first from the problem's size,
    then from the rate measured on the first blocks.
    """
    from simulations import kernels  # keeps numba out until used

    problem, family, r, trials, seed = check_args(problem, family, r, trials, seed)
    if max_seconds is not None:
        max_seconds = check_seconds("max_seconds", max_seconds)
    setup = _setup(problem, family, r)
    n_blocks = -(-trials // BLOCK_TRIALS)
    all_covered, means = 0, [MeanAccumulator() for _ in range(kernels.N_MEANS)]
    hist = np.zeros(setup["bins"], np.int64)
    with _threads(threads) as n_threads, _bar(trials, progress) as bar:
        a_priori = problem.m * r / (A_PRIORI_RATE * n_threads)  # seconds per trial, before measuring
        _check_estimate(trials, trials, a_priori, max_seconds, "estimated from m x r")
        _run_blocks(setup, seed, 0, 0, 0)  # compiles (or loads) the kernel outside the timing
        start, lo, size = time.perf_counter(), 0, n_threads
        while lo < n_blocks:
            hi = min(n_blocks, lo + size)
            counts, ints, shifts, sq, block_hist = _run_blocks(setup, seed, lo, hi, trials)
            all_covered += int(ints[:, 0].sum())
            for q in range(kernels.N_MEANS):
                means[q].add(counts, shifts[:, q], ints[:, 1 + q], sq[:, q])
            hist += block_hist  # integer counts: order does not matter
            bar.update(int(counts.sum()))
            lo, size = hi, min(CHUNK_BLOCKS, 2 * size)
            elapsed = time.perf_counter() - start
            left = trials - min(trials, lo * BLOCK_TRIALS)
            if left:
                per_trial = elapsed / (lo * BLOCK_TRIALS)
                how = f"at the measured {1 / per_trial:.3g} trials/s"
                _check_estimate(trials, left, per_trial, max_seconds, how, elapsed)
    seconds = time.perf_counter() - start
    nonzero = np.flatnonzero(hist)
    hist_tuple = tuple(int(x) for x in hist[: nonzero[-1] + 1]) if nonzero.size else ()
    means = [acc.estimate() for acc in means]
    return SimulationResult(
        problem=problem,
        family=family,
        r=r,
        trials=trials,
        seed=seed,
        p_all_covered=proportion_estimate(all_covered, trials),
        expected_covered=means[0],
        expected_collisions=means[1],
        neurons_cover_ge1=means[2],
        neurons_cover_ge2=means[3],
        collision_histogram=hist_tuple,
        collision_bin_width=setup["width"],
        threads=n_threads,
        seconds=seconds,
    )


def _run_blocks(setup: dict, seed: int, lo: int, hi: int, trials: int):
    """Blocks lo..hi-1 through the kernel: (counts, ints, shifts, sq, histogram summed over the blocks).

    ``lo == hi``: one empty block, which only compiles the kernel.
    """
    from simulations import kernels  # keeps numba out until used

    n = max(1, hi - lo)
    counts = np.zeros(n, np.int64)
    if hi > lo:
        counts[:] = np.minimum(BLOCK_TRIALS, trials - BLOCK_TRIALS * np.arange(lo, hi))
    ints = np.zeros((n, 1 + kernels.N_MEANS), np.int64)
    shifts = np.zeros((n, kernels.N_MEANS), np.int64)
    sq = np.zeros((n, kernels.N_MEANS), np.float64)
    block_hist = np.zeros((n, setup["bins"]), np.int64)
    setup["kernel"](*setup["args"], block_seeds(seed, lo, lo + n), counts, setup["width"], ints, shifts, sq, block_hist)
    return counts, ints, shifts, sq, block_hist.sum(axis=0)


def _check_estimate(trials: int, left: int, per_trial: float, max_seconds, how: str, elapsed: float = 0.0) -> None:
    """Raise a one-line ValueError when ``left`` more trials at ``per_trial`` seconds pass ``max_seconds``."""
    if max_seconds is None:
        return
    total = elapsed + left * per_trial
    if total > max_seconds:
        raise ValueError(
            f"trials={trials}: about {total:.3g} s ({how}) > max_seconds={max_seconds:g}; "
            "lower --trials or raise --max-seconds"
        )


def check_args(problem, family, r, trials, seed):
    """Validate the arguments of ``simulate`` (one-line ValueErrors)."""
    if not isinstance(problem, Problem):
        raise ValueError(f"problem={problem!r}: must be a fpe_theory.Problem")
    check_family(problem, family)
    r = check_int("r", r, minimum=1)
    trials = check_int("trials", trials, minimum=1, maximum=MAX_TRIALS)
    seed = check_int("seed", seed, minimum=0)
    if problem.m > 1 << 24:
        raise ValueError(f"m={problem.m}: must be <= 2^24 for the Monte Carlo kernels")
    return problem, family, r, trials, seed


def _setup(problem: Problem, family: str, r: int) -> dict:
    """Kernel and its arguments that depend only on (problem, family, r): the bitset path where it applies."""
    from simulations import bitsets, kernels  # keeps llvmlite, numba out until used

    m, d, alpha, c = problem.m, problem.d, problem.alpha, problem.clauses
    lits, offsets = kernels.flat_clauses(problem.clause_list())
    item_label, ranges = kernels.deal_layout(family, m, d, alpha, c)
    rt, lt = kernels.lane_schedule(ranges)
    per_child = d // problem.k  # a child holds d inputs: at most d/k whole clauses
    max_collisions = alpha * r * math.comb(per_child, 2)
    width = -(-(max_collisions + 1) // HIST_BINS)
    bins = -(-(max_collisions + 1) // width)
    n_free = len(item_label) - len(ranges)
    if bitsets.applies(problem, family):
        args = bitsets.plan_args(problem, family, r)
        return {"kernel": bitsets.run_blocks, "args": args, "width": width, "bins": bins}
    args = (kernels.FAMILY_CODES[family], alpha, r, lits, offsets, item_label, n_free, rt, lt)
    return {"kernel": kernels.run_blocks, "args": args, "width": width, "bins": bins}


def block_seeds(seed: int, lo: int, hi: int) -> np.ndarray:
    """(hi - lo,) uint64: generator state of blocks lo..hi-1, from SeedSequence(seed).spawn."""
    out = np.empty(hi - lo, np.uint64)
    for b in range(lo, hi):
        out[b - lo] = np.random.SeedSequence(seed, spawn_key=(b,)).generate_state(1, np.uint64)[0]
    return out


@contextlib.contextmanager
def _threads(threads: int | None):
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    n = limit if threads is None else check_int("threads", threads, minimum=1, maximum=limit)
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(old)


@contextlib.contextmanager
def _bar(total: int, show: bool):
    from tqdm import tqdm

    with tqdm(total=total, delay=2, file=sys.stderr, disable=not show, unit="trial", unit_scale=True) as bar:
        yield bar


def compare(result: SimulationResult, exact) -> list[Comparison]:
    """Each quantity beside its exact value (a ``FamilyExact``); quantities the theory lacks get exact=None."""
    out = []
    n = result.trials
    for name, est in result.estimates().items():
        value = getattr(exact, name, None)
        if value is None:
            out.append(Comparison(name, None, est.estimate, est.stderr, est.ci_low, est.ci_high, None, False))
            continue
        value = Fraction(value)
        stderr = math.sqrt(float(value * (1 - value)) / n) if name == "p_all_covered" else est.stderr
        z = _z(est.estimate - float(value), stderr)
        out.append(Comparison(name, value, est.estimate, stderr, est.ci_low, est.ci_high, z, abs(z) > Z_FLAG))
    return out


def _z(diff: float, stderr: float) -> float:
    if not math.isfinite(stderr):
        return float("nan")
    if stderr == 0.0:
        return 0.0 if abs(diff) < 1e-9 else math.copysign(math.inf, diff)
    return diff / stderr
